"""payflow values to the spec's response bodies: the envelope, the `data` shapes, orjson bytes.

Amounts leave as integers in the currency's minor units (`Money.minor_units`), as the spec shows
(`"amount": 5000` for 50.00 EUR), never as floats.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import orjson
from starlette.responses import Response

import payflow

__all__ = [
    "MESSAGES",
    "EnvelopeResponse",
    "card",
    "card_token",
    "confirmed_payment",
    "customer",
    "failure",
    "payment",
    "refund",
    "success",
]

# The spec's success message of each route, by route name.
MESSAGES: Final[Mapping[str, str]] = {
    "customers": "Cliente creado correctamente",
    "cards": "Tarjeta tokenizada correctamente",
    "cards.assign": "Tarjeta añadida con éxito",
    "payments": "Intento de pago creado correctamente",
    "payments.confirm": "Pago confirmado correctamente",
    "payments.refund": "Reembolso creado correctamente",
    "health": "Servicio disponible",
}

Data = dict[str, Any]


class EnvelopeResponse(Response):
    """A JSON response encoded with orjson."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def success(route: str, data: Data) -> EnvelopeResponse:
    """The spec's success envelope. Always 200, as the Express original's `res.json` sent."""
    return EnvelopeResponse({"status": True, "message": MESSAGES[route], "data": data})


def failure(
    status: int, message: str, error: Data, headers: Mapping[str, str] | None = None
) -> EnvelopeResponse:
    """The error envelope: `status: false`, a Spanish message and what went wrong."""
    body = {"status": False, "message": message, "error": error}
    return EnvelopeResponse(body, status_code=status, headers=headers)


def customer(value: payflow.Customer) -> Data:
    return {"id": value.id, "email": value.email, "name": value.name, "phone": value.phone}


def card_token(value: payflow.CardToken) -> Data:
    return {
        "token_id": value.id,
        "card_id": value.card_id,
        "card_brand": value.brand,
        "card_last4": value.last4,
    }


def card(value: payflow.Card) -> Data:
    return {"cardId": value.id, "brand": value.brand, "last4": value.last4}


def payment(value: payflow.Payment) -> Data:
    return {
        "id": value.id,
        "amount": value.amount.minor_units,
        "currency": value.amount.currency,
        "status": value.status,
        "customer": value.customer_id,
        "payment_method": value.payment_method,
    }


def _charge(value: payflow.Charge) -> Data:
    return {
        "id": value.id,
        "amount": value.amount.minor_units,
        "paid": value.paid,
        "status": value.status,
    }


def confirmed_payment(value: payflow.Payment) -> Data:
    # The spec's confirm response: Stripe's old `charges` list shape, without customer and
    # payment_method.
    return {
        "id": value.id,
        "amount": value.amount.minor_units,
        "currency": value.amount.currency,
        "status": value.status,
        "charges": {"data": [_charge(charge) for charge in value.charges]},
    }


def refund(value: payflow.Refund) -> Data:
    return {
        "id": value.id,
        "amount": value.amount.minor_units,
        "charge": value.charge_id,
        "status": value.status,
        "reason": value.reason,
    }
