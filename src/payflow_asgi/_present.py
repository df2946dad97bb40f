"""payflow values to the spec's response bodies: the envelope, the `data` shapes, orjson bytes.

Each `Presenter` is a function with the JSON schema of what it returns, so the OpenAPI document
describes exactly what is sent. Amounts leave as integers in the currency's minor units
(`Money.minor_units`), as the spec shows (`"amount": 5000` for 50.00 EUR), never as floats.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, Generic, TypeVar, get_args

import attrs
import orjson
from starlette.responses import Response

import payflow
import payflow.webhooks

from ._messages import Language, render

__all__ = [
    "CARD",
    "CARD_TOKEN",
    "CONFIRMED_PAYMENT",
    "CUSTOMER",
    "EVENTS",
    "ID",
    "PAYMENT",
    "PAYMENT_STATE",
    "RECEIVED",
    "REFUND",
    "EnvelopeResponse",
    "Presenter",
    "failure",
    "success",
]

Data = dict[str, Any]
Schema = dict[str, Any]
T = TypeVar("T")

ID: Final[Schema] = {"type": "string", "pattern": f"^{payflow.rules.ID_PATTERN}$"}
_TEXT: Final[Schema] = {"type": "string", "minLength": 1}
_NULLABLE_TEXT: Final[Schema] = {"type": ["string", "null"]}
_CURRENCY: Final[Schema] = {"type": "string", "examples": ["eur"]}
_MINOR_UNITS: Final[Schema] = {
    "type": "integer",
    "minimum": 0,
    "description": "In the currency's smallest unit: 5000 is 50.00 EUR.",
}


class EnvelopeResponse(Response):
    """A JSON response encoded with orjson, saying which language its message is in."""

    media_type = "application/json"

    def __init__(
        self,
        content: Data,
        language: Language,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(content, status_code, {**(headers or {}), "Content-Language": language})

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def success(key: str, data: Data, language: Language) -> EnvelopeResponse:
    """The spec's success envelope. Always 200, as the Express original's `res.json` sent."""
    return EnvelopeResponse(
        {"status": True, "message": render(key, language), "data": data}, language
    )


def failure(
    status: int,
    message: str,
    error: Data,
    language: Language,
    headers: Mapping[str, str] | None = None,
) -> EnvelopeResponse:
    """The error envelope: `status: false`, a message and what went wrong."""
    body = {"status": False, "message": message, "error": error}
    return EnvelopeResponse(body, language, status, headers)


@attrs.frozen
class Presenter(Generic[T]):
    """How a route shows a payflow value as `data`: the function, and its schema's name and
    properties (required ones, and those present only in some answers)."""

    name: str
    properties: Mapping[str, Schema]
    present: Callable[[T], Data]
    optional: Mapping[str, Schema] = attrs.field(factory=dict, kw_only=True)

    @property
    def schema(self) -> Schema:
        properties = {**self.properties, **self.optional}
        return {"type": "object", "properties": properties, "required": [*self.properties]}


CUSTOMER: Final = Presenter[payflow.Customer](
    "Customer",
    {"id": ID, "email": _NULLABLE_TEXT, "name": _NULLABLE_TEXT, "phone": _NULLABLE_TEXT},
    lambda value: {"id": value.id, "email": value.email, "name": value.name, "phone": value.phone},
)

CARD_TOKEN: Final = Presenter[payflow.CardToken](
    "CardToken",
    {"token_id": ID, "card_id": ID, "card_brand": _TEXT, "card_last4": _TEXT},
    lambda value: {
        "token_id": value.id,
        "card_id": value.card_id,
        "card_brand": value.brand,
        "card_last4": value.last4,
    },
)

CARD: Final = Presenter[payflow.Card](
    "Card",
    {"cardId": ID, "brand": _TEXT, "last4": _TEXT},
    lambda value: {"cardId": value.id, "brand": value.brand, "last4": value.last4},
)

PAYMENT: Final = Presenter[payflow.Payment](
    "Payment",
    {
        "id": ID,
        "amount": _MINOR_UNITS,
        "currency": _CURRENCY,
        "status": _TEXT,
        "customer": {"type": ["string", "null"]},
        "payment_method": {"type": ["string", "null"]},
    },
    lambda value: {
        "id": value.id,
        "amount": value.amount.minor_units,
        "currency": value.amount.currency,
        "status": value.status,
        "customer": value.customer_id,
        "payment_method": value.payment_method,
    },
)

_CHARGE: Final = Presenter[payflow.Charge](
    "Charge",
    {"id": ID, "amount": _MINOR_UNITS, "paid": {"type": "boolean"}, "status": _TEXT},
    lambda value: {
        "id": value.id,
        "amount": value.amount.minor_units,
        "paid": value.paid,
        "status": value.status,
    },
)

_NEXT_ACTION: Final[Schema] = {
    "description": (
        "What the payer must do before the payment can succeed: redirect_to_url (send the"
        " payer's browser to url; it comes back to return_url) or use_stripe_sdk (Stripe.js"
        " with client_secret)."
    ),
    "type": ["object", "null"],
    "properties": {
        "type": {"type": "string", "examples": ["redirect_to_url", "use_stripe_sdk"]},
        "url": {"type": "string"},
        "return_url": {"type": ["string", "null"]},
    },
    "required": ["type"],
}
_CLIENT_SECRET: Final[Schema] = {
    "type": "string",
    "description": "For the payer's browser only (Stripe.js); never log it.",
}


def _next_action(action: payflow.NextAction | None) -> Data | None:
    if action is None:
        return None
    if isinstance(action, payflow.RedirectToUrl):
        return {"type": action.type, "url": action.url, "return_url": action.return_url}
    return {"type": action.type}


def _authentication(value: payflow.Payment) -> Data:
    """While the payer must authenticate: what to do, and the secret Stripe.js needs for it."""
    if value.status != "requires_action":
        return {}
    return {"next_action": _next_action(value.next_action), "client_secret": value.client_secret}


def _charges(value: payflow.Payment) -> Data:
    # The spec's confirm response: Stripe's old `charges` list shape.
    return {"data": [_CHARGE.present(charge) for charge in value.charges]}


_CHARGES: Final[Schema] = {
    "type": "object",
    "properties": {"data": {"type": "array", "items": _CHARGE.schema}},
    "required": ["data"],
}

# The spec's confirm response (without customer and payment_method); while the payer must
# authenticate (3-D Secure), with next_action and client_secret as well.
CONFIRMED_PAYMENT: Final = Presenter[payflow.Payment](
    "ConfirmedPayment",
    {
        "id": ID,
        "amount": _MINOR_UNITS,
        "currency": _CURRENCY,
        "status": _TEXT,
        "charges": _CHARGES,
    },
    lambda value: {
        "id": value.id,
        "amount": value.amount.minor_units,
        "currency": value.amount.currency,
        "status": value.status,
        "charges": _charges(value),
        **_authentication(value),
    },
    optional={"next_action": _NEXT_ACTION, "client_secret": _CLIENT_SECRET},
)

_PAYMENT_ERROR: Final[Schema] = {
    "description": "Why the latest attempt failed: payment_intent_authentication_failure when"
    " 3-D Secure failed, card_declined with its decline_code, ...",
    "type": ["object", "null"],
    "properties": {
        "code": {"type": ["string", "null"]},
        "decline_code": {"type": ["string", "null"]},
        "message": {"type": ["string", "null"]},
    },
    "required": ["code", "decline_code", "message"],
}


def _payment_error(error: payflow.PaymentError | None) -> Data | None:
    if error is None:
        return None
    return {"code": error.code, "decline_code": error.decline_code, "message": error.message}


# A payment as it stands: the confirm shape, with what a shop needs to decide (only "succeeded"
# means paid).
PAYMENT_STATE: Final = Presenter[payflow.Payment](
    "PaymentState",
    {
        **PAYMENT.properties,
        "charges": _CHARGES,
        "amount_refunded": _MINOR_UNITS,
        "next_action": _NEXT_ACTION,
        "last_payment_error": _PAYMENT_ERROR,
    },
    lambda value: {
        **PAYMENT.present(value),
        "charges": _charges(value),
        "amount_refunded": value.amount_refunded.minor_units,
        "next_action": _next_action(value.next_action),
        "last_payment_error": _payment_error(value.last_payment_error),
        **_authentication(value),
    },
    optional={"client_secret": _CLIENT_SECRET},
)

REFUND: Final = Presenter[payflow.Refund](
    "Refund",
    {
        "id": ID,
        "amount": _MINOR_UNITS,
        "charge": ID,
        "status": _TEXT,
        "reason": {"type": ["string", "null"]},
    },
    lambda value: {
        "id": value.id,
        "amount": value.amount.minor_units,
        "charge": value.charge_id,
        "status": value.status,
        "reason": value.reason,
    },
)

# A delivery accepted: which event, and whether its handlers ran now ("handled"), had run
# before ("duplicate") or were none ("unhandled").
RECEIVED: Final = Presenter[payflow.webhooks.Received](
    "ReceivedEvent",
    {
        "id": _TEXT,
        "type": _TEXT,
        "outcome": {"enum": list(get_args(payflow.webhooks.Outcome))},
    },
    lambda value: {"id": value.event.id, "type": value.event.type, "outcome": value.outcome},
)

_RECORDED_EVENT: Final[Schema] = {
    "type": "object",
    "properties": {
        "id": _TEXT,
        "type": {"type": "string", "examples": ["payment_intent.succeeded", "charge.refunded"]},
        "created": {"type": "integer", "description": "When Stripe created it, Unix seconds."},
        "received": {"type": "string", "format": "date-time"},
        "livemode": {"type": "boolean"},
        "handled": {"type": "boolean", "description": "Whether its handlers have all run."},
        "object": {
            "type": "object",
            "description": (
                "The object as the event showed it: id, object (payment_intent, charge, refund"
                " or another kind), and for those three their status, amount and currency"
                " (minor units), and what they refer to."
            ),
        },
    },
    "required": ["id", "type", "created", "received", "livemode", "handled", "object"],
}


def _recorded(stored: payflow.webhooks.StoredEvent) -> Data:
    record = stored.record
    return {
        "id": record.id,
        "type": record.type,
        "created": record.created,
        "received": stored.received.isoformat(),
        "livemode": record.livemode,
        "handled": stored.handled,
        "object": orjson.loads(record.summary),
    }


EVENTS: Final = Presenter[list[payflow.webhooks.StoredEvent]](
    "RecordedEvents",
    {"events": {"type": "array", "items": _RECORDED_EVENT}},
    lambda value: {"events": [_recorded(stored) for stored in value]},
)
