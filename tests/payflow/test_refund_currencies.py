"""Refunds through the library in currencies whose minor units are not cents, sync and async.

What the sandbox recorded is read with the raw SDK (`stripe_client`), not through payflow, and
compared with Stripe's rules from https://docs.stripe.com/currencies: 120 JPY is 120 (zero-decimal),
1.23 KWD is 1230 (three-decimal), 150 ISK is 15000 (whole units times 100), 8.20 EUR is 820.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
import stripe

import payflow
from payflow import Money
from payflow_sandbox import Sandbox
from tests.payflow.test_steps import Form, Steps
from tests.payflow_asgi.test_currencies import CASES


@pytest.fixture(params=["sync", "async"])
async def steps(request: pytest.FixtureRequest, sandbox: Sandbox) -> AsyncIterator[Steps]:
    """The steps in both forms, through one gateway to the sandbox, closed afterwards."""
    form: Form = request.param
    async with payflow.Gateway(
        "sk_test_payflow", api_base=sandbox.url, max_network_retries=0
    ) as gw:
        yield Steps(gw, form)


def recorded(client: stripe.StripeClient, path: str) -> dict[str, Any]:
    """The object the sandbox holds at `path`, as the raw SDK reads it."""
    data: dict[str, Any] = client.raw_request("get", path).data
    return data


@pytest.mark.parametrize("currency", CASES)
async def test_the_whole_charge_refunded_by_amount(
    steps: Steps, stripe_client: stripe.StripeClient, currency: str
) -> None:
    """A refund of the whole amount, given as an amount, is the charge's own minor units."""
    amount, units, _, _ = CASES[currency]
    charge = await steps.charge(Money(Decimal(amount), currency))

    refund = await steps.refund(charge_id=charge.id, amount=Money(Decimal(amount), currency))

    stored = recorded(stripe_client, f"/v1/refunds/{refund.id}")
    charged = recorded(stripe_client, f"/v1/charges/{charge.id}")
    assert (units, currency, units, True) == (
        stored["amount"], stored["currency"], charged["amount_refunded"], charged["refunded"]
    )  # fmt: skip


@pytest.mark.parametrize("currency", CASES)
async def test_without_an_amount_the_whole_charge_is_refunded(
    steps: Steps, stripe_client: stripe.StripeClient, currency: str
) -> None:
    """A refund without an amount gives back the whole charge, read back as the same Money."""
    amount, units, _, _ = CASES[currency]
    charge = await steps.charge(Money(Decimal(amount), currency))

    refund = await steps.refund(charge_id=charge.id)

    stored = recorded(stripe_client, f"/v1/refunds/{refund.id}")
    assert (units, Money(Decimal(amount), currency)) == (stored["amount"], refund.amount)


@pytest.mark.parametrize("currency", CASES)
async def test_a_part_then_the_rest(
    steps: Steps, stripe_client: stripe.StripeClient, currency: str
) -> None:
    """A partial refund sends the part's minor units; a refund without an amount then gives back
    exactly what remains, and the charge is wholly refunded."""
    amount, units, part, part_units = CASES[currency]
    charge = await steps.charge(Money(Decimal(amount), currency))

    partial = await steps.refund(charge_id=charge.id, amount=Money(Decimal(part), currency))
    rest = await steps.refund(charge_id=charge.id)

    stored = [recorded(stripe_client, f"/v1/refunds/{r.id}")["amount"] for r in (partial, rest)]
    charged = recorded(stripe_client, f"/v1/charges/{charge.id}")
    assert ([part_units, units - part_units], units, True) == (
        stored, charged["amount_refunded"], charged["refunded"]
    )  # fmt: skip
    assert (
        Money(Decimal(part), currency),
        Money.from_minor_units(units - part_units, currency),
    ) == (partial.amount, rest.amount)
