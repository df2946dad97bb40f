"""The whole flow with one command: `payflow serve --sandbox` has its sandbox deliver signed
events to its own /api/webhooks, and GET /api/events shows them within seconds."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.payflow_asgi.asgi_support import (
    EXP_YEAR,
    VISA,
    start_serve,
    stop_serve,
    wait_until_serving,
)

WITHIN = 10.0


@pytest.fixture
def server(tmp_path: Any) -> Iterator[str]:
    env = {**os.environ, "PAYFLOW_DATABASE_URL": ""}
    env.pop("STRIPE_WEBHOOK_SECRET", None)
    process = start_serve("--sandbox", "--port", "0", env=env)
    try:
        yield wait_until_serving(process)
    finally:
        assert 0 == stop_serve(process)


def data(answer: httpx.Response) -> Any:
    assert 200 == answer.status_code, answer.text
    return answer.json()["data"]


def types_about(http: httpx.Client, object_id: str, wanted: str) -> list[str]:
    """The event types recorded about `object_id`, once `wanted` is among them."""
    deadline = time.monotonic() + WITHIN
    while True:
        events = data(http.get("/api/events", params={"object": object_id}))["events"]
        types = [event["type"] for event in events]
        if wanted in types or time.monotonic() > deadline:
            return types
        time.sleep(0.1)


def test_a_payment_and_a_refund_show_their_events(server: str) -> None:
    with httpx.Client(base_url=server, timeout=30) as http:
        customer = data(http.post("/api/customers", json={"email": "events@example.com"}))
        token = data(
            http.post(
                "/api/cards",
                json={"number": VISA, "exp_month": 12, "exp_year": EXP_YEAR, "cvc": "123"},
            )
        )
        card = data(
            http.post(
                "/api/cards/assign", json={"userId": customer["id"], "source": token["token_id"]}
            )
        )
        payment = data(
            http.post(
                "/api/payments",
                json={"customer_id": customer["id"], "amount": "20.00",
                      "payment_method": card["cardId"]},
            )
        )  # fmt: skip
        confirmed = data(http.post("/api/payments/confirm", json={"paymentId": payment["id"]}))
        charge_id = confirmed["charges"]["data"][0]["id"]
        assert "payment_intent.succeeded" in types_about(
            http, payment["id"], "payment_intent.succeeded"
        )
        data(http.post("/api/payments/refund", json={"chargeId": charge_id, "amount": "5.00"}))
        events = types_about(http, charge_id, "charge.refunded")
        assert "charge.refunded" in events
        refunded = data(http.get("/api/events", params={"object": charge_id}))["events"]
        charge = next(e["object"] for e in refunded if e["type"] == "charge.refunded")
        assert (2000, 500) == (charge["amount"], charge["amount_refunded"])
