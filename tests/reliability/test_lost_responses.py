"""Lost responses and failing answers between payflow and Stripe: nothing is done twice.

Each test runs against its own sandbox behind a fault-injecting proxy, so the sandbox's object
counts belong to the test alone.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from decimal import Decimal

import pytest

import payflow
from payflow_sandbox import Sandbox
from tests.reliability.faultproxy import Fault, FaultProxy
from tests.reliability.sandbox_objects import KEY, ids_in_sandbox
from tests.reliability.six_steps import (
    CUSTOMER,
    STEPS,
    Step,
    assert_lost_then_replayed,
    assert_made_once,
    sync_customers,
)

TRIALS = 100
NEXT_YEAR = dt.date.today().year + 1


async def card_holder(gw: payflow.Gateway) -> tuple[str, str]:
    customer = await payflow.create_customer_async(gw, email="faults@example.com")
    token = await payflow.create_card_token_async(
        gw, number="4242424242424242", exp_month=12, exp_year=NEXT_YEAR, cvc="123"
    )
    card = await payflow.assign_card_async(gw, customer_id=customer.id, source=token.id)
    return customer.id, card.id


@pytest.mark.parametrize("step", STEPS, ids=lambda step: step.name)
async def test_a_lost_answer_to_any_step_is_retried_to_the_one_object_made(
    step: Step, gw: payflow.Gateway, proxy: FaultProxy, sandbox_alone: Sandbox
) -> None:
    """100 concurrent calls of a step whose first answer is lost after the sandbox acted: the
    SDK's retry is answered with the object made, replayed; no object is made twice."""
    trials = await step.prepare(gw, TRIALS)
    proxy.lose_first_responses(step.path)

    made = await asyncio.gather(*(step.library(gw, trial) for trial in trials))

    assert_lost_then_replayed(step, made, proxy)
    assert_made_once(step, trials, made, sandbox_alone)


def test_a_lost_answer_to_a_sync_call_is_retried_to_the_one_object_made(
    proxy: FaultProxy, sandbox_alone: Sandbox
) -> None:
    """The sync twin too: 100 customers created from 20 threads, each first answer lost."""
    proxy.lose_first_responses(CUSTOMER.path)
    trials, made = sync_customers(proxy.url, TRIALS)

    assert_lost_then_replayed(CUSTOMER, made, proxy)
    assert_made_once(CUSTOMER, trials, made, sandbox_alone)


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
