"""Requests to step arguments: the body read as exact JSON, each field's JSON type checked, the
Idempotency-Key header namespaced per route.

Only the JSON shape is checked here (a string, an integer, an amount); what the values must be
(an e-mail address, a valid card number, a Stripe id, an amount Stripe can charge) is the
library's to check, by the rules in `payflow.rules`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Final, Literal, NoReturn

from starlette.requests import Request

import payflow

from ._errors import Problem

__all__ = [
    "AMOUNT_TEXT",
    "Body",
    "Kind",
    "body",
    "field",
    "idempotency_key",
    "namespace",
    "raw_body",
]

Body = dict[str, object]
# The JSON type of a request field: text, an integer, or an amount (a number, or a numeric text);
# or the body's bytes as sent (a webhook's, whose signature covers them).
Kind = Literal["string", "integer", "amount", "bytes"]

# An amount sent as a JSON string: digits, and optionally a point and more digits.
AMOUNT_TEXT: Final = r"[0-9]{1,20}(?:\.[0-9]{1,20})?"
_AMOUNT_TEXT: Final = re.compile(AMOUNT_TEXT)


def _is_json(content_type: str | None) -> bool:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _too_large(limit: int) -> Problem:
    return Problem(413, "payload_too_large", params={"limit": limit})


def _refuse_constant(name: str) -> NoReturn:
    # NaN, Infinity and -Infinity are not JSON.
    raise ValueError(f"{name} is not JSON")


# parse_float=Decimal: 19.99 stays exactly 19.99, never the float 19.989999... Built once: what
# `json.loads` does with these arguments on every call (5 µs a request, measured).
_JSON: Final = json.JSONDecoder(parse_float=Decimal, parse_constant=_refuse_constant)


def _refuse_declared(request: Request, max_bytes: int) -> None:
    declared = request.headers.get("content-length", "")
    if (
        declared.isascii()
        and declared.isdigit()
        and (len(declared) > 18 or int(declared) > max_bytes)
    ):
        raise _too_large(max_bytes)


async def raw_body(request: Request, max_bytes: int) -> bytes:
    """The request's body as sent, read up to `max_bytes`."""
    _refuse_declared(request, max_bytes)
    # Straight from the ASGI messages: Starlette's `stream()` generator cost ~2% of the CPU.
    received = bytearray()
    more_body = True
    while more_body:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise Problem(400, "client_disconnected")
        received += message.get("body", b"")
        more_body = message.get("more_body", False)
        if len(received) > max_bytes:
            raise _too_large(max_bytes)
    return bytes(received)


async def body(request: Request, max_bytes: int) -> Body:
    """The request's JSON object, read up to `max_bytes`, numbers with a point as Decimals."""
    _refuse_declared(request, max_bytes)
    if not _is_json(request.headers.get("content-type")):
        raise Problem(415, "unsupported_media_type")
    received = await raw_body(request, max_bytes)
    try:
        data = _JSON.decode(received.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError, InvalidOperation):
        # ValueError covers JSONDecodeError and integers beyond Python's 4300 digits;
        # InvalidOperation, numbers whose exponent Decimal cannot hold (1e-9999999999999999999).
        raise Problem(400, "invalid_json") from None
    if not isinstance(data, dict):
        raise Problem(400, "invalid_json", "not_an_object")
    return data


def field(
    data: Mapping[str, object], name: str, kind: Kind, *, required: bool, currency: str
) -> object:
    """The value of the field `name`, of JSON type `kind` (amounts as Money in `currency`);
    None for an optional field left out or null."""
    value = data.get(name)
    if value is None:
        if required:
            raise Problem(400, "invalid_request", "missing", field=name)
        return None
    if kind == "bytes":
        return value
    if kind == "string":
        if not isinstance(value, str):
            raise Problem(400, "invalid_request", "not_string", field=name)
        return value
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise Problem(400, "invalid_request", "not_integer", field=name)
        return value
    if isinstance(value, str) and _AMOUNT_TEXT.fullmatch(value):
        value = Decimal(value)
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise Problem(400, "invalid_request", "not_amount", field=name)
    # Money refuses what no currency can hold (negative, too many decimals) with its rule.
    return payflow.Money(value, currency)


def namespace(route: str) -> str:
    """What a route puts before a client's Idempotency-Key: one key on two routes must not
    collide at Stripe."""
    return f"payflow:{route}:"


def idempotency_key(request: Request, route: str) -> str | None:
    """The route's namespaced Idempotency-Key, checked by the library's rule."""
    keys = request.headers.getlist("idempotency-key")
    if not keys:
        return None
    if len(keys) > 1:
        raise Problem(400, "invalid_request", "idempotency_key_repeated", field="Idempotency-Key")
    return payflow.idempotency_key(keys[0], namespace=namespace(route))
