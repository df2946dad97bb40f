"""Retries that overlap their original: the first attempt is still in flight at the sandbox,
its caller cut off, when the SDK's retry (the same Idempotency-Key) gets there. Still one object
per call, and no error for the caller, through the library and through the HTTP API.

At Stripe a request whose key is in use by one still in flight is refused with a 409
`idempotency_key_in_use` (https://docs.stripe.com/api/idempotent_requests, and
https://docs.stripe.com/error-codes#idempotency-key-in-use), which the SDK retries
(`stripe/_http_client.py`, `_should_retry`); the sandbox does the same. A sandbox that ran the
retry and replayed its object to the original would be accepted too (`assert_overlapped`); each
test prints how many calls went each way (`pytest -rP` shows it).

Each test runs against its own sandbox behind the fault-injecting proxy, which has the sandbox
hold each first attempt in flight, its key in use, until its retry has been answered
(`Fault.overlap`).
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

import payflow
from payflow_sandbox import Sandbox
from tests.reliability.faultproxy import FaultProxy
from tests.reliability.six_steps import (
    CUSTOMER,
    STEPS,
    Step,
    assert_made_once,
    assert_overlapped,
    sync_customers,
)

OVERLAPS = 100


@pytest.mark.parametrize("step", STEPS, ids=lambda step: step.name)
async def test_a_retry_overlapping_its_original_makes_one_object(
    step: Step,
    gw: payflow.Gateway,
    proxy: FaultProxy,
    sandbox_alone: Sandbox,
) -> None:
    """100 concurrent calls of a step, each retried while its first attempt is still in flight at
    the sandbox: each returns the one object made."""
    trials = await step.prepare(gw, OVERLAPS)
    proxy.overlap_first_attempts(step.path)

    made = await asyncio.gather(*(step.library(gw, trial) for trial in trials))

    print(step.name, dict(assert_overlapped(step, made, proxy)))
    assert_made_once(step, trials, made, sandbox_alone)


@pytest.mark.parametrize("step", STEPS, ids=lambda step: step.name)
async def test_a_retry_overlapping_its_original_behind_any_route_is_a_200(
    step: Step,
    gw: payflow.Gateway,
    api_client: httpx.AsyncClient,
    proxy: FaultProxy,
    sandbox_alone: Sandbox,
) -> None:
    """100 concurrent requests to a route, each of whose Stripe calls is retried while its first
    attempt is still in flight at the sandbox: each client gets a 200 with the one object made."""
    trials = await step.prepare(gw, OVERLAPS)
    proxy.overlap_first_attempts(step.path)

    made = await asyncio.gather(*(step.http(api_client, trial) for trial in trials))

    print(step.name, dict(assert_overlapped(step, made, proxy)))
    assert_made_once(step, trials, made, sandbox_alone)


def test_a_retry_overlapping_its_original_in_a_sync_call_makes_one_object(
    proxy: FaultProxy, sandbox_alone: Sandbox
) -> None:
    """The sync twin too: 100 customers created from 20 threads, each retried while its first
    attempt is still in flight."""
    proxy.overlap_first_attempts(CUSTOMER.path)
    trials, made = sync_customers(proxy.url, OVERLAPS)

    print("sync create_customer", dict(assert_overlapped(CUSTOMER, made, proxy)))
    assert_made_once(CUSTOMER, trials, made, sandbox_alone)
