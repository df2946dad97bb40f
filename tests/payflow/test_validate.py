"""The checks each step makes on its input before any network call."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payflow import InvalidAmount, InvalidRequest, Money
from payflow import _validate as check
from tests.payflow.strategies import (
    bad_cvcs,
    bad_luhn_card_numbers,
    bad_months,
    card_numbers,
    currencies,
    cvcs,
    emails,
    luhn_check_digit,
    maximum_minor_units,
    minor_units_step,
    months,
    object_ids,
)

TODAY = dt.date(2026, 6, 15)
VISA = "4242424242424242"


def card(**overrides: Any) -> tuple[str, int, int, str]:
    """check.card with a valid card, some of whose fields are overridden."""
    fields: dict[str, Any] = {
        "number": VISA,
        "exp_month": 12,
        "exp_year": 2030,
        "cvc": "123",
        "today": TODAY,
    }
    fields.update(overrides)
    return check.card(**fields)


def card_error(**overrides: Any) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as info:
        card(**overrides)
    return info.value


class TestEmail:
    @given(emails())
    def test_addresses_are_accepted_unchanged(self, address: str) -> None:
        """A plausible e-mail address is returned as given."""
        assert address == check.email(address)

    @pytest.mark.parametrize(
        "value",
        [
            "",
            "   ",
            "john",
            "john@",
            "@example.com",
            "john@example",
            "jo hn@example.com",
            "john@@example.com",
            "john@example.",
            "a@b@c.com",
        ],
    )
    def test_malformed_addresses_are_refused(self, value: str) -> None:
        """Something that is not an e-mail address is refused naming the email field."""
        with pytest.raises(InvalidRequest) as info:
            check.email(value)

        assert "email" == info.value.field

    @pytest.mark.parametrize("value", [None, 42, b"john@example.com"])
    def test_non_strings_are_refused(self, value: object) -> None:
        """An email that is not a str is an InvalidRequest, not a TypeError."""
        with pytest.raises(InvalidRequest) as info:
            check.email(value)

        assert "email" == info.value.field

    def test_overlong_address_is_refused(self) -> None:
        """An address longer than 512 characters is refused."""
        with pytest.raises(InvalidRequest) as info:
            check.email("a" * 510 + "@example.com")

        assert "email" == info.value.field


class TestOptionalText:
    def test_none_is_none(self) -> None:
        """An absent optional field stays absent."""
        assert None is check.optional_text(None, "name", max_length=256)

    def test_text_is_kept(self) -> None:
        """A present optional field is returned unchanged."""
        assert "John Doe" == check.optional_text("John Doe", "name", max_length=256)

    @pytest.mark.parametrize("value", ["", "  ", "x" * 21, 34612345678, "+34\ud800"])
    def test_bad_text_names_its_field(self, value: object) -> None:
        """Empty, blank, overlong, non-string or unencodable (lone surrogate) text is refused
        naming the field."""
        with pytest.raises(InvalidRequest) as info:
            check.optional_text(value, "phone", max_length=20)

        assert "phone" == info.value.field


class TestObjectId:
    @given(st.sampled_from(["cus_", "tok_", "card_", "pm_", "pi_", "ch_"]).flatmap(object_ids))
    def test_stripe_ids_are_accepted(self, value: str) -> None:
        """Ids shaped like Stripe's are returned unchanged."""
        assert value == check.object_id(value, "customer_id")

    @pytest.mark.parametrize(
        "value",
        [
            *["", "cus 1", "cus_1/../../v1/charges", "cus_1?expand=x", "cus_é", "cus_" + "x" * 252],
            *["4242424242424242", "_4242", "cus_", "12_34", None, 1],
        ],
    )
    def test_malformed_ids_are_refused(self, value: object) -> None:
        """An id that could not be Stripe's (or would change the URL path) is refused."""
        with pytest.raises(InvalidRequest) as info:
            check.object_id(value, "customer_id")

        assert "customer_id" == info.value.field

    def test_trailing_newline_is_refused(self) -> None:
        """A trailing newline does not slip past the id pattern."""
        with pytest.raises(InvalidRequest):
            check.object_id("cus_1\n", "customer_id")


class TestLuhn:
    @pytest.mark.parametrize(
        ("partial", "digit"),
        [("424242424242424", "2"), ("7992739871", "3"), ("400000000000000", "2")],
    )
    def test_strategy_check_digit_matches_known_numbers(self, partial: str, digit: str) -> None:
        """The tests' own Luhn digit agrees with published valid numbers."""
        assert digit == luhn_check_digit(partial)

    @given(card_numbers())
    def test_luhn_valid_numbers_pass(self, number: str) -> None:
        """Every number with a correct Luhn check digit is accepted."""
        assert number == card(number=number)[0]

    @given(bad_luhn_card_numbers())
    def test_luhn_invalid_numbers_are_refused(self, number: str) -> None:
        """A number whose check digit is wrong is refused naming the number field."""
        assert "number" == card_error(number=number).field


class TestCard:
    def test_valid_card_is_returned(self) -> None:
        """A valid card comes back as (digits, month, year, cvc)."""
        assert (VISA, 12, 2030, "123") == card()

    def test_spaces_in_number_are_removed(self) -> None:
        """A number written in groups of four is accepted and sent without spaces."""
        assert VISA == card(number="4242 4242 4242 4242")[0]

    @pytest.mark.parametrize(
        "number", ["", "4242", "4" * 11, "4" * 20, "4242-4242-4242-4242", "424242424242424x"]
    )
    def test_malformed_numbers_are_refused(self, number: str) -> None:
        """Fewer than 12 or more than 19 digits, or non-digits, are refused."""
        assert "number" == card_error(number=number).field

    @pytest.mark.parametrize("number", [4242424242424242, None])
    def test_non_string_number_is_refused(self, number: object) -> None:
        """A card number must be a string."""
        assert "number" == card_error(number=number).field

    def test_non_ascii_digits_are_refused(self) -> None:
        """Unicode digits that int() would accept are not card digits."""
        assert "number" == card_error(number="٤٢٤٢٤٢٤٢٤٢٤٢٤٢٤٢").field

    @given(months())
    def test_months_1_to_12_are_accepted(self, month: int) -> None:
        """Every month from 1 to 12 is accepted."""
        assert month == card(exp_month=month)[1]

    @given(bad_months())
    def test_months_outside_1_to_12_are_refused(self, month: int) -> None:
        """A month outside 1 to 12 is refused naming exp_month."""
        assert "exp_month" == card_error(exp_month=month).field

    @pytest.mark.parametrize("month", ["12", 12.0, True])
    def test_non_int_month_is_refused(self, month: object) -> None:
        """A month must be an int: not a str, a float or a bool."""
        assert "exp_month" == card_error(exp_month=month).field

    @pytest.mark.parametrize("year", ["2030", 2030.0, True, 30, 10000])
    def test_malformed_year_is_refused(self, year: object) -> None:
        """A year must be a four-digit int."""
        assert "exp_year" == card_error(exp_year=year).field

    def test_card_expiring_this_month_is_accepted(self) -> None:
        """A card is valid through the end of its expiry month."""
        assert (6, 2026) == card(exp_month=6, exp_year=2026)[1:3]

    @pytest.mark.parametrize(("month", "year"), [(5, 2026), (12, 2025), (1, 2000)])
    def test_expired_card_is_refused(self, month: int, year: int) -> None:
        """A card whose expiry month is past is refused naming the expiry."""
        assert "exp_year" == card_error(exp_month=month, exp_year=year).field

    def test_card_is_valid_on_the_last_day_of_its_month(self) -> None:
        """On the last day of the expiry month, judged by the injected today, the card is valid."""
        assert (1, 2026) == card(exp_month=1, exp_year=2026, today=dt.date(2026, 1, 31))[1:3]

    def test_card_has_expired_the_next_day(self) -> None:
        """The day after its expiry month, judged by the injected today, the card is refused."""
        error = card_error(exp_month=1, exp_year=2026, today=dt.date(2026, 2, 1))

        assert "exp_year" == error.field

    @given(cvcs())
    def test_cvc_of_3_or_4_digits_is_accepted(self, cvc: str) -> None:
        """A CVC of three or four digits is accepted."""
        assert cvc == card(cvc=cvc)[3]

    @given(bad_cvcs())
    def test_other_cvcs_are_refused(self, cvc: str) -> None:
        """A CVC that is not 3 or 4 ASCII digits is refused naming cvc."""
        assert "cvc" == card_error(cvc=cvc).field

    @pytest.mark.parametrize("cvc", [123, None])
    def test_non_string_cvc_is_refused(self, cvc: object) -> None:
        """A CVC must be a string (an int would lose leading zeros)."""
        assert "cvc" == card_error(cvc=cvc).field


class TestCardErrorsKeepSecrets:
    @given(
        card_numbers(),
        cvcs(),
        st.sampled_from([{"exp_month": 13}, {"exp_month": "x"}, {"exp_year": 1999}]),
    )
    def test_other_fields_errors_never_contain_number_or_cvc(
        self, number: str, cvc: str, bad: dict[str, Any]
    ) -> None:
        """An error about another field holds neither the number nor the CVC."""
        error = card_error(number=number, cvc=cvc, **bad)
        shown = str(error) + repr(error)

        assert (False, False) == (number in shown, cvc in shown)

    @given(bad_luhn_card_numbers(), cvcs())
    def test_luhn_error_never_contains_number_or_cvc(self, number: str, cvc: str) -> None:
        """The Luhn failure repeats neither the number (not even its last four) nor the CVC."""
        error = card_error(number=number, cvc=cvc)
        shown = str(error) + repr(error)

        assert (False, False, False) == (number in shown, number[-4:] in shown, cvc in shown)

    @given(st.text(alphabet="0123456789", min_size=5, max_size=8))
    def test_cvc_error_never_contains_the_cvc(self, cvc: str) -> None:
        """The CVC failure does not repeat the CVC."""
        error = card_error(cvc=cvc)

        assert False is (cvc in str(error) + repr(error))


class TestChargeable:
    @pytest.mark.parametrize(
        ("minimum", "currency"),
        [
            ("0.50", "eur"),
            ("0.50", "usd"),
            ("0.30", "gbp"),
            ("50", "jpy"),
            ("175.00", "huf"),
            ("15.00", "czk"),
            ("2.50", "dkk"),
            ("10", "mxn"),
            ("4.00", "hkd"),
        ],
    )
    def test_minimum_is_accepted(self, minimum: str, currency: str) -> None:
        """Stripe's minimum charge for the currency is itself chargeable."""
        money = Money(Decimal(minimum), currency)

        assert money == check.chargeable(money)

    @pytest.mark.parametrize(
        ("below", "currency"),
        [("0.49", "eur"), ("0.49", "usd"), ("0.29", "gbp"), ("49", "jpy"), ("174.99", "huf")],
    )
    def test_below_minimum_is_refused(self, below: str, currency: str) -> None:
        """One minor unit under Stripe's minimum is refused before any network call."""
        with pytest.raises(InvalidAmount) as info:
            check.chargeable(Money(Decimal(below), currency))

        assert "amount" == info.value.field

    def test_below_minimum_message_names_the_minimum(self) -> None:
        """The refusal says what the minimum is."""
        with pytest.raises(InvalidAmount) as info:
            check.chargeable(Money(Decimal("0.10"), "eur"))

        assert "the minimum charge in EUR is 0.50" == info.value.message

    @given(currencies())
    def test_zero_is_never_chargeable(self, currency: str) -> None:
        """Nothing can be charged in any currency, and the error names the minimum."""
        with pytest.raises(InvalidAmount) as info:
            check.chargeable(Money(Decimal(0), currency))

        assert (
            "amount",
            f"the minimum charge in {currency.upper()} is",
        ) == (info.value.field, info.value.message.rsplit(" ", 1)[0])

    @given(currencies())
    def test_maximum_is_chargeable(self, currency: str) -> None:
        """The largest amount Stripe takes, in every currency, is chargeable."""
        step = minor_units_step(currency)
        money = Money.from_minor_units(maximum_minor_units(currency) // step * step, currency)

        assert money == check.chargeable(money)

    @given(currencies())
    def test_above_maximum_is_refused(self, currency: str) -> None:
        """Above the digits Stripe takes in minor units, nothing is chargeable."""
        step = minor_units_step(currency)
        money = Money.from_minor_units((maximum_minor_units(currency) // step + 1) * step, currency)

        with pytest.raises(InvalidAmount) as info:
            check.chargeable(money)

        assert "amount" == info.value.field

    @pytest.mark.parametrize(
        ("amount", "currency"), [("5", "isk"), ("1000", "ugx"), ("1.230", "kwd"), ("10", "bhd")]
    )
    def test_special_currencies_are_chargeable(self, amount: str, currency: str) -> None:
        """Ordinary ISK, UGX and three-decimal amounts are chargeable."""
        money = Money(Decimal(amount), currency)

        assert money == check.chargeable(money)

    def test_unlisted_currency_takes_one_minor_unit(self) -> None:
        """Where Stripe lists no minimum, one minor unit is chargeable; Stripe has the last word."""
        money = Money(Decimal("0.01"), "zar")

        assert money == check.chargeable(money)

    @pytest.mark.parametrize("value", [Decimal("10"), 1000, None, "10.00"])
    def test_non_money_is_refused(self, value: object) -> None:
        """The amount must be a payflow.Money."""
        with pytest.raises(InvalidRequest) as info:
            check.chargeable(value)

        assert "amount" == info.value.field


class TestRefundable:
    def test_one_minor_unit_is_refundable(self) -> None:
        """Refunds have no minimum beyond being more than zero."""
        money = Money(Decimal("0.01"), "eur")

        assert money == check.refundable(money)

    def test_zero_is_refused(self) -> None:
        """A refund of zero is refused naming amount."""
        with pytest.raises(InvalidAmount) as info:
            check.refundable(Money(Decimal(0)))

        assert "amount" == info.value.field

    def test_above_maximum_is_refused(self) -> None:
        """A refund above Stripe's maximum is refused."""
        with pytest.raises(InvalidAmount) as info:
            check.refundable(Money(Decimal("1000000.00"), "eur"))

        assert "amount" == info.value.field

    @pytest.mark.parametrize(("amount", "currency"), [("5", "isk"), ("1.230", "kwd")])
    def test_special_currencies_are_refundable(self, amount: str, currency: str) -> None:
        """Ordinary ISK and three-decimal amounts are refundable."""
        money = Money(Decimal(amount), currency)

        assert money == check.refundable(money)

    def test_non_money_is_refused(self) -> None:
        """The amount must be a payflow.Money."""
        with pytest.raises(InvalidRequest) as info:
            check.refundable(Decimal("1"))

        assert "amount" == info.value.field


class TestReason:
    @pytest.mark.parametrize("reason", ["duplicate", "fraudulent", "requested_by_customer", None])
    def test_stripe_reasons_are_accepted(self, reason: str | None) -> None:
        """Stripe's three refund reasons, or none, are accepted."""
        assert reason == check.reason(reason)

    @pytest.mark.parametrize("reason", ["", "other", "DUPLICATE", "expired_uncaptured_charge", 1])
    def test_other_reasons_are_refused(self, reason: object) -> None:
        """Anything else is refused naming reason, and the message lists the choices."""
        with pytest.raises(InvalidRequest) as info:
            check.reason(reason)

        assert (
            "reason",
            "reason must be one of: duplicate, fraudulent, requested_by_customer",
        ) == (
            info.value.field,
            info.value.message,
        )


class TestRulesAndParameters:
    """Each refusal names the rule it broke with the rule's parameters, so an adapter can say
    what would be accepted in any language (docs: https://docs.stripe.com/api/customers/create,
    https://docs.stripe.com/api/refunds/create, https://docs.stripe.com/currencies)."""

    @pytest.mark.parametrize(
        ("refuse", "expected"),
        [
            (lambda: check.email("no"), ("email", "email", {})),
            (lambda: check.email(" "), ("email", "empty", {})),
            (lambda: check.optional_text("x" * 257, "name", max_length=256),
             ("name", "too_long", {"max_length": 256})),
            (lambda: check.object_id(VISA, "source"),
             ("source", "id", {"example": "tok_123abc"})),
            (lambda: check.object_id("x", "charge_id"),
             ("charge_id", "id", {"example": "ch_123abc"})),
            # A client secret sent as an id would reach a URL, and the SDK's log lines.
            (lambda: check.object_id("pi_1ABC_secret_xyz", "payment_id"),
             ("payment_id", "id", {"example": "pi_123abc"})),
            (lambda: card(number="42"),
             ("number", "card_number", {"min_digits": 12, "max_digits": 19})),
            (lambda: card(number="4242424242424241"), ("number", "luhn", {})),
            (lambda: card(exp_month=13), ("exp_month", "range", {"minimum": 1, "maximum": 12})),
            (lambda: card(exp_year=2020), ("exp_year", "expired", {})),
            (lambda: card(cvc="12"), ("cvc", "cvc", {"min_digits": 3, "max_digits": 4})),
            (lambda: check.chargeable(Money(Decimal("0.49"))),
             ("amount", "below_minimum", {"minimum": Decimal("0.50"), "currency": "eur"})),
            (lambda: check.chargeable(Money(49, "jpy")),
             ("amount", "below_minimum", {"minimum": Decimal("50"), "currency": "jpy"})),
            (lambda: check.chargeable(Money(Decimal("1000000"))),
             ("amount", "above_maximum", {"maximum": Decimal("999999.99"), "currency": "eur"})),
            (lambda: check.refundable(Money(0)), ("amount", "zero", {})),
            (lambda: check.reason("because"), ("reason", "choice", {
                "allowed": ("duplicate", "fraudulent", "requested_by_customer")})),
            (lambda: check.idempotency_key("k" * 250, namespace="payflow:x:"),
             ("idempotency_key", "idempotency_key", {"max_length": 245})),
            (lambda: Money(Decimal("1.005")),
             ("amount", "decimal_places", {"places": 2, "currency": "eur"})),
            (lambda: Money(Decimal("-1")), ("amount", "negative", {})),
        ],
    )  # fmt: skip
    def test_the_rule_and_its_parameters(self, refuse: Any, expected: tuple[Any, ...]) -> None:
        with pytest.raises(InvalidRequest) as info:
            refuse()

        assert expected == (info.value.field, info.value.rule, dict(info.value.params))

    @given(st.text(max_size=300))
    def test_the_namespaced_key_stays_within_stripes_255(self, key: str) -> None:
        """A key is accepted with its namespace only if the whole is at most 255 printable
        ASCII characters (https://docs.stripe.com/api/idempotent_requests)."""
        namespace = "payflow:payments.confirm:"
        fits = 0 < len(key) <= 255 - len(namespace) and all(33 <= ord(c) <= 126 for c in key)
        try:
            accepted = check.idempotency_key(key, namespace=namespace)
        except InvalidRequest:
            assert not fits
        else:
            assert (True, namespace + key) == (fits, accepted)
