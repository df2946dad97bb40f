"""Reading Stripe's answers: behaviours mutation testing found untested (docs/mutation.md)."""

from __future__ import annotations

from typing import Any

from payflow import Money
from payflow import _stripe_api as api
from tests.payflow.test_payment_values import intent


def charge(charge_id: str, amount_refunded: int) -> dict[str, Any]:
    """A Charge as Stripe sends it (https://docs.stripe.com/api/charges/object)."""
    return {
        "id": charge_id,
        "object": "charge",
        "amount": 5000,
        "amount_refunded": amount_refunded,
        "currency": "eur",
        "paid": True,
        "status": "succeeded",
    }


def test_refunds_of_listed_charges_are_added_up() -> None:
    """API versions before 2022-11-15 list a PaymentIntent's charges instead of expanding its
    latest (https://docs.stripe.com/upgrades#2022-11-15); what each refunded is added up, and a
    charge that refunded nothing adds nothing."""
    listed = {"object": "list", "data": [charge("ch_1", 1250), charge("ch_2", 0)]}
    payment = api.payment(intent(status="succeeded", latest_charge="ch_2", charges=listed))

    assert (Money.from_minor_units(1250, "eur"), ("ch_1", "ch_2")) == (
        payment.amount_refunded,
        tuple(c.id for c in payment.charges),
    )


def test_a_latest_charge_that_refunded_nothing_has_refunded_nothing() -> None:
    """The expanded latest charge's amount_refunded of 0 is read as nothing refunded."""
    payment = api.payment(intent(status="succeeded", latest_charge=charge("ch_1", 0)))

    assert Money.from_minor_units(0, "eur") == payment.amount_refunded


def test_a_charge_says_what_it_refunded_and_whose_it_is() -> None:
    """A charge's amount_refunded is read as given, 0 when Stripe sends 0, and its
    payment_intent names the payment (https://docs.stripe.com/api/charges/object)."""
    partly = api.charge({**charge("ch_1", 1250), "payment_intent": "pi_1"})
    untouched = api.charge({**charge("ch_2", 0), "refunded": False})

    assert (1250, "pi_1", 0, False) == (
        partly.amount_refunded.minor_units, partly.payment_id,
        untouched.amount_refunded.minor_units, untouched.refunded,
    )  # fmt: skip


def test_a_call_s_repr_shows_neither_its_card_data_nor_its_key() -> None:
    """A request to Stripe may be logged or shown in a traceback: its repr names the method and
    the path, never the parameters (a card number, a CVC) nor the idempotency key."""
    card = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "987"}
    call = api.Call("post", "/v1/tokens", {"card": card}, "payflow:cards:key-4f1e")

    shown = repr(call)

    assert ("post", "/v1/tokens") == (call.method, call.path)
    assert "/v1/tokens" in shown
    assert [] == [part for part in ("4242424242424242", "987", "key-4f1e") if part in shown]
