"""The pure parts of 3-D Secure: the return_url and payment id checks, and reading a PaymentIntent.

The JSON below is shaped after Stripe's API reference ("The PaymentIntent object",
https://docs.stripe.com/api/payment_intents/object), not after payflow's parser.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from payflow import (
    InvalidRequest,
    Money,
    OtherAction,
    PaymentError,
    RedirectToUrl,
    UseStripeSdk,
)
from payflow import _stripe_api as api
from payflow import _validate as check
from tests import stripe_currencies as stripe
from tests.payflow.strategies import minor_digits, object_ids

SECRET = "pi_3MtwBw_secret_YrKJUKribcBjcG8HVhfZluoGH"

# https://docs.stripe.com/payments/paymentintents/lifecycle
STRIPE_STATUSES = [
    "requires_payment_method",
    "requires_confirmation",
    "requires_action",
    "processing",
    "requires_capture",
    "canceled",
    "succeeded",
]

hosts = st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z]{2,6}){1,2}", fullmatch=True)
paths = st.from_regex(
    r"(/[A-Za-z0-9._~-]{0,12}){0,4}(\?[a-z]{1,5}=[A-Za-z0-9]{0,8})?", fullmatch=True
)


def texts_after(prefix: str) -> st.SearchStrategy[str]:
    """Any text after a prefix: the start of a URL, or nothing."""
    return st.text(max_size=40).map(lambda tail: prefix + tail)


def intent(**fields: Any) -> dict[str, Any]:
    """A PaymentIntent as Stripe sends it, with these fields changed."""
    data: dict[str, Any] = {
        "id": "pi_3MtwBw",
        "object": "payment_intent",
        "amount": 5000,
        "amount_received": 0,
        "currency": "eur",
        "customer": "cus_NffrFeUfNV2Hib",
        "payment_method": "pm_1MtwBw",
        "status": "requires_action",
        "client_secret": SECRET,
        "latest_charge": None,
        "last_payment_error": None,
        "next_action": None,
    }
    data.update(fields)
    return data


class TestReturnUrl:
    @given(hosts, paths)
    def test_https_urls_are_accepted_unchanged(self, host: str, path: str) -> None:
        """Any absolute https URL is returned as given."""
        url = f"https://{host}{path}"

        assert url == check.return_url(url)

    @pytest.mark.parametrize(
        "url",
        ["http://localhost/paid", "http://localhost:3000/paid?x=1", "http://127.0.0.1:8000/"],
    )
    def test_http_to_this_machine_is_accepted(self, url: str) -> None:
        """Plain http is accepted to localhost and 127.0.0.1, for development."""
        assert url == check.return_url(url)

    def test_none_is_none(self) -> None:
        """No return_url stays none."""
        assert check.return_url(None) is None

    @pytest.mark.parametrize(
        "url",
        [
            "http://shop.example/paid",
            "http://localhost.shop.example/",
            "http://127.0.0.1.shop.example/",
            "http://127.0.0.2/",
            "ftp://shop.example/",
            "javascript:alert(1)",
            "shop.example/paid",
            "//shop.example/paid",
            "/paid",
            "https://",
            "https:///paid",
            "https://user:password@shop.example/",
            "https://shop.example:99999/",
            "https://shop.example/a b",
            "https://shop.example\\@evil.example/",
            "https://shop.example/\n",
            "https://tienda.example/señal",
        ],
    )
    def test_others_are_refused_naming_the_field(self, url: str) -> None:
        """Any other text is an InvalidRequest on return_url, saying which hosts http may reach."""
        with pytest.raises(InvalidRequest) as raised:
            check.return_url(url)

        assert ("return_url", True) == (
            raised.value.field,
            "localhost or 127.0.0.1" in raised.value.message,
        )

    @pytest.mark.parametrize(
        ("url", "rule"),
        [(42, "type"), (b"https://shop.example/", "type"), ("", "empty"), ("  ", "empty")],
    )
    def test_non_strings_and_blanks_break_the_text_rules(self, url: object, rule: str) -> None:
        """A return_url that is not a string, or is blank, breaks the rules of any text."""
        with pytest.raises(InvalidRequest) as raised:
            check.return_url(url)

        assert ("return_url", rule) == (raised.value.field, raised.value.rule)

    def test_longer_than_stripe_takes_is_refused(self) -> None:
        """Stripe takes URLs of up to 5,000 characters."""
        with pytest.raises(InvalidRequest) as raised:
            check.return_url("https://shop.example/" + "a" * 4980)

        assert ("too_long", 5000) == (raised.value.rule, raised.value.params["max_length"])

    def test_the_longest_stripe_takes_is_accepted(self) -> None:
        """A URL of exactly 5,000 characters is accepted."""
        url = "https://shop.example/" + "a" * 4979

        assert url == check.return_url(url)

    @given(
        st.sampled_from(["", "https://", "HTTPS://", "http://", "http://localhost"]).flatmap(
            texts_after
        )
    )
    def test_any_text_is_refused_or_safe(self, text: str) -> None:
        """Text is refused on return_url, or is what httpx's own parser calls an https URL or
        an http URL to this machine: never a crash, never another host over http."""
        try:
            outcome: tuple[str, object] = ("accepted", check.return_url(text))
        except InvalidRequest as exc:
            outcome = ("refused", exc.field)

        assert outcome in {("accepted", text), ("refused", "return_url")}
        if outcome[0] == "accepted":
            parsed = httpx.URL(text)
            assert parsed.host
            assert parsed.scheme == "https" or parsed.host in {"localhost", "127.0.0.1"}


class TestPaymentId:
    @given(object_ids("pi_"))
    def test_payment_intent_ids_are_accepted(self, value: str) -> None:
        """A pi_ id is returned as given."""
        assert value == check.id_of_kind(value, "payment_id")

    @pytest.mark.parametrize("value", ["ch_123", "cus_123", "pi_", "pi 1", "pi_1/..", None, 7])
    def test_others_are_refused_naming_the_field(self, value: object) -> None:
        """Any other id, or no id, breaks the id rule on the named field, with a pi_ example."""
        with pytest.raises(InvalidRequest) as raised:
            check.id_of_kind(value, "payment_id")

        assert ("payment_id", "id", "pi_123abc") == (
            raised.value.field,
            raised.value.rule,
            raised.value.params["example"],
        )


class TestReadPayment:
    @pytest.mark.parametrize("status", STRIPE_STATUSES)
    def test_every_stripe_status_is_read(self, status: str) -> None:
        """Each of Stripe's PaymentIntent statuses is read as it is."""
        assert status == api.payment(intent(status=status)).status

    def test_an_unknown_status_is_not_read(self) -> None:
        """A status Stripe does not document is an answer payflow refuses to guess about."""
        with pytest.raises(ValueError, match="status"):
            api.payment(intent(status="paid"))

    def test_redirect_to_url(self) -> None:
        """next_action redirect_to_url gives its url and return_url."""
        action = {
            "type": "redirect_to_url",
            "redirect_to_url": {"url": "https://hooks.stripe.com/3ds", "return_url": "https://s/"},
        }

        assert RedirectToUrl(url="https://hooks.stripe.com/3ds", return_url="https://s/") == (
            api.payment(intent(next_action=action)).next_action
        )

    def test_use_stripe_sdk(self) -> None:
        """next_action use_stripe_sdk is read without its contents, which are Stripe.js's."""
        action = {"type": "use_stripe_sdk", "use_stripe_sdk": {"type": "three_d_secure_redirect"}}

        assert UseStripeSdk() == api.payment(intent(next_action=action)).next_action

    def test_other_next_action_keeps_its_type(self) -> None:
        """A next action of another kind is kept by its type."""
        action = {"type": "verify_with_microdeposits", "verify_with_microdeposits": {}}

        assert OtherAction("verify_with_microdeposits") == (
            api.payment(intent(next_action=action)).next_action
        )

    def test_last_payment_error(self) -> None:
        """last_payment_error gives Stripe's code, decline code and message."""
        error = {
            "type": "invalid_request_error",
            "code": "payment_intent_authentication_failure",
            "message": "The provided PaymentMethod has failed authentication.",
        }
        payment = api.payment(intent(status="requires_payment_method", last_payment_error=error))

        assert (
            PaymentError(
                code="payment_intent_authentication_failure",
                decline_code=None,
                message="The provided PaymentMethod has failed authentication.",
            )
            == payment.last_payment_error
        )

    def test_amount_refunded_is_the_charge_s(self) -> None:
        """The amount refunded so far is the expanded latest charge's amount_refunded."""
        charge = {
            "id": "ch_1",
            "amount": 5000,
            "amount_refunded": 1250,
            "currency": "eur",
            "paid": True,
            "status": "succeeded",
        }
        payment = api.payment(intent(status="succeeded", latest_charge=charge))

        assert Money.from_minor_units(1250, "eur") == payment.amount_refunded

    @pytest.mark.parametrize("currency", sorted(stripe.CHARGEABLE))
    def test_amounts_are_read_by_stripe_s_rule_for_the_currency(self, currency: str) -> None:
        """Minor units from Stripe are read by its documented rule for the currency: 5000 is
        5000 JPY, 50.00 EUR, 5.000 KWD, 50 ISK; so are the amounts refunded."""
        charge = {
            "id": "ch_1",
            "amount": 5000,
            "amount_refunded": 5000,
            "currency": currency,
            "paid": True,
            "status": "succeeded",
        }
        payment = api.payment(
            intent(amount=5000, currency=currency, status="succeeded", latest_charge=charge)
        )
        expected = Decimal((0, (5, 0, 0, 0), -minor_digits(currency)))

        assert (expected, expected, currency) == (
            payment.amount.amount,
            payment.amount_refunded.amount,
            payment.amount.currency,
        )

    def test_nothing_refunded_without_a_charge(self) -> None:
        """A payment without a charge has refunded nothing."""
        assert Money.from_minor_units(0, "eur") == api.payment(intent()).amount_refunded

    def test_client_secret_is_read_but_not_shown(self) -> None:
        """The client secret is on the payment, and in neither its repr nor its str."""
        payment = api.payment(intent())

        assert (SECRET, False, False) == (
            payment.client_secret,
            SECRET in repr(payment),
            SECRET in str(payment),
        )


def test_the_return_url_stays_out_of_the_repr() -> None:
    """A shop's return URL may carry its own secrets in its query: not in a repr."""
    action = RedirectToUrl(
        url="https://hooks.stripe.com/x", return_url="https://shop.example/?sess=SECRETQ"
    )

    assert "SECRETQ" not in repr(action)
