"""The Stripe requests the six steps make, and the values read from Stripe's answers.

Pure functions: nothing here does I/O. The parsers take Stripe's JSON as plain dicts, so no
`StripeObject` is ever built (that costs a third of a request's CPU: docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, cast, get_args
from urllib.parse import quote

import attrs

from ._models import (
    Card,
    CardToken,
    Charge,
    Customer,
    NextAction,
    OtherAction,
    Payment,
    PaymentError,
    PaymentStatus,
    RedirectToUrl,
    Refund,
    UseStripeSdk,
)
from ._money import Money

__all__ = ["Call", "card", "card_token", "charge", "customer", "payment", "refund"]

_STATUSES: Final[frozenset[str]] = frozenset(get_args(PaymentStatus))

Json = Mapping[str, Any]


@attrs.frozen
class Call:
    """One request to Stripe. `params` may hold card data, so it stays out of the repr."""

    method: str
    path: str
    params: Json = attrs.field(repr=False)
    idempotency_key: str | None = attrs.field(default=None, repr=False)


def path(template: str, *ids: str) -> str:
    """A path with each id URL-quoted (validated ids are already safe; this keeps them so)."""
    return template.format(*(quote(i, safe="") for i in ids))


def _id(value: object) -> str | None:
    """An id that Stripe may send bare or as an expanded object."""
    if isinstance(value, Mapping):
        value = value["id"]
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"expected an id, got {type(value).__name__}")


def _money(data: Json) -> Money:
    amount = data["amount"]
    if not isinstance(amount, int):
        raise TypeError("amount is not an integer")
    return Money.from_minor_units(amount, data["currency"])


def customer(data: Json) -> Customer:
    return Customer(id=data["id"], email=data.get("email"), name=data.get("name"),
                    phone=data.get("phone"))  # fmt: skip


def card(data: Json) -> Card:
    # Stripe spells brands "Visa", "American Express"; the HTTP contract shows "visa".
    return Card(id=data["id"], brand=str(data["brand"]).lower(), last4=data["last4"])


def card_token(data: Json) -> CardToken:
    saved = card(data["card"])
    return CardToken(id=data["id"], card_id=saved.id, brand=saved.brand, last4=saved.last4)


def charge(data: Json) -> Charge:
    amount = _money(data)
    refunded = _money({"amount": data.get("amount_refunded") or 0, "currency": amount.currency})
    return Charge(id=data["id"], amount=amount, paid=bool(data["paid"]), status=data["status"],
                  amount_refunded=refunded, refunded=bool(data.get("refunded")),
                  payment_id=_id(data.get("payment_intent")))  # fmt: skip


def _status(value: object) -> PaymentStatus:
    # An unknown status is an answer payflow cannot read, never one it guesses at.
    if value not in _STATUSES:
        raise ValueError("unknown PaymentIntent status")
    return cast(PaymentStatus, value)


# https://docs.stripe.com/api/payment_intents/object#payment_intent_object-next_action
def _next_action(data: Json | None) -> NextAction | None:
    if data is None:
        return None
    kind = data["type"]
    if kind == "redirect_to_url":
        redirect = data["redirect_to_url"]
        return RedirectToUrl(url=redirect["url"], return_url=redirect.get("return_url"))
    if kind == "use_stripe_sdk":
        return UseStripeSdk()
    return OtherAction(type=str(kind))


def _payment_error(data: Json | None) -> PaymentError | None:
    if data is None:
        return None
    return PaymentError(code=data.get("code"), decline_code=data.get("decline_code"),
                        message=data.get("message"))  # fmt: skip


def payment(data: Json) -> Payment:
    latest = data.get("latest_charge")
    if isinstance(latest, Mapping):
        charges: tuple[Charge, ...] = (charge(latest),)
        refunded = latest.get("amount_refunded") or 0
    else:
        # Older API versions list charges; a bare latest_charge id carries no details.
        listed = (data.get("charges") or {}).get("data", ())
        charges = tuple(charge(c) for c in listed)
        refunded = sum(c.get("amount_refunded") or 0 for c in listed)
    amount = _money(data)
    return Payment(
        id=data["id"],
        amount=amount,
        status=_status(data["status"]),
        customer_id=_id(data.get("customer")),
        payment_method=_id(data.get("payment_method")),
        charges=charges,
        amount_refunded=_money({"amount": refunded, "currency": amount.currency}),
        next_action=_next_action(data.get("next_action")),
        last_payment_error=_payment_error(data.get("last_payment_error")),
        client_secret=data.get("client_secret"),
    )


def refund(data: Json) -> Refund:
    charge_id = _id(data.get("charge"))
    if charge_id is None:
        raise TypeError("refund without a charge")
    return Refund(id=data["id"], amount=_money(data), charge_id=charge_id,
                  status=data["status"], reason=data.get("reason"))  # fmt: skip
