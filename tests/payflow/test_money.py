"""Money: exact amounts, Stripe's rules for each currency, and conversion to minor units."""

from __future__ import annotations

import time
from decimal import Decimal, localcontext
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from payflow import InvalidAmount, InvalidRequest, Money, PayflowError
from payflow._money import CURRENCIES, major_units
from tests.payflow.strategies import (
    THREE_DECIMAL,
    WHOLE_UNITS_TIMES_100,
    ZERO_DECIMAL,
    any_decimals,
    currencies,
    currencies_with_a_step,
    currency_and_amount_string,
    currency_and_excess_string,
    currency_and_minor_units,
    expected_minor_units,
    expected_money,
    mixed_case,
    negative_decimals,
    refused_minor_units,
)


class TestConstruction:
    def test_default_currency_is_eur(self) -> None:
        """Money without a currency is in euros."""
        assert "eur" == Money(Decimal("1")).currency

    def test_amount_is_kept_as_given(self) -> None:
        """The Decimal passed in is the amount held."""
        assert Decimal("19.99") == Money(Decimal("19.99"), "usd").amount

    def test_int_amount_becomes_decimal(self) -> None:
        """An int amount is held as the equal Decimal."""
        money = Money(5, "eur")

        assert (Decimal, Decimal(5)) == (type(money.amount), money.amount)

    @pytest.mark.parametrize("amount", [8.2, 19.99, 0.0, float("nan")])
    def test_float_is_refused(self, amount: float) -> None:
        """A float amount is refused with TypeError: it cannot hold most decimals."""
        with pytest.raises(TypeError):
            Money(amount)  # type: ignore[arg-type]  # the refusal under test; mypy refuses too

    @pytest.mark.parametrize("amount", [True, False])
    def test_bool_is_refused(self, amount: bool) -> None:
        """A bool amount is refused with TypeError, although bool is an int."""
        with pytest.raises(TypeError):
            Money(amount)

    @pytest.mark.parametrize("amount", ["19.99", "5", ""])
    def test_str_is_refused(self, amount: str) -> None:
        """A str amount is refused with TypeError."""
        with pytest.raises(TypeError):
            Money(amount)  # type: ignore[arg-type]  # the refusal under test

    @pytest.mark.parametrize("amount", [None, [1], b"1"])
    def test_other_types_are_refused(self, amount: Any) -> None:
        """Anything but a Decimal or an int is refused with TypeError."""
        with pytest.raises(TypeError):
            Money(amount)

    @pytest.mark.parametrize("amount", ["NaN", "sNaN", "-NaN", "Infinity", "-Infinity"])
    def test_non_finite_is_refused(self, amount: str) -> None:
        """NaN and infinities are refused with InvalidAmount naming the amount."""
        with pytest.raises(InvalidAmount) as info:
            Money(Decimal(amount))

        assert "amount" == info.value.field

    @given(negative_decimals())
    def test_negative_is_refused(self, amount: Decimal) -> None:
        """A negative amount is refused with InvalidAmount."""
        with pytest.raises(InvalidAmount):
            Money(amount, "usd")

    def test_negative_zero_is_zero(self) -> None:
        """-0 is not negative: it is zero."""
        assert 0 == Money(Decimal("-0")).minor_units

    def test_invalid_amount_is_a_value_error_and_a_payflow_error(self) -> None:
        """InvalidAmount can be caught as ValueError, as PayflowError and as InvalidRequest."""
        with pytest.raises(InvalidAmount) as info:
            Money(Decimal("-1"))

        assert (True, True, True) == (
            isinstance(info.value, ValueError),
            isinstance(info.value, PayflowError),
            isinstance(info.value, InvalidRequest),
        )

    def test_invalid_amount_code(self) -> None:
        """InvalidAmount has the stable code invalid_amount."""
        with pytest.raises(InvalidAmount) as info:
            Money(Decimal("NaN"))

        assert "invalid_amount" == info.value.code


class TestCurrency:
    @pytest.mark.parametrize("code", ["xyz", "euro", "", "EU", "e u r", "btc"])
    def test_unknown_currency_is_refused(self, code: str) -> None:
        """A code Stripe does not charge in is refused with InvalidRequest naming currency."""
        with pytest.raises(InvalidRequest) as info:
            Money(Decimal("1"), code)

        assert "currency" == info.value.field

    def test_unknown_currency_is_refused_by_from_minor_units(self) -> None:
        """from_minor_units refuses an unknown code as the constructor does."""
        with pytest.raises(InvalidRequest) as info:
            Money.from_minor_units(100, "xyz")

        assert "currency" == info.value.field

    def test_non_str_currency_is_refused(self) -> None:
        """A currency that is not a str is refused with TypeError."""
        with pytest.raises(TypeError):
            Money(Decimal("1"), 978)  # type: ignore[arg-type]  # the refusal under test

    @given(currencies().flatmap(lambda c: st.tuples(st.just(c), mixed_case(c))))
    def test_codes_are_case_insensitive_and_stored_lower_case(self, codes: tuple[str, str]) -> None:
        """Any mix of cases is accepted and stored lower case."""
        code, spelled = codes

        assert code == Money(Decimal("1"), spelled).currency

    def test_upper_case_money_equals_lower_case_money(self) -> None:
        """Money in "EUR" equals the same Money in "eur"."""
        assert Money(Decimal("1"), "eur") == Money(Decimal("1"), "EUR")

    def test_stripe_special_currencies_are_known(self) -> None:
        """Every zero-, three-decimal and ISK/UGX currency of Stripe's docs is chargeable."""
        special = ZERO_DECIMAL | THREE_DECIMAL | WHOLE_UNITS_TIMES_100

        assert set() == special - CURRENCIES

    def test_currency_is_part_of_equality(self) -> None:
        """The same amount in two currencies is not equal."""
        assert Money(Decimal("1"), "eur") != Money(Decimal("1"), "usd")


class TestEquality:
    def test_trailing_zeros_are_equal(self) -> None:
        """Money(1.0) equals Money(1.00)."""
        assert Money(Decimal("1.0")) == Money(Decimal("1.00"))

    def test_trailing_zeros_hash_alike(self) -> None:
        """Money(1.0) and Money(1.00) hash alike, so they are one key in a dict."""
        assert hash(Money(Decimal("1.0"))) == hash(Money(Decimal("1.00")))

    def test_set_of_equal_moneys_has_one_member(self) -> None:
        """Equal amounts written differently collapse in a set."""
        assert 1 == len({Money(Decimal("1")), Money(Decimal("1.0")), Money(Decimal("1.00"))})

    @given(currency_and_amount_string())
    def test_equal_amounts_equal_minor_units(self, currency_text: tuple[str, str]) -> None:
        """An amount and its from_minor_units round trip are equal Money."""
        currency, text = currency_text
        money = Money(Decimal(text), currency)

        assert money == Money.from_minor_units(money.minor_units, currency)

    def test_money_is_frozen(self) -> None:
        """Money cannot be changed after construction."""
        money = Money(Decimal("1"))

        with pytest.raises(AttributeError):
            money.amount = Decimal("2")  # type: ignore[misc]


class TestMinorUnits:
    @pytest.mark.parametrize(
        ("amount", "currency", "minor_units"),
        [
            # int(8.2 * 100) == 819, int(19.99 * 100) == 1998: the float bugs this prevents.
            ("8.20", "eur", 820),
            ("8.2", "eur", 820),
            ("19.99", "usd", 1999),
            ("4.35", "eur", 435),
            ("0.57", "eur", 57),
            ("1.15", "gbp", 115),
            ("50.00", "eur", 5000),
            ("0", "eur", 0),
            ("1.230", "kwd", 1230),
            ("1.23", "kwd", 1230),
            ("0.010", "bhd", 10),
            ("5", "isk", 500),
            ("5.00", "isk", 500),
            ("5", "ugx", 500),
            ("500", "jpy", 500),
            ("500.0", "jpy", 500),
            ("1E+3", "jpy", 1000),
            ("1E+2", "eur", 10000),
            ("999999.99", "eur", 99_999_999),
        ],
    )
    def test_examples(self, amount: str, currency: str, minor_units: int) -> None:
        """Worked examples, including those a float conversion gets wrong."""
        assert minor_units == Money(Decimal(amount), currency).minor_units

    @pytest.mark.parametrize(
        ("amount", "currency"),
        [
            ("1.235", "kwd"),
            ("1.001", "bhd"),
            ("5.5", "isk"),
            ("5.01", "ugx"),
            ("500.5", "jpy"),
            ("0.1", "krw"),
            ("19.999", "eur"),
            ("0.001", "usd"),
            ("0.0010", "usd"),
        ],
    )
    def test_excess_precision_examples_are_refused(self, amount: str, currency: str) -> None:
        """An amount the currency cannot hold is refused, never rounded."""
        with pytest.raises(InvalidAmount) as info:
            Money(Decimal(amount), currency)

        assert "amount" == info.value.field

    @given(currency_and_minor_units())
    def test_from_minor_units_round_trips(self, currency_minor: tuple[str, int]) -> None:
        """from_minor_units(m, c).minor_units == m for every m the currency accepts."""
        currency, minor_units = currency_minor

        assert minor_units == Money.from_minor_units(minor_units, currency).minor_units

    @given(
        currencies_with_a_step().flatmap(lambda c: st.tuples(st.just(c), refused_minor_units(c)))
    )
    def test_from_minor_units_refuses_what_the_currency_cannot_take(
        self, currency_minor: tuple[str, int]
    ) -> None:
        """ISK/UGX minor units must be multiples of 100, three-decimal ones multiples of 10."""
        currency, minor_units = currency_minor

        with pytest.raises(InvalidAmount):
            Money.from_minor_units(minor_units, currency)

    @given(currencies(), st.integers(max_value=-1))
    def test_from_minor_units_refuses_negatives(self, currency: str, minor_units: int) -> None:
        """Negative minor units are refused with InvalidAmount."""
        with pytest.raises(InvalidAmount):
            Money.from_minor_units(minor_units, currency)

    @pytest.mark.parametrize("minor_units", [1.0, True, "100", Decimal(100)])
    def test_from_minor_units_takes_only_int(self, minor_units: Any) -> None:
        """from_minor_units refuses anything but an int with TypeError."""
        with pytest.raises(TypeError):
            Money.from_minor_units(minor_units, "eur")

    def test_from_minor_units_stores_lower_case(self) -> None:
        """from_minor_units accepts a code in any case and stores it lower case."""
        assert Money(Decimal("12.34"), "usd") == Money.from_minor_units(1234, "USD")

    @given(currency_and_amount_string())
    def test_agrees_with_integer_computation_on_digits(
        self, currency_text: tuple[str, str]
    ) -> None:
        """minor_units equals the integer built from the decimal string's own digits."""
        currency, text = currency_text

        assert expected_minor_units(text, currency) == Money(Decimal(text), currency).minor_units

    @given(currency_and_excess_string())
    def test_excess_precision_is_never_accepted(self, currency_text: tuple[str, str]) -> None:
        """An amount with a non-zero digit past the currency's precision is refused."""
        currency, text = currency_text

        with pytest.raises(InvalidAmount):
            Money(Decimal(text), currency)

    @given(currency_and_amount_string(), st.integers(min_value=0, max_value=20))
    def test_trailing_zeros_never_change_minor_units(
        self, currency_text: tuple[str, str], zeros: int
    ) -> None:
        """Writing more trailing zeros changes neither acceptance nor minor units."""
        currency, text = currency_text
        padded = text + ("" if "." in text else ".") + "0" * zeros

        assert (
            Money(Decimal(text), currency).minor_units
            == Money(Decimal(padded), currency).minor_units
        )

    @given(currencies(), any_decimals())
    @example("xpf", Decimal("5"))
    @example("jpy", Decimal("-0"))
    @example("eur", Decimal("-0E-30"))
    @example("kwd", Decimal("0E+30"))
    @example("jpy", Decimal("5E+2"))
    @example("isk", Decimal("5.00E+1"))
    @example("ugx", Decimal("5.1"))
    @example("kwd", Decimal("1.2300"))
    @example("bhd", Decimal("1.235"))
    @example("usd", Decimal("-0.001"))
    @example("eur", Decimal("99999999999999999.99"))
    @example("eur", Decimal("1E+17"))
    def test_any_decimal_is_converted_or_refused_by_stripe_s_rules(
        self, currency: str, amount: Decimal
    ) -> None:
        """Any finite Decimal (either sign, any exponent, negative zero, fifty digits) in any
        currency of Stripe's page gives the minor units worked out from its digits by the
        page's rules, or is refused naming the rule it breaks."""
        try:
            actual: tuple[str, int | str] = ("minor_units", Money(amount, currency).minor_units)
        except InvalidAmount as refused:
            actual = ("refused", str(refused.rule))

        assert expected_money(amount, currency) == actual

    def test_minor_units_is_an_int(self) -> None:
        """minor_units is a plain int, ready for Stripe."""
        assert int is type(Money(Decimal("19.99")).minor_units)


class TestHostileAmounts:
    """Exponents and digit counts chosen to make naive code build enormous integers."""

    @pytest.mark.parametrize("currency", ["eur", "jpy", "kwd", "isk"])
    def test_tiny_exponent_is_refused_fast(self, currency: str) -> None:
        """1E-999999999 is refused with InvalidAmount at once, not after building 10**1e9."""
        start = time.perf_counter()

        with pytest.raises(InvalidAmount):
            Money(Decimal("1E-999999999"), currency)

        assert time.perf_counter() - start < 0.5

    def test_zero_with_tiny_exponent_is_zero(self) -> None:
        """0E-999999999 is exactly zero, and its minor units are computed fast."""
        assert 0 == Money(Decimal("0E-999999999")).minor_units

    @pytest.mark.parametrize(
        "amount", ["1" * 5000 + "E-5000", "1." + "0" * 5000 + "1", "0." + "1" * 5000]
    )
    def test_many_digits_of_excess_precision_are_refused(self, amount: str) -> None:
        """An amount with thousands of digits of excess precision is an InvalidAmount too."""
        start = time.perf_counter()

        with pytest.raises(InvalidAmount):
            Money(Decimal(amount))

        assert time.perf_counter() - start < 0.5

    @pytest.mark.parametrize("amount", ["1E+999999999", "1E+18", "1" * 19, "1234567890123456789.5"])
    def test_huge_amounts_are_refused_fast(self, amount: str) -> None:
        """Money holds fewer than 18 digits before the point: 1E+999999999 is an InvalidAmount at
        once, naming the bound, instead of a value whose minor units take minutes to compute."""
        start = time.perf_counter()

        with pytest.raises(InvalidAmount) as info:
            Money(Decimal(amount))

        assert time.perf_counter() - start < 0.5
        assert ("too_large", {"max_integer_digits": 18}) == (info.value.rule, info.value.params)

    @pytest.mark.parametrize("currency", ["eur", "jpy", "kwd", "isk"])
    def test_the_largest_money_is_converted_fast(self, currency: str) -> None:
        """Just below the bound, with sixty thousand trailing zeros, minor units stay cheap."""
        amount = Decimal("9" * 17 + "." + "0" * 60_000)
        start = time.perf_counter()

        units = Money(amount, currency).minor_units

        assert time.perf_counter() - start < 0.5
        assert int("9" * 17) * {"eur": 100, "jpy": 1, "kwd": 1000, "isk": 100}[currency] == units


def test_amounts_from_stripe_are_exact_whatever_the_decimal_context() -> None:
    """An application that lowers Decimal's precision still reads 123456 cents as 1234.56 EUR
    and 99,999,999 fils as 99999.999 KWD: nothing read from Stripe goes through the context's
    rounding."""
    with localcontext() as context:
        context.prec = 4
        read = (Money.from_minor_units(123456, "eur"), major_units(99_999_999, "kwd"))

    assert (Decimal("1234.56"), Decimal("99999.999")) == (read[0].amount, read[1])
    assert 123456 == read[0].minor_units
