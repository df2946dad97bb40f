"""Exactly once across processes: `payflow serve` processes sharing one store, on SQLite (one
file) and on PostgreSQL (a real server the suite starts), receiving what Stripe sends (each
event at least once, in any order, some at the same moment) and retrying, as Stripe does, each
delivery not answered with a 2xx.

The handler (tests/payflow_asgi/recording_handlers.py) writes each call as a row of a table in
the same database: the rows are the judge, not payflow's own records.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import random
import signal
import time
from collections.abc import Iterator

import httpx
import pytest

from payflow_sandbox import Sandbox
from tests.payflow.test_webhooks import sign
from tests.payflow_asgi import recording_handlers
from tests.payflow_asgi.asgi_support import API_KEY, start_serve, stop_serve, wait_until_serving

SECRET = "whsec_processes"
EVENTS = 200
COPIES = 5
AT_ONCE = 50
DELIVERY_DEADLINE = 120.0


def serve_env(sandbox: Sandbox, store_url: str, **more: str) -> dict[str, str]:
    return {
        **os.environ,
        "STRIPE_SECRET_KEY": API_KEY,
        "STRIPE_API_BASE": sandbox.url,
        "STRIPE_WEBHOOK_SECRET": SECRET,
        "PAYFLOW_DATABASE_URL": store_url,
        "PAYFLOW_WEBHOOK_HANDLERS": "tests.payflow_asgi.recording_handlers:HANDLERS",
        **more,
    }


@pytest.fixture
def two_servers(sandbox: Sandbox, store_url: str) -> Iterator[list[str]]:
    processes = [start_serve("--port", "0", env=serve_env(sandbox, store_url)) for _ in range(2)]
    try:
        yield [wait_until_serving(process) for process in processes]
    finally:
        for process in processes:
            stop_serve(process)


def signed(event_id: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": "test.recorded",
            "created": int(time.time()),
            "livemode": False,
            "data": {"object": {"id": f"obj_{event_id}", "object": "thing"}},
        }
    ).encode()
    return body, {"Stripe-Signature": sign(body, SECRET, at=int(time.time()))}


async def deliver_until_accepted(
    http: httpx.AsyncClient, url: str, event_id: str, statuses: collections.Counter[int]
) -> None:
    """One delivery, retried like Stripe until a 2xx (sooner than Stripe's hours)."""
    deadline = time.monotonic() + DELIVERY_DEADLINE
    while True:
        body, headers = signed(event_id)
        answer = await http.post(f"{url}/api/webhooks", content=body, headers=headers)
        statuses[answer.status_code] += 1
        if answer.is_success:
            return
        assert answer.status_code in (409, 500), answer.text
        assert time.monotonic() < deadline, f"{event_id} never accepted"
        await asyncio.sleep(0.05)


async def test_each_event_is_handled_once_by_two_processes_sharing_the_store(
    two_servers: list[str], store_url: str
) -> None:
    ids = [f"evt_once_{n:03d}" for n in range(EVENTS)]
    deliveries = [event_id for event_id in ids for _ in range(COPIES)]
    random.Random(12).shuffle(deliveries)  # noqa: S311  (an order, not a secret)
    statuses: collections.Counter[int] = collections.Counter()
    limits = httpx.Limits(max_connections=AT_ONCE)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        for start in range(0, len(deliveries), AT_ONCE):
            batch = deliveries[start : start + AT_ONCE]
            await asyncio.gather(
                *(
                    deliver_until_accepted(http, two_servers[n % 2], event_id, statuses)
                    for n, event_id in enumerate(batch, start)
                )
            )
    calls = recording_handlers.rows(store_url, recording_handlers.CALLS)
    per_event = collections.Counter(event_id for event_id, _ in calls)
    assert {event_id: 1 for event_id in ids} == dict(per_event)
    # Both processes did some of the work.
    assert 2 == len({pid for _, pid in calls})
    assert EVENTS * COPIES <= sum(statuses.values())


async def test_an_event_held_by_a_killed_process_is_handled_once_after_the_lease(
    sandbox: Sandbox, store_url: str
) -> None:
    lease = "2"
    hanging = start_serve(
        "--port",
        "0",
        env=serve_env(sandbox, store_url, PAYFLOW_WEBHOOK_LEASE=lease, RECORDING_HANDLERS_HANG="1"),
    )
    healthy = start_serve(
        "--port", "0", env=serve_env(sandbox, store_url, PAYFLOW_WEBHOOK_LEASE=lease)
    )
    try:
        first, second = wait_until_serving(hanging), wait_until_serving(healthy)
        async with httpx.AsyncClient(timeout=30) as http:
            body, headers = signed("evt_killed")
            held = asyncio.create_task(
                http.post(f"{first}/api/webhooks", content=body, headers=headers)
            )
            deadline = time.monotonic() + 30
            while not recording_handlers.rows(store_url, recording_handlers.STARTED):
                assert time.monotonic() < deadline, "the handler never started"
                await asyncio.sleep(0.05)
            hanging.send_signal(signal.SIGKILL)
            hanging.wait(timeout=10)
            with pytest.raises(httpx.TransportError):
                await held
            statuses: collections.Counter[int] = collections.Counter()
            await deliver_until_accepted(http, second, "evt_killed", statuses)
        calls = recording_handlers.rows(store_url, recording_handlers.CALLS)
        assert [("evt_killed", healthy.pid)] == calls
        # Until the lease ran out, the event was still the dead process's.
        assert statuses[409] >= 1
    finally:
        if hanging.poll() is None:
            hanging.kill()
        hanging.communicate()
        stop_serve(healthy)
