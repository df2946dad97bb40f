"""POST /api/webhooks and GET /api/events, in process, on a real SQLite store.

What Stripe expects of an endpoint (docs "Receive events", https://docs.stripe.com/webhooks):
a 2xx quickly for each event received, or it retries; it may send an event more than once, and
events in any order. Signatures are made here as those docs describe them (tests/payflow/
test_webhooks.py has the rules), never with payflow's code.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

import payflow
from payflow_asgi import Settings, create_app
from tests.payflow.test_webhooks import CHARGE, PAYMENT_INTENT, REFUND, sign
from tests.payflow_asgi.asgi_support import API_KEY, client_for

SECRET = "whsec_http_test"
TOKEN = "a-token-of-twenty-characters"


def delivery(
    obj: dict[str, Any], kind: str, event_id: str = "evt_1", created: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """An event's body and headers, as Stripe sends them now."""
    body = json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": kind,
            "created": int(time.time()) if created is None else created,
            "livemode": False,
            "data": {"object": obj},
        }
    ).encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Stripe-Signature": sign(body, SECRET, at=int(time.time())),
    }
    return body, headers


class Calls:
    """A handler that records each event it is given; it fails while `failing` is set, and
    waits for `release` once `hold` is set."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.failing = False
        self.hold = False
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, event: payflow.webhooks.Event) -> None:
        if self.failing:
            raise RuntimeError("the shop's database is down")
        if self.hold:
            self.started.set()
            await self.release.wait()
        self.events.append(event.id)


@pytest.fixture
def calls() -> Calls:
    return Calls()


def settings_for(sqlite_url: str, **more: Any) -> Settings:
    return Settings(webhook_secrets=(SECRET,), database_url=sqlite_url, **more)


@pytest.fixture
async def client(sqlite_url: str, calls: Calls) -> AsyncIterator[httpx.AsyncClient]:
    gateway = payflow.Gateway(API_KEY, api_base="http://127.0.0.1:9")
    app = create_app(
        gateway,
        settings=settings_for(sqlite_url, api_token=TOKEN),
        handlers={"payment_intent.succeeded": calls},
    )
    async with app.router.lifespan_context(app), client_for(app) as http:
        yield http
    await gateway.aclose()


async def deliver(client: httpx.AsyncClient, body: bytes, headers: dict[str, str]) -> Any:
    return await client.post("/api/webhooks", content=body, headers=headers)


async def test_a_new_event_runs_its_handler_once_and_a_redelivery_runs_nothing(
    client: httpx.AsyncClient, calls: Calls
) -> None:
    body, headers = delivery(PAYMENT_INTENT, "payment_intent.succeeded")
    first = await deliver(client, body, headers)
    assert 200 == first.status_code
    assert {"id": "evt_1", "type": "payment_intent.succeeded", "outcome": "handled"} == (
        first.json()["data"]
    )
    # The same body again (a redelivery, or a replay inside the tolerance).
    again = await deliver(client, body, headers)
    assert (200, "duplicate") == (again.status_code, again.json()["data"]["outcome"])
    assert ["evt_1"] == calls.events


async def test_an_event_nobody_handles_is_accepted_so_stripe_stops_retrying(
    client: httpx.AsyncClient, calls: Calls
) -> None:
    body, headers = delivery(CHARGE, "charge.refunded")
    answer = await deliver(client, body, headers)
    assert (200, "unhandled") == (answer.status_code, answer.json()["data"]["outcome"])
    assert [] == calls.events


async def test_the_signature_stands_for_the_api_token(client: httpx.AsyncClient) -> None:
    body, headers = delivery(PAYMENT_INTENT, "payment_intent.succeeded")
    assert 200 == (await deliver(client, body, headers)).status_code
    # /api/events is the server's own API: it requires the token.
    refused = await client.get("/api/events", params={"object": "pi_1"})
    assert 401 == refused.status_code


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "signature_missing"),
        ({"Stripe-Signature": "t=1,v1=00"}, "signature_invalid"),
    ],
)
async def test_unsigned_deliveries_are_refused_with_their_code(
    client: httpx.AsyncClient, calls: Calls, headers: dict[str, str], code: str
) -> None:
    body, _ = delivery(PAYMENT_INTENT, "payment_intent.succeeded")
    answer = await deliver(client, body, headers)
    assert (400, code) == (answer.status_code, answer.json()["error"]["code"])
    assert [] == calls.events


async def test_a_stale_signature_is_refused_in_the_clients_language(
    client: httpx.AsyncClient,
) -> None:
    body, _ = delivery(PAYMENT_INTENT, "payment_intent.succeeded")
    stale = {"Stripe-Signature": sign(body, SECRET, at=int(time.time()) - 600)}
    answer = await deliver(client, body, {**stale, "Accept-Language": "en"})
    assert (400, "signature_expired") == (answer.status_code, answer.json()["error"]["code"])
    assert "too old" in answer.json()["message"]


async def test_a_signature_is_checked_before_the_body_is_read_as_json(
    client: httpx.AsyncClient,
) -> None:
    answer = await deliver(client, b"{not json", {"Stripe-Signature": "t=1,v1=00"})
    assert "signature_invalid" == answer.json()["error"]["code"]
    signed = {"Stripe-Signature": sign(b"{not json", SECRET, at=int(time.time()))}
    answer = await deliver(client, b"{not json", signed)
    assert (400, "not_an_event") == (answer.status_code, answer.json()["error"]["code"])


async def test_a_failing_handler_makes_stripe_retry_and_the_retry_runs_it(
    client: httpx.AsyncClient, calls: Calls
) -> None:
    body, headers = delivery(PAYMENT_INTENT, "payment_intent.succeeded")
    calls.failing = True
    failed = await deliver(client, body, headers)
    assert (500, "handler_failed") == (failed.status_code, failed.json()["error"]["code"])
    assert "database" not in failed.text
    calls.failing = False
    retried = await deliver(client, body, headers)
    assert (200, "handled") == (retried.status_code, retried.json()["data"]["outcome"])
    assert ["evt_1"] == calls.events


async def test_a_delivery_while_another_holds_the_event_is_answered_with_a_retry(
    client: httpx.AsyncClient, calls: Calls
) -> None:
    body, headers = delivery(PAYMENT_INTENT, "payment_intent.succeeded")
    calls.hold = True
    first = asyncio.create_task(deliver(client, body, headers))
    await calls.started.wait()
    second = await deliver(client, body, headers)
    assert (409, "event_in_progress") == (second.status_code, second.json()["error"]["code"])
    calls.release.set()
    assert 200 == (await first).status_code
    assert ["evt_1"] == calls.events


async def test_bodies_over_the_limit_are_refused_before_verification(sqlite_url: str) -> None:
    gateway = payflow.Gateway(API_KEY, api_base="http://127.0.0.1:9")
    app = create_app(gateway, settings=settings_for(sqlite_url, max_body_bytes=1024))
    body, headers = delivery({**PAYMENT_INTENT, "metadata": {"x": "y" * 2000}}, "x.y")
    async with client_for(app) as http:
        answer = await deliver(http, body, headers)
    await gateway.aclose()
    assert (413, "payload_too_large") == (answer.status_code, answer.json()["error"]["code"])


async def test_what_was_recorded_about_an_object_newest_first(client: httpx.AsyncClient) -> None:
    now = int(time.time())
    for event_id, obj, kind, created in [
        ("evt_a", PAYMENT_INTENT, "payment_intent.succeeded", now - 20),
        ("evt_b", CHARGE, "charge.refunded", now - 10),
        ("evt_c", REFUND, "refund.created", now - 5),
    ]:
        assert 200 == (await deliver(client, *delivery(obj, kind, event_id, created))).status_code
    auth = {"Authorization": f"Bearer {TOKEN}"}
    about_charge = await client.get("/api/events", params={"object": "ch_1"}, headers=auth)
    assert 200 == about_charge.status_code
    events = about_charge.json()["data"]["events"]
    assert ["evt_c", "evt_b"] == [e["id"] for e in events]
    assert {"id": "ch_1", "amount_refunded": 2500, "refunded": False} == {
        k: events[1]["object"][k] for k in ("id", "amount_refunded", "refunded")
    }
    # The charge belongs to the payment: its events are the payment's too.
    about_payment = await client.get("/api/events", params={"object": "pi_1"}, headers=auth)
    charge_event, recorded = about_payment.json()["data"]["events"]
    assert "evt_b" == charge_event["id"]
    assert ("evt_a", "succeeded", True) == (
        recorded["id"],
        recorded["object"]["status"],
        recorded["handled"],
    )
    assert "secret" not in about_payment.text


@pytest.mark.parametrize("params", [{}, {"object": "not an id"}, {"object": "pi_1_secret_x"}])
async def test_events_need_an_object_id(client: httpx.AsyncClient, params: dict[str, str]) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    answer = await client.get("/api/events", params=params, headers=auth)
    assert (400, "object") == (answer.status_code, answer.json()["error"].get("field"))


async def test_without_a_signing_secret_the_event_routes_say_so(sqlite_url: str) -> None:
    gateway = payflow.Gateway(API_KEY, api_base="http://127.0.0.1:9")
    app = create_app(gateway, settings=Settings(database_url=sqlite_url))
    body, headers = delivery(PAYMENT_INTENT, "payment_intent.succeeded")
    async with client_for(app) as http:
        posted = await deliver(http, body, headers)
        listed = await http.get("/api/events", params={"object": "pi_1"})
    await gateway.aclose()
    for answer in (posted, listed):
        assert (503, "webhooks_disabled") == (answer.status_code, answer.json()["error"]["code"])
