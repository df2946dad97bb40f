"""Exact amounts of money and Stripe's rules for each currency.

Stripe sends amounts as integers in the currency's smallest unit, by its own rules rather than
ISO 4217's: https://docs.stripe.com/currencies#zero-decimal and #three-decimal. Conversion here is
exact: integer arithmetic on the Decimal's digits, or moving its point in a context that holds
every digit. Nothing goes through a float and nothing is rounded.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal
from typing import Final

import attrs

from ._errors import InvalidAmount, InvalidRequest
from .rules import MONEY_MAX_INTEGER_DIGITS

__all__ = [
    "CURRENCIES",
    "MAXIMUM_MINOR_UNITS",
    "MINIMUM_CHARGE",
    "Money",
    "major_units",
    "smallest_amount",
]

# Every currency Stripe can charge in (https://docs.stripe.com/currencies).
CURRENCIES: Final = frozenset(
    """
    aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob brl bsd bwp byn
    bzd cad cdf chf clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp gel gip gmd
    gnf gtq gyd hkd hnl htg huf idr ils inr isk jmd jod jpy kes kgs khr kmf krw kwd kyd kzt lak
    lbp lkr lrd lsl mad mdl mga mkd mmk mnt mop mur mvr mwk mxn myr mzn nad ngn nio nok npr nzd
    omr pab pen pgk php pkr pln pyg qar ron rsd rub rwf sar sbd scr sek sgd shp sle sos srd std
    szl thb tjs tnd top try ttd twd tzs uah ugx usd uyu uzs vnd vuv wst xaf xcd xof xpf yer zar
    zmw
    """.split()
)

# Decimal places of the amount Stripe expects for each currency: how far the decimal point moves.
_ZERO_DECIMAL: Final = frozenset(
    "bif clp djf gnf jpy kmf krw mga pyg rwf vnd vuv xaf xof xpf".split()
)
_THREE_DECIMAL: Final = frozenset("bhd jod kwd omr tnd".split())
# ISK and UGX are zero-decimal, yet Stripe takes them multiplied by 100 and only in whole units.
_WHOLE_UNITS_TIMES_100: Final = frozenset({"isk", "ugx"})

# Stripe's minimum charge per settlement currency, in major units
# (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts). For currencies not
# listed the minimum is one minor unit and Stripe has the last word.
MINIMUM_CHARGE: Final[dict[str, Decimal]] = {
    code: Decimal(value)
    for code, value in {
        "usd": "0.50", "aed": "2.00", "aud": "0.50", "bgn": "1.00", "brl": "0.50",
        "cad": "0.50", "chf": "0.50", "czk": "15.00", "dkk": "2.50", "eur": "0.50",
        "gbp": "0.30", "hkd": "4.00", "huf": "175.00", "inr": "0.50", "jpy": "50",
        "mxn": "10", "myr": "2", "nok": "3.00", "nzd": "0.50", "pln": "2.00",
        "ron": "2.00", "sek": "3.00", "sgd": "0.50", "thb": "10",
    }.items()
}  # fmt: skip

# Stripe's largest amount in minor units: eight digits, but twelve for IDR and nine for INR
# (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts). Card networks may
# allow less (IDR with American Express: nine digits); Stripe has the last word there.
MAXIMUM_MINOR_UNITS: Final = 99_999_999
_MAXIMUM_MINOR_UNITS_IN: Final[Mapping[str, int]] = {"idr": 999_999_999_999, "inr": 999_999_999}

# Whatever the caller's context: this one rounds nothing, so moving the point is exact.
_EXACT: Final = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)


def _rule(currency: str) -> tuple[int, int]:
    """(exponent, places): minor units = amount * 10**exponent; at most `places` decimals."""
    if currency in _ZERO_DECIMAL:
        return 0, 0
    if currency in _WHOLE_UNITS_TIMES_100:
        return 2, 0
    if currency in _THREE_DECIMAL:
        # The last of the three minor digits must be 0: Stripe rounds it away otherwise.
        return 3, 2
    return 2, 2


def _currency(value: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"currency must be a str, not {type(value).__name__}")
    code = value.lower()
    if code not in CURRENCIES:
        raise InvalidRequest(f"unknown currency {value[:10]!r}", field="currency", rule="currency")
    return code


def _decimal(value: Decimal | int) -> Decimal:
    # bool is an int: refuse it explicitly. Floats are refused: they cannot hold most decimals.
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    raise TypeError(
        f"amount must be a Decimal or an int, not {type(value).__name__}"
        " (build it from a string: Decimal('19.99'))"
    )


@attrs.frozen
class Money:
    """An exact, non-negative amount in one currency. Never built from a float."""

    amount: Decimal = attrs.field(converter=_decimal)
    currency: str = attrs.field(default="eur", converter=_currency)

    @amount.validator
    def _check(self, attribute: attrs.Attribute[Decimal], amount: Decimal) -> None:
        if not amount.is_finite():
            raise InvalidAmount(
                f"amount must be a finite number, not {amount}", field="amount", rule="not_finite"
            )
        if amount < 0:
            raise InvalidAmount("amount must not be negative", field="amount", rule="negative")
        # adjusted() is the exponent of the leading digit: cheap whatever the value.
        if not amount.is_zero() and amount.adjusted() >= MONEY_MAX_INTEGER_DIGITS:
            raise InvalidAmount(
                f"amount must have fewer than {MONEY_MAX_INTEGER_DIGITS} digits before the point",
                field="amount",
                rule="too_large",
                params={"max_integer_digits": MONEY_MAX_INTEGER_DIGITS},
            )
        _, places = _rule(self.currency)
        _, digits, exponent = amount.as_tuple()
        assert isinstance(exponent, int)  # finite, checked above
        excess = -(exponent + places)  # how many digits stand past the last allowed place
        # Only the digits are looked at: a hostile exponent or coefficient stays cheap.
        if excess > 0 and any(digits[-excess:]):
            raise InvalidAmount(
                f"{self.currency.upper()} amounts take at most {places} decimal places;"
                f" {amount} would have to be rounded",
                field="amount",
                rule="decimal_places",
                params={"places": places, "currency": self.currency},
            )

    @property
    def minor_units(self) -> int:
        """The integer Stripe expects: cents for EUR, yen for JPY, fils*1000 for KWD."""
        exponent, _ = _rule(self.currency)
        _, digits, shift = self.amount.as_tuple()
        assert isinstance(shift, int)  # finite, checked by the validator
        shift += exponent
        if shift < 0:
            # Past the currency's last place the validator lets only zeros through: drop them,
            # so that "1." and sixty thousand zeros costs no more than "1".
            digits, shift = digits[:shift], 0
        # At most MONEY_MAX_INTEGER_DIGITS + 3 digits and as many zeros are left to join.
        coefficient = 0
        for digit in digits:
            coefficient = coefficient * 10 + digit
        return coefficient * 10**shift  # type: ignore[no-any-return]  # typeshed: int ** int is Any

    @classmethod
    def from_minor_units(cls, minor_units: int, currency: str = "eur") -> Money:
        """The Money that Stripe means by `minor_units` of `currency`."""
        if not isinstance(minor_units, int) or isinstance(minor_units, bool):
            raise TypeError(f"minor_units must be an int, not {type(minor_units).__name__}")
        code = _currency(currency)
        return cls(major_units(minor_units, code), code)


def major_units(minor_units: int, currency: str) -> Decimal:
    """`minor_units` of a (known, lower-case) currency as a Decimal amount, exactly."""
    exponent, _ = _rule(currency)
    # Decimal(int) is exact and has no limit on digits (unlike f"{int}"); scaleb() in the
    # caller's context would round to its precision (28 digits by default), in _EXACT never.
    return Decimal(minor_units).scaleb(-exponent, _EXACT)


def maximum_minor_units(currency: str) -> int:
    """The largest amount Stripe takes in a (known, lower-case) currency, in its minor units."""
    return _MAXIMUM_MINOR_UNITS_IN.get(currency, MAXIMUM_MINOR_UNITS)


def smallest_amount(currency: str) -> Decimal:
    """The smallest non-zero amount a (known, lower-case) currency can hold."""
    _, places = _rule(currency)
    return Decimal(f"1E-{places}")
