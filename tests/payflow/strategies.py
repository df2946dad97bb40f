"""Hypothesis strategies shared by payflow's tests.

Currencies and their rules come from the tests' oracle, `tests.stripe_currencies`, written from
Stripe's documentation, never from payflow: a currency payflow forgets or misfiles is drawn
all the same, and the tests check payflow's tables instead of repeating them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from hypothesis import strategies as st

from payflow.rules import MONEY_MAX_INTEGER_DIGITS
from tests import stripe_currencies as stripe

ZERO_DECIMAL: Final = stripe.ZERO_DECIMAL - stripe.TWO_DECIMALS_ALWAYS_00
THREE_DECIMAL: Final = stripe.THREE_DECIMAL
# Zero-decimal for the customer, yet sent to Stripe multiplied by 100, whole units only.
WHOLE_UNITS_TIMES_100: Final = stripe.TWO_DECIMALS_ALWAYS_00
TWO_DECIMAL: Final = stripe.CHARGEABLE - ZERO_DECIMAL - THREE_DECIMAL - WHOLE_UNITS_TIMES_100

# Stripe's largest amount in minor units for most currencies.
MAXIMUM_MINOR_UNITS: Final = int("9" * stripe.MAXIMUM_DIGITS)


def maximum_minor_units(currency: str) -> int:
    """The largest `amount` value Stripe documents for `currency`."""
    return int("9" * stripe.MAXIMUM_DIGITS_IN.get(currency, stripe.MAXIMUM_DIGITS))


def decimal_places(currency: str) -> int:
    """How many decimals an amount in `currency` may have (before trailing zeros)."""
    if currency in ZERO_DECIMAL or currency in WHOLE_UNITS_TIMES_100:
        return 0
    return 2  # two-decimal currencies, and three-decimal ones whose last digit must be 0


def minor_digits(currency: str) -> int:
    """How many digits the minor-unit integer has after the decimal point moves."""
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    return 2  # two-decimal currencies, and ISK/UGX (whole units times 100)


def minor_units_step(currency: str) -> int:
    """The minor units a currency accepts are exactly the multiples of this."""
    if currency in WHOLE_UNITS_TIMES_100:
        return 100
    if currency in THREE_DECIMAL:
        return 10
    return 1


def smallest_step(currency: str) -> Decimal:
    """The smallest amount `currency` can hold, in major units: 0.01 EUR, 1 JPY, 0.01 KWD."""
    return Decimal((0, (minor_units_step(currency),), -minor_digits(currency)))


def expected_minor_units(text: str, currency: str) -> int:
    """Minor units from a plain decimal string's digits: no Decimal, no float, no payflow."""
    whole, _, fraction = text.partition(".")
    fraction = fraction.rstrip("0")
    assert len(fraction) <= decimal_places(currency), "the amount has excess precision"
    return int(whole + fraction.ljust(minor_digits(currency), "0"))


def currencies() -> st.SearchStrategy[str]:
    """Every currency Stripe's documentation says a charge can be made in."""
    return st.sampled_from(sorted(stripe.CHARGEABLE))


def zero_decimal_currencies() -> st.SearchStrategy[str]:
    return st.sampled_from(sorted(ZERO_DECIMAL))


def three_decimal_currencies() -> st.SearchStrategy[str]:
    return st.sampled_from(sorted(THREE_DECIMAL))


def whole_units_times_100_currencies() -> st.SearchStrategy[str]:
    return st.sampled_from(sorted(WHOLE_UNITS_TIMES_100))


def two_decimal_currencies() -> st.SearchStrategy[str]:
    return st.sampled_from(sorted(TWO_DECIMAL))


def currencies_with_a_step() -> st.SearchStrategy[str]:
    """Currencies whose minor units must be a multiple of 10 or 100."""
    return st.sampled_from(sorted(THREE_DECIMAL | WHOLE_UNITS_TIMES_100))


def mixed_case(code: str) -> st.SearchStrategy[str]:
    """`code` with each letter in either case."""
    return st.tuples(*(st.sampled_from([c.lower(), c.upper()]) for c in code)).map("".join)


def accepted_minor_units(currency: str, *, max_value: int = 10**15) -> st.SearchStrategy[int]:
    """Non-negative minor units that `currency` accepts."""
    step = minor_units_step(currency)
    return st.integers(min_value=0, max_value=max_value // step).map(lambda n: n * step)


def refused_minor_units(currency: str) -> st.SearchStrategy[int]:
    """Non-negative minor units that are not a multiple of the currency's step."""
    step = minor_units_step(currency)
    return st.tuples(st.integers(0, 10**12), st.integers(1, step - 1)).map(
        lambda t: t[0] * step + t[1]
    )


def currency_and_minor_units() -> st.SearchStrategy[tuple[str, int]]:
    return currencies().flatmap(lambda c: st.tuples(st.just(c), accepted_minor_units(c)))


def _digits(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=min_size, max_size=max_size)


def amount_strings(currency: str) -> st.SearchStrategy[str]:
    """Plain decimal strings ("19.99", "0.5", "7", "1.2300") that `currency` can hold."""
    whole = st.integers(min_value=0, max_value=10**12).map(str)
    fraction = _digits(0, decimal_places(currency))
    trailing_zeros = st.integers(min_value=0, max_value=4).map(lambda n: "0" * n)
    return st.tuples(whole, fraction, trailing_zeros).map(
        lambda t: t[0] + ("." + t[1] + t[2] if t[1] or t[2] else "")
    )


def currency_and_amount_string() -> st.SearchStrategy[tuple[str, str]]:
    return currencies().flatmap(lambda c: st.tuples(st.just(c), amount_strings(c)))


def excess_precision_strings(currency: str) -> st.SearchStrategy[str]:
    """Decimal strings with a non-zero digit past the currency's last allowed decimal place."""
    whole = st.integers(min_value=0, max_value=10**12).map(str)
    allowed = _digits(decimal_places(currency), decimal_places(currency))
    extra = st.tuples(_digits(0, 6), st.sampled_from("123456789")).map("".join)
    return st.tuples(whole, allowed, extra).map(lambda t: f"{t[0]}.{t[1]}{t[2]}")


def currency_and_excess_string() -> st.SearchStrategy[tuple[str, str]]:
    return currencies().flatmap(lambda c: st.tuples(st.just(c), excess_precision_strings(c)))


def negative_decimals() -> st.SearchStrategy[Decimal]:
    return st.decimals(max_value=Decimal("-0.01"), allow_nan=False, allow_infinity=False, places=2)


def any_decimals() -> st.SearchStrategy[Decimal]:
    """Finite Decimals of either sign with any exponent: negative zero, 0E-30, 5E+2, 1.2300,
    -0.001, and amounts of up to 50 digits, far past anything Stripe charges."""
    return st.builds(
        lambda sign, digits, zeros, exponent: Decimal((sign, (*digits, *[0] * zeros), exponent)),
        st.integers(0, 1),
        st.lists(st.integers(0, 9), min_size=1, max_size=20),
        st.integers(0, 30),
        st.integers(-35, 15),
    )


def expected_money(amount: Decimal, currency: str) -> tuple[str, int | str]:
    """What Money must make of `amount` in `currency`, worked out on the Decimal's digits with
    Stripe's rules from the oracle: ("minor_units", n) or ("refused", the rule broken).
    Negative comes first, then payflow's own bound on size (`rules.MONEY_MAX_INTEGER_DIGITS`),
    then precision the currency cannot hold."""
    sign, digits, exponent = amount.as_tuple()
    assert isinstance(exponent, int)
    coefficient = int("".join(map(str, digits)))
    if coefficient == 0:
        return ("minor_units", 0)
    if sign:
        return ("refused", "negative")
    if len(str(coefficient)) + exponent > MONEY_MAX_INTEGER_DIGITS:
        return ("refused", "too_large")
    shift = exponent + minor_digits(currency)
    if shift < 0 and coefficient % 10**-shift:
        return ("refused", "decimal_places")
    minor_units = coefficient * 10**shift if shift >= 0 else coefficient // 10**-shift
    if minor_units % minor_units_step(currency):
        return ("refused", "decimal_places")
    return ("minor_units", minor_units)


def luhn_check_digit(partial: str) -> str:
    """The digit that makes `partial + digit` pass the Luhn check."""
    total = 0
    # Once the check digit is appended, every second digit from the right of `partial` doubles.
    for position, char in enumerate(reversed(partial)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def card_numbers() -> st.SearchStrategy[str]:
    """12 to 19 digits with a valid Luhn check digit."""
    return _digits(11, 18).map(lambda partial: partial + luhn_check_digit(partial))


def bad_luhn_card_numbers() -> st.SearchStrategy[str]:
    """12 to 19 digits whose last digit is not the Luhn check digit."""

    def wrong(partial: str, offset: int) -> str:
        return partial + str((int(luhn_check_digit(partial)) + offset) % 10)

    return st.builds(wrong, _digits(11, 18), st.integers(1, 9))


def cvcs() -> st.SearchStrategy[str]:
    return _digits(3, 4)


def bad_cvcs() -> st.SearchStrategy[str]:
    return st.one_of(_digits(0, 2), _digits(5, 8), st.text(min_size=3, max_size=4)).filter(
        lambda s: not (s.isascii() and s.isdigit() and 3 <= len(s) <= 4)
    )


def months() -> st.SearchStrategy[int]:
    return st.integers(min_value=1, max_value=12)


def bad_months() -> st.SearchStrategy[int]:
    return st.one_of(st.integers(max_value=0), st.integers(min_value=13))


def emails() -> st.SearchStrategy[str]:
    local = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._+-", min_size=1, max_size=20)
    label = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=15)
    tld = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=6)
    return st.builds(lambda lo, la, t: f"{lo}@{la}.{t}", local, label, tld)


def object_ids(prefix: str = "cus_") -> st.SearchStrategy[str]:
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return st.text(alphabet=alphabet, min_size=1, max_size=24).map(lambda s: prefix + s)


def api_keys() -> st.SearchStrategy[str]:
    """Stripe secret or restricted keys, test or live."""
    prefix = st.sampled_from(["sk_test_", "sk_live_", "rk_test_", "rk_live_"])
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    secret = st.text(alphabet=alphabet, min_size=24, max_size=99)
    return st.tuples(prefix, secret).map("".join)
