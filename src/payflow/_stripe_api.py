"""The Stripe requests the six steps make, and the values read from Stripe's answers.

Pure functions: nothing here does I/O. The parsers take Stripe's JSON as plain dicts, so no
`StripeObject` is ever built (that costs a third of a request's CPU: docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import attrs

from ._models import Card, CardToken, Charge, Customer, Payment, Refund
from ._money import Money

__all__ = ["Call", "card", "card_token", "charge", "customer", "payment", "refund"]

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
    return Charge(id=data["id"], amount=_money(data), paid=bool(data["paid"]),
                  status=data["status"])  # fmt: skip


def payment(data: Json) -> Payment:
    latest = data.get("latest_charge")
    if isinstance(latest, Mapping):
        charges: tuple[Charge, ...] = (charge(latest),)
    else:
        # Older API versions list charges; a bare latest_charge id carries no details.
        charges = tuple(charge(c) for c in (data.get("charges") or {}).get("data", ()))
    return Payment(
        id=data["id"],
        amount=_money(data),
        status=data["status"],
        customer_id=_id(data.get("customer")),
        payment_method=_id(data.get("payment_method")),
        charges=charges,
    )


def refund(data: Json) -> Refund:
    charge_id = _id(data.get("charge"))
    if charge_id is None:
        raise TypeError("refund without a charge")
    return Refund(id=data["id"], amount=_money(data), charge_id=charge_id,
                  status=data["status"], reason=data.get("reason"))  # fmt: skip
