"""Lost answers between the HTTP API's gateway and Stripe, behind each of the six routes: the
client never sees an error, and each request makes one object.

The app runs in process (httpx's ASGITransport); its gateway retries (2, the default) through
the fault-injecting proxy to a sandbox of the test's own, so the sandbox's object counts belong
to the test alone. The clients send no Idempotency-Key: the SDK's own key makes its retry safe.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

import payflow
from payflow_sandbox import Sandbox
from tests.reliability.faultproxy import FaultProxy
from tests.reliability.six_steps import STEPS, Step, assert_lost_then_replayed, assert_made_once

TRIALS = 100


@pytest.mark.parametrize("step", STEPS, ids=lambda step: step.name)
async def test_a_lost_answer_behind_any_route_is_a_200_with_the_one_object_made(
    step: Step,
    gw: payflow.Gateway,
    api_client: httpx.AsyncClient,
    proxy: FaultProxy,
    sandbox_alone: Sandbox,
) -> None:
    """100 concurrent requests to a route whose first answer from Stripe is lost after the
    sandbox acted: each client gets a 200 with the object made, and no object is made twice."""
    trials = await step.prepare(gw, TRIALS)
    proxy.lose_first_responses(step.path)

    made = await asyncio.gather(*(step.http(api_client, trial) for trial in trials))

    assert_lost_then_replayed(step, made, proxy)
    assert_made_once(step, trials, made, sandbox_alone)
