"""Lost responses and failing answers between payflow and Stripe: nothing is done twice.

Each test runs against its own sandbox behind a fault-injecting proxy, so the sandbox's object
counts belong to the test alone.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

import payflow
from payflow_sandbox import Sandbox
from tests.reliability.faultproxy import Fault, FaultProxy
from tests.reliability.sandbox_objects import KEY, ids_in_sandbox

TRIALS = 100
NEXT_YEAR = dt.date.today().year + 1


@pytest.fixture
async def gw(proxy: FaultProxy) -> AsyncIterator[payflow.Gateway]:
    """A gateway through the proxy that retries, as configured by default."""
    async with payflow.Gateway(KEY, api_base=proxy.url, max_network_retries=2) as gateway:
        yield gateway


async def card_holder(gw: payflow.Gateway) -> tuple[str, str]:
    customer = await payflow.create_customer_async(gw, email="faults@example.com")
    token = await payflow.create_card_token_async(
        gw, number="4242424242424242", exp_month=12, exp_year=NEXT_YEAR, cvc="123"
    )
    card = await payflow.assign_card_async(gw, customer_id=customer.id, source=token.id)
    return customer.id, card.id


async def paid(gw: payflow.Gateway, amount: str = "10.00") -> payflow.Payment:
    customer_id, card_id = await card_holder(gw)
    payment = await payflow.create_payment_async(
        gw, customer_id=customer_id, amount=payflow.Money(Decimal(amount)), payment_method=card_id
    )
    return await payflow.confirm_payment_async(gw, payment.id)


async def test_lost_create_payment_responses_create_each_payment_once(
    gw: payflow.Gateway, proxy: FaultProxy, sandbox_alone: Sandbox
) -> None:
    """100 payments whose first response is lost: the SDK's retry returns the one payment made."""
    holders = await asyncio.gather(*(card_holder(gw) for _ in range(TRIALS)))
    proxy.lose_first_responses(r"/v1/payment_intents")

    payments = await asyncio.gather(
        *(
            payflow.create_payment_async(
                gw, customer_id=c, amount=payflow.Money(Decimal("12.34")), payment_method=m
            )
            for c, m in holders
        )
    )

    dropped = [s for s in proxy.seen if s[2] is not None]
    assert TRIALS == len(dropped)
    assert sorted(p.id for p in payments) == sorted(
        ids_in_sandbox(sandbox_alone, "/v1/payment_intents")
    )
    assert {1234} == {p.amount.minor_units for p in payments}


async def test_lost_confirm_responses_charge_each_payment_once(
    gw: payflow.Gateway, proxy: FaultProxy, sandbox_alone: Sandbox
) -> None:
    """100 confirmations whose first response is lost: one charge each, the one returned."""
    holders = await asyncio.gather(*(card_holder(gw) for _ in range(TRIALS)))
    created = await asyncio.gather(
        *(
            payflow.create_payment_async(
                gw, customer_id=c, amount=payflow.Money(Decimal("5.00")), payment_method=m
            )
            for c, m in holders
        )
    )
    proxy.lose_first_responses(r"/v1/payment_intents/[^/]+/confirm")

    confirmed = await asyncio.gather(*(payflow.confirm_payment_async(gw, p.id) for p in created))

    assert {"succeeded"} == {p.status for p in confirmed}
    charge_ids = [p.charges[0].id for p in confirmed]
    assert sorted(charge_ids) == sorted(ids_in_sandbox(sandbox_alone, "/v1/charges"))


async def test_lost_refund_responses_refund_each_charge_once(
    gw: payflow.Gateway, proxy: FaultProxy, sandbox_alone: Sandbox
) -> None:
    """100 partial refunds whose first response is lost: one refund each, the one returned."""
    payments = await asyncio.gather(*(paid(gw) for _ in range(TRIALS)))
    proxy.lose_first_responses(r"/v1/refunds")

    refunds = await asyncio.gather(
        *(
            payflow.refund_async(
                gw, charge_id=p.charges[0].id, amount=payflow.Money(Decimal("3.00"))
            )
            for p in payments
        )
    )

    assert sorted(r.id for r in refunds) == sorted(ids_in_sandbox(sandbox_alone, "/v1/refunds"))
    assert {300} == {r.amount.minor_units for r in refunds}


def test_a_caller_retry_with_the_same_key_returns_the_same_payment(
    proxy: FaultProxy, sandbox_alone: Sandbox
) -> None:
    """Without SDK retries, a lost response is StripeUnavailable; the caller's retry with the
    same idempotency key gets the payment that was made, and no second one is made."""
    with payflow.Gateway(KEY, api_base=proxy.url, max_network_retries=0) as gw:
        customer = payflow.create_customer(gw, email="retry@example.com")
        token = payflow.create_card_token(
            gw, number="4242424242424242", exp_month=12, exp_year=NEXT_YEAR, cvc="123"
        )
        card = payflow.assign_card(gw, customer_id=customer.id, source=token.id)
        proxy.plan(r"/v1/payment_intents", Fault.drop())

        def pay() -> payflow.Payment:
            return payflow.create_payment(
                gw, customer_id=customer.id, amount=payflow.Money(Decimal("20.00")),
                payment_method=card.id, idempotency_key="order-42",
            )  # fmt: skip

        with pytest.raises(payflow.StripeUnavailable):
            pay()
        payment = pay()

    assert [payment.id] == ids_in_sandbox(sandbox_alone, "/v1/payment_intents")


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_failing_answers_are_retried_with_the_same_key(
    gw: payflow.Gateway, proxy: FaultProxy, sandbox_alone: Sandbox, status: int
) -> None:
    """A 500, 503 or 429 from Stripe is retried, and the payment is created once."""
    customer_id, card_id = await card_holder(gw)
    proxy.plan(r"/v1/payment_intents", Fault.answer(status), Fault.answer(status))

    payment = await payflow.create_payment_async(
        gw, customer_id=customer_id, amount=payflow.Money(Decimal("7.00")), payment_method=card_id
    )

    assert [payment.id] == ids_in_sandbox(sandbox_alone, "/v1/payment_intents")


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, payflow.StripeServerError),
        (503, payflow.StripeUnavailable),
        (429, payflow.RateLimited),
    ],
)
async def test_an_answer_that_keeps_failing_is_reported(
    gw: payflow.Gateway, proxy: FaultProxy, status: int, error: type[payflow.StripeFailure]
) -> None:
    """When every retry fails too, the step raises the error for Stripe's answer."""
    customer_id, card_id = await card_holder(gw)
    proxy.plan(r"/v1/payment_intents", *[Fault.answer(status)] * 3)

    with pytest.raises(error):
        await payflow.create_payment_async(
            gw, customer_id=customer_id, amount=payflow.Money(Decimal("7.00")),
            payment_method=card_id,
        )  # fmt: skip


async def test_a_hanging_stripe_times_out_within_the_timeout(proxy: FaultProxy) -> None:
    """A Stripe that does not answer gives StripeTimeout after the timeout, not a hang."""
    proxy.plan(r"/v1/customers", Fault.delay(5.0))
    async with payflow.Gateway(KEY, api_base=proxy.url, timeout=0.5, max_network_retries=0) as slow:
        started = time.monotonic()
        with pytest.raises(payflow.StripeTimeout):
            await payflow.create_customer_async(slow, email="slow@example.com")
        elapsed = time.monotonic() - started

    assert elapsed < 0.5 + 1.0
