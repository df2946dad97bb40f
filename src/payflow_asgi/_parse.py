"""Requests to step arguments: the body read as exact JSON, each field checked and named as in
the spec, the Idempotency-Key header namespaced per route.

Only JSON types are checked here (a string, an integer, an amount); what the values must be
(an e-mail address, a valid card number, a Stripe id) is the library's to check.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Final, NoReturn, TypedDict

from starlette.requests import Request

import payflow

from ._errors import Problem
from ._settings import Settings

__all__ = [
    "AssignArgs",
    "CardArgs",
    "ConfirmArgs",
    "CustomerArgs",
    "PaymentArgs",
    "RefundArgs",
    "assign",
    "card",
    "confirm",
    "customer",
    "payment",
    "refund",
]

Body = dict[str, object]

# Namespaced as "payflow:<route>:<key>", the key stays within Stripe's 255 characters.
_IDEMPOTENCY_KEY: Final = re.compile(r"[\x21-\x7e]{1,200}")
# An amount sent as a JSON string: digits, and optionally a point and more digits.
_AMOUNT_TEXT: Final = re.compile(r"[0-9]{1,20}(?:\.[0-9]{1,20})?")


class CustomerArgs(TypedDict):
    email: str
    name: str | None
    phone: str | None
    idempotency_key: str | None


class CardArgs(TypedDict):
    number: str
    exp_month: int
    exp_year: int
    cvc: str
    idempotency_key: str | None


class AssignArgs(TypedDict):
    customer_id: str
    source: str
    idempotency_key: str | None


class PaymentArgs(TypedDict):
    customer_id: str
    amount: payflow.Money
    payment_method: str
    idempotency_key: str | None


class ConfirmArgs(TypedDict):
    payment_id: str
    idempotency_key: str | None


class RefundArgs(TypedDict):
    charge_id: str
    amount: payflow.Money | None
    reason: str | None
    idempotency_key: str | None


def _is_json(content_type: str | None) -> bool:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _too_large(limit: int) -> Problem:
    return Problem(
        413, "payload_too_large", f"El cuerpo de la petición supera el límite de {limit} bytes."
    )


def _malformed() -> Problem:
    return Problem(400, "invalid_json", "El cuerpo de la petición no es un JSON válido.")


def _refuse_constant(name: str) -> NoReturn:
    # NaN, Infinity and -Infinity are not JSON.
    raise ValueError(f"{name} is not JSON")


async def _body(request: Request, settings: Settings) -> Body:
    limit = settings.max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and (len(declared) > 18 or int(declared) > limit):
        raise _too_large(limit)
    if not _is_json(request.headers.get("content-type")):
        raise Problem(
            415,
            "unsupported_media_type",
            "El cuerpo de la petición debe ser JSON, con la cabecera"
            " Content-Type: application/json.",
        )
    # Straight from the ASGI messages: Starlette's `stream()` generator cost ~2% of the CPU.
    received = bytearray()
    more_body = True
    while more_body:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise Problem(400, "client_disconnected", "El cliente cerró la conexión.")
        received += message.get("body", b"")
        more_body = message.get("more_body", False)
        if len(received) > limit:
            raise _too_large(limit)
    try:
        # parse_float=Decimal: 19.99 stays exactly 19.99, never the float 19.989999...
        data = json.loads(
            received.decode("utf-8"), parse_float=Decimal, parse_constant=_refuse_constant
        )
    except (UnicodeDecodeError, ValueError, RecursionError, InvalidOperation):
        # ValueError covers JSONDecodeError and integers beyond Python's 4300 digits;
        # InvalidOperation, numbers whose exponent Decimal cannot hold (1e-9999999999999999999).
        raise _malformed() from None
    if not isinstance(data, dict):
        raise Problem(
            400, "invalid_json", "El cuerpo de la petición debe ser un objeto JSON ({...})."
        )
    return data


def _idempotency_key(request: Request, route: str) -> str | None:
    keys = request.headers.getlist("idempotency-key")
    if not keys:
        return None
    if len(keys) > 1 or not _IDEMPOTENCY_KEY.fullmatch(keys[0]):
        raise Problem(
            400,
            "invalid_request",
            "La cabecera Idempotency-Key debe enviarse una sola vez y tener de 1 a 200"
            " caracteres ASCII imprimibles, sin espacios.",
            field="Idempotency-Key",
        )
    # One key on two routes must not collide at Stripe.
    return f"payflow:{route}:{keys[0]}"


def _missing(field: str) -> Problem:
    return Problem(400, "invalid_request", f"Falta el campo obligatorio «{field}».", field=field)


def _string(body: Body, field: str) -> str:
    value = body.get(field)
    if value is None:
        raise _missing(field)
    if not isinstance(value, str):
        raise Problem(400, "invalid_request", f"El campo «{field}» debe ser un texto.", field=field)
    if not value.isascii():
        try:
            # JSON lets a lone surrogate ("\ud800") through; it cannot be sent on to Stripe.
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise Problem(
                400,
                "invalid_request",
                f"El campo «{field}» contiene caracteres que no son Unicode válido.",
                field=field,
            ) from None
    return value


def _optional_string(body: Body, field: str) -> str | None:
    return None if body.get(field) is None else _string(body, field)


def _integer(body: Body, field: str) -> int:
    value = body.get(field)
    if value is None:
        raise _missing(field)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Problem(
            400, "invalid_request", f"El campo «{field}» debe ser un número entero.", field=field
        )
    return value


def _amount(body: Body, currency: str) -> payflow.Money:
    value = body.get("amount")
    if value is None:
        raise _missing("amount")
    if isinstance(value, str) and _AMOUNT_TEXT.fullmatch(value):
        value = Decimal(value)
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise Problem(
            400,
            "invalid_request",
            'El campo «amount» debe ser un importe, como el número 50.00 o el texto "50.00".',
            field="amount",
        )
    try:
        return payflow.Money(value, currency)
    except payflow.InvalidAmount:
        if value < 0:
            message = "El campo «amount» no puede ser negativo."
        else:
            message = (
                f"El campo «amount» tiene más decimales de los que admite la moneda"
                f" ({currency.upper()}); no se redondea."
            )
        raise Problem(400, "invalid_amount", message, field="amount") from None


async def customer(request: Request, settings: Settings) -> CustomerArgs:
    body = await _body(request, settings)
    return CustomerArgs(
        email=_string(body, "email"),
        name=_optional_string(body, "name"),
        phone=_optional_string(body, "phone"),
        idempotency_key=_idempotency_key(request, "customers"),
    )


async def card(request: Request, settings: Settings) -> CardArgs:
    body = await _body(request, settings)
    return CardArgs(
        number=_string(body, "number"),
        exp_month=_integer(body, "exp_month"),
        exp_year=_integer(body, "exp_year"),
        cvc=_string(body, "cvc"),
        idempotency_key=_idempotency_key(request, "cards"),
    )


async def assign(request: Request, settings: Settings) -> AssignArgs:
    body = await _body(request, settings)
    return AssignArgs(
        customer_id=_string(body, "userId"),
        source=_string(body, "source"),
        idempotency_key=_idempotency_key(request, "cards.assign"),
    )


async def payment(request: Request, settings: Settings) -> PaymentArgs:
    body = await _body(request, settings)
    return PaymentArgs(
        customer_id=_string(body, "customer_id"),
        amount=_amount(body, settings.currency),
        payment_method=_string(body, "payment_method"),
        idempotency_key=_idempotency_key(request, "payments"),
    )


async def confirm(request: Request, settings: Settings) -> ConfirmArgs:
    body = await _body(request, settings)
    return ConfirmArgs(
        payment_id=_string(body, "paymentId"),
        idempotency_key=_idempotency_key(request, "payments.confirm"),
    )


async def refund(request: Request, settings: Settings) -> RefundArgs:
    body = await _body(request, settings)
    return RefundArgs(
        charge_id=_string(body, "chargeId"),
        # Without an amount, Stripe refunds what remains of the charge.
        amount=None if body.get("amount") is None else _amount(body, settings.currency),
        reason=_optional_string(body, "reason"),
        idempotency_key=_idempotency_key(request, "payments.refund"),
    )
