"""Every documented minimum and maximum charge, at, just below and just above its value, through
`create_payment`'s checks.

The limits come from the tests' oracle (`tests.stripe_currencies`, written from
https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts); "just" is one smallest
step of the currency (0.01 EUR, 1 JPY, 0.01 KWD, 1 ISK). The gateway points where nothing
listens: an amount the checks let through fails as StripeUnavailable, one they refuse as
InvalidAmount, before any request.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from decimal import Decimal

import pytest

import payflow
from payflow import InvalidAmount, Money, StripeUnavailable
from tests import stripe_currencies as stripe
from tests.payflow.strategies import maximum_minor_units, minor_units_step, smallest_step

SENT = "sent to Stripe"


@pytest.fixture(scope="module")
def offline() -> Iterator[payflow.Gateway]:
    """A gateway to a loopback port where nothing listens (bound, then released), no retries."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    with payflow.Gateway(
        "sk_test_payflow", api_base=f"http://127.0.0.1:{port}", max_network_retries=0
    ) as gw:
        yield gw


def outcome(gw: payflow.Gateway, amount: Money) -> str:
    """The rule create_payment's checks refuse `amount` by, or SENT if they let it through."""
    try:
        payflow.create_payment(gw, customer_id="cus_1", amount=amount, payment_method="card_1")
    except InvalidAmount as refused:
        return str(refused.rule)
    except StripeUnavailable:
        return SENT
    raise AssertionError("a payment was created where nothing listens")


@pytest.mark.parametrize("currency", sorted(stripe.MINIMUM_CHARGE))
@pytest.mark.parametrize(
    ("steps", "expected"),
    [(-1, "below_minimum"), (0, SENT), (1, SENT)],
    ids=["below", "at", "above"],
)
def test_minimum_charge(offline: payflow.Gateway, currency: str, steps: int, expected: str) -> None:
    """Stripe's minimum charge is chargeable, one step more too, one step less is refused."""
    amount = Decimal(stripe.MINIMUM_CHARGE[currency]) + steps * smallest_step(currency)

    assert expected == outcome(offline, Money(amount, currency)), f"{amount} {currency.upper()}"


@pytest.mark.parametrize("currency", sorted(stripe.CHARGEABLE))
@pytest.mark.parametrize(
    ("steps", "expected"),
    [(-1, SENT), (0, SENT), (1, "above_maximum")],
    ids=["below", "at", "above"],
)
def test_maximum_charge(offline: payflow.Gateway, currency: str, steps: int, expected: str) -> None:
    """The largest amount Stripe takes (its digits, in the currency's steps) is chargeable, one
    step less too, one step more is refused."""
    step = minor_units_step(currency)
    largest = maximum_minor_units(currency) // step * step
    amount = Money.from_minor_units(largest + steps * step, currency)

    assert expected == outcome(offline, amount), f"{amount.amount} {currency.upper()}"
