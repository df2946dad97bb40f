"""payflow's currency tables against Stripe's documentation, entry by entry.

The oracle is `tests.stripe_currencies`, written from https://docs.stripe.com/currencies. Each
test is parametrised over every currency in either table, so a currency one of them lacks or
files under the wrong rule fails its own case, every run, with a message naming it.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from payflow import Money
from payflow._money import (
    CURRENCIES,
    MINIMUM_CHARGE,
    major_units,
    maximum_minor_units,
    smallest_amount,
)
from tests import stripe_currencies as stripe
from tests.payflow import strategies as documented


def _rule(exponent: int, step: int) -> str:
    return f"1 unit is {10**exponent} in minor units, which must be multiples of {step}"


@pytest.mark.parametrize("currency", sorted(stripe.CHARGEABLE | CURRENCIES))
def test_payflow_knows_exactly_the_documented_currencies(currency: str) -> None:
    """Each currency Stripe's page names is one payflow takes, and payflow takes no other."""
    named, known = currency in stripe.CHARGEABLE, currency in CURRENCIES

    assert named == known, (
        f"{currency.upper()} is {'' if named else 'not '}named at {stripe.PAGE}"
        f" but {'known' if known else 'unknown'} to payflow"
    )


@pytest.mark.parametrize("currency", sorted(stripe.CHARGEABLE))
def test_minor_units_follow_the_documented_rule(currency: str) -> None:
    """How far the point moves and which minor units are allowed (zero-decimal, three-decimal,
    ISK/UGX in whole units times 100, two decimals otherwise) are the page's, currency by
    currency."""
    expected = (documented.minor_digits(currency), documented.minor_units_step(currency))
    exponent = major_units(1, currency).as_tuple().exponent
    assert isinstance(exponent, int)
    actual = (-exponent, Money(smallest_amount(currency), currency).minor_units)

    assert expected == actual, (
        f"{currency.upper()}: Stripe's page ({stripe.PAGE}): {_rule(*expected)};"
        f" payflow: {_rule(*actual)}"
    )


@pytest.mark.parametrize("currency", sorted(set(stripe.MINIMUM_CHARGE) | set(MINIMUM_CHARGE)))
def test_minimum_charge_is_the_documented_one(currency: str) -> None:
    """Each minimum in payflow's table is the one in Stripe's table, and none is missing."""
    listed = stripe.MINIMUM_CHARGE.get(currency)
    expected = None if listed is None else Decimal(listed)
    actual = MINIMUM_CHARGE.get(currency)

    assert expected == actual, (
        f"{currency.upper()}: minimum {expected} at {stripe.PAGE}"
        f"#minimum-and-maximum-charge-amounts, payflow's is {actual}"
    )


@pytest.mark.parametrize("currency", sorted(stripe.CHARGEABLE))
def test_maximum_is_the_documented_one(currency: str) -> None:
    """The largest amount value payflow lets through is the number of digits Stripe documents
    for the currency: twelve for IDR, nine for INR, eight for the others."""
    expected = documented.maximum_minor_units(currency)
    actual = maximum_minor_units(currency)

    assert expected == actual, (
        f"{currency.upper()}: at most {expected} in minor units at {stripe.PAGE}"
        f"#minimum-and-maximum-charge-amounts, payflow's maximum is {actual}"
    )


def test_payouts_only_special_cases_charge_two_decimals() -> None:
    """HUF and TWD are zero-decimal for payouts only: a charge of 10.45 of either is 1045."""
    charged = {
        code: Money(Decimal("10.45"), code).minor_units
        for code in stripe.ZERO_DECIMAL_FOR_PAYOUTS_ONLY
    }

    assert dict.fromkeys(stripe.ZERO_DECIMAL_FOR_PAYOUTS_ONLY, 1045) == charged
