"""Faults between the HTTP API's gateway and Stripe, seen from the HTTP client: a hanging Stripe is
a 504 in time, failing answers are retried then reported, and a lost response retried with the
same Idempotency-Key returns the one object made.

Each test runs the app in process, its gateway going through the fault-injecting proxy to a
sandbox of its own, so the sandbox's object counts belong to the test alone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

import payflow
from payflow_asgi import Settings, create_app
from payflow_sandbox import Sandbox
from tests.payflow_asgi.asgi_support import EXP_YEAR, VISA, client_for, data_of, post_json
from tests.reliability.faultproxy import Fault, FaultProxy
from tests.reliability.sandbox_objects import KEY, ids_in_sandbox

TRIALS = 100
TIMEOUT = 0.5
MARGIN = 1.0


@asynccontextmanager
async def api(
    proxy: FaultProxy, *, retries: int, stripe_timeout: float = 10.0
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app, whose gateway reaches the sandbox through the proxy."""
    async with (
        payflow.Gateway(
            KEY, api_base=proxy.url, timeout=stripe_timeout, max_network_retries=retries
        ) as gateway,
        client_for(create_app(gateway, settings=Settings())) as http,
    ):
        yield http


async def post(
    http: httpx.AsyncClient, path: str, body: object, key: str | None = None
) -> httpx.Response:
    return await post_json(http, path, body, None if key is None else {"Idempotency-Key": key})


def error_of(response: httpx.Response) -> tuple[int, str]:
    """The status and error code of an error envelope."""
    body = response.json()
    assert (False, str) == (body["status"], type(body["message"]))
    return response.status_code, body["error"]["code"]


async def card_holder(http: httpx.AsyncClient) -> tuple[str, str]:
    """A customer and a saved card, made through the routes."""
    customer = data_of(await post(http, "/api/customers", {"email": "faults@example.com"}))
    card = {"number": VISA, "exp_month": 12, "exp_year": EXP_YEAR, "cvc": "123"}
    token = data_of(await post(http, "/api/cards", card))
    body = {"userId": customer["id"], "source": token["token_id"]}
    assigned = data_of(await post(http, "/api/cards/assign", body))
    return customer["id"], assigned["cardId"]


def payment_body(holder: tuple[str, str], amount: str = "12.34") -> dict[str, Any]:
    return {"customer_id": holder[0], "amount": amount, "payment_method": holder[1]}


async def charge_id(http: httpx.AsyncClient) -> str:
    """The charge of a new, confirmed payment."""
    payment = data_of(await post(http, "/api/payments", payment_body(await card_holder(http))))
    confirmed = data_of(await post(http, "/api/payments/confirm", {"paymentId": payment["id"]}))
    return str(confirmed["charges"]["data"][0]["id"])


def attempts(proxy: FaultProxy, path: str) -> int:
    return sum(1 for _, seen, _ in proxy.seen if seen == path)


# --- a hanging Stripe ---


async def test_a_hanging_stripe_is_a_504_within_the_timeout(proxy: FaultProxy) -> None:
    """Stripe not answering (a delay past the timeout) is a 504 stripe_timeout envelope within
    the gateway's timeout plus 1 s."""
    proxy.plan(r"/v1/customers", Fault.delay(TIMEOUT + MARGIN + 0.5))
    async with api(proxy, retries=0, stripe_timeout=TIMEOUT) as http:
        started = time.monotonic()
        response = await post(http, "/api/customers", {"email": "slow@example.com"})
        elapsed = time.monotonic() - started

    assert ((504, "stripe_timeout"), True) == (error_of(response), elapsed < TIMEOUT + MARGIN)


# --- failing answers ---


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (429, (503, "rate_limited")),
        (500, (502, "stripe_error")),
        (503, (503, "stripe_unavailable")),
    ],
)
async def test_an_answer_that_keeps_failing_is_retried_then_reported(
    proxy: FaultProxy, status: int, expected: tuple[int, str]
) -> None:
    """Stripe answering 429/500/503 to every attempt: the SDK's 2 retries, then a 503/502/503
    envelope."""
    async with api(proxy, retries=2) as http:
        holder = await card_holder(http)
        proxy.plan(r"/v1/payment_intents", *[Fault.answer(status)] * 3)
        response = await post(http, "/api/payments", payment_body(holder))

    assert (expected, 3) == (error_of(response), attempts(proxy, "/v1/payment_intents"))


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_an_answer_that_fails_once_is_retried_to_one_payment(
    proxy: FaultProxy, sandbox_alone: Sandbox, status: int
) -> None:
    """Stripe answering 429/500/503 once: the SDK's retry makes the payment, a 200, and the
    sandbox holds exactly that one."""
    async with api(proxy, retries=2) as http:
        holder = await card_holder(http)
        proxy.plan(r"/v1/payment_intents", Fault.answer(status))
        payment = data_of(await post(http, "/api/payments", payment_body(holder)))

    assert [payment["id"]] == ids_in_sandbox(sandbox_alone, "/v1/payment_intents")


# --- lost responses, retried by the client with the same Idempotency-Key ---


async def test_a_lost_payment_response_retried_with_the_key_returns_the_one_payment(
    proxy: FaultProxy, sandbox_alone: Sandbox
) -> None:
    """Without SDK retries a lost response is a 503; the client's retry with the same
    Idempotency-Key is a 200 with the payment made, and the sandbox holds only that one."""
    async with api(proxy, retries=0) as http:
        holder = await card_holder(http)
        proxy.plan(r"/v1/payment_intents", Fault.drop())
        lost = await post(http, "/api/payments", payment_body(holder), key="order-42")
        retried = data_of(await post(http, "/api/payments", payment_body(holder), key="order-42"))

    assert ((503, "stripe_unavailable"), [retried["id"]]) == (
        error_of(lost),
        ids_in_sandbox(sandbox_alone, "/v1/payment_intents"),
    )


async def test_a_lost_confirm_response_retried_with_the_key_charges_once(
    proxy: FaultProxy, sandbox_alone: Sandbox
) -> None:
    """A lost confirmation response is a 503; the retry with the same key is a 200 with the one
    charge made, and the sandbox holds only that charge."""
    async with api(proxy, retries=0) as http:
        payment = data_of(await post(http, "/api/payments", payment_body(await card_holder(http))))
        proxy.plan(r"/v1/payment_intents/[^/]+/confirm", Fault.drop())
        body = {"paymentId": payment["id"]}
        lost = await post(http, "/api/payments/confirm", body, key="confirm-42")
        retried = data_of(await post(http, "/api/payments/confirm", body, key="confirm-42"))

    charges = [charge["id"] for charge in retried["charges"]["data"]]
    assert ((503, "stripe_unavailable"), "succeeded", charges) == (
        error_of(lost),
        retried["status"],
        ids_in_sandbox(sandbox_alone, "/v1/charges"),
    )


async def test_a_lost_refund_response_retried_with_the_key_refunds_once(
    proxy: FaultProxy, sandbox_alone: Sandbox
) -> None:
    """A lost refund response is a 503; the retry with the same key is a 200 with the one refund
    made, and the sandbox holds only that refund."""
    async with api(proxy, retries=0) as http:
        body = {"chargeId": await charge_id(http), "amount": "3.00"}
        proxy.plan(r"/v1/refunds", Fault.drop())
        lost = await post(http, "/api/payments/refund", body, key="refund-42")
        retried = data_of(await post(http, "/api/payments/refund", body, key="refund-42"))

    assert ((503, "stripe_unavailable"), 300, [retried["id"]]) == (
        error_of(lost),
        retried["amount"],
        ids_in_sandbox(sandbox_alone, "/v1/refunds"),
    )


async def test_100_lost_payment_responses_retried_by_clients_make_no_duplicate(
    proxy: FaultProxy, sandbox_alone: Sandbox
) -> None:
    """100 concurrent payments whose first response is lost: each client sees a 503, retries
    with its key, gets a 200; the sandbox holds exactly the 100 payments returned."""
    async with api(proxy, retries=0) as http:
        holders = await asyncio.gather(*(card_holder(http) for _ in range(TRIALS)))
        proxy.lose_first_responses(r"/v1/payment_intents")

        async def pay(n: int) -> tuple[int, str]:
            body = payment_body(holders[n])
            lost = await post(http, "/api/payments", body, key=f"order-{n}")
            retried = await post(http, "/api/payments", body, key=f"order-{n}")
            return lost.status_code, data_of(retried)["id"]

        outcomes = await asyncio.gather(*(pay(n) for n in range(TRIALS)))

    ids = [payment_id for _, payment_id in outcomes]
    assert ({503}, TRIALS, sorted(ids)) == (
        {status for status, _ in outcomes},
        len(set(ids)),
        sorted(ids_in_sandbox(sandbox_alone, "/v1/payment_intents")),
    )


async def test_100_lost_payment_responses_are_absorbed_by_the_sdk_retry(
    proxy: FaultProxy, sandbox_alone: Sandbox
) -> None:
    """100 concurrent payments without an Idempotency-Key whose first response is lost: the
    SDK's retry (same key) makes each a 200, and the sandbox holds exactly the 100 returned."""
    async with api(proxy, retries=2) as http:
        holders = await asyncio.gather(*(card_holder(http) for _ in range(TRIALS)))
        proxy.lose_first_responses(r"/v1/payment_intents")
        responses = await asyncio.gather(
            *(post(http, "/api/payments", payment_body(h)) for h in holders)
        )

    ids = [data_of(response)["id"] for response in responses]
    dropped = [seen for seen in proxy.seen if seen[2] is not None]
    assert (TRIALS, TRIALS, sorted(ids)) == (
        len(dropped),
        len(set(ids)),
        sorted(ids_in_sandbox(sandbox_alone, "/v1/payment_intents")),
    )
