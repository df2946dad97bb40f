"""The OpenAPI 3.1 document of the HTTP API, written by hand; docs/openapi.json is its copy.

Regenerate the copy with
`python -c "from payflow_asgi._openapi import dump; print(dump())" > docs/openapi.json`;
a test checks that the two agree.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any, Final

import orjson

from ._present import MESSAGES

__all__ = ["DOCUMENT", "document_bytes", "dump"]

Schema = dict[str, Any]

_ID: Final = {"type": "string", "pattern": "^[A-Za-z]{1,32}_[A-Za-z0-9_]{1,222}$"}
_TEXT: Final = {"type": "string", "minLength": 1}
_NULLABLE_TEXT: Final = {"type": ["string", "null"]}
_CENTS: Final = {
    "type": "integer",
    "minimum": 0,
    "description": "In the currency's smallest unit: 5000 is 50.00 EUR.",
}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties: Mapping[str, Schema], required: list[str] | None = None) -> Schema:
    return {
        "type": "object",
        "properties": dict(properties),
        "required": list(properties) if required is None else required,
    }


_SCHEMAS: Final[dict[str, Schema]] = {
    "Amount": {
        "description": (
            "An amount in major units, as written: the JSON number 19.99 or the string"
            ' "19.99" is exactly 1999 cents. At most the currency\'s decimal places (two for'
            " EUR); never rounded."
        ),
        "oneOf": [
            {"type": "number", "exclusiveMinimum": 0},
            {"type": "string", "pattern": r"^[0-9]{1,20}(\.[0-9]{1,20})?$"},
        ],
        "examples": [50.00, "19.99"],
    },
    "CustomerRequest": _object(
        {
            "email": {"type": "string", "format": "email", "maxLength": 512},
            "name": {"type": ["string", "null"], "maxLength": 256},
            "phone": {"type": ["string", "null"], "maxLength": 20},
        },
        required=["email"],
    ),
    "Customer": _object(
        {"id": _ID, "email": _NULLABLE_TEXT, "name": _NULLABLE_TEXT, "phone": _NULLABLE_TEXT}
    ),
    "CardRequest": _object(
        {
            "number": {"type": "string", "pattern": "^[0-9 ]{12,40}$", "writeOnly": True},
            "exp_month": {"type": "integer", "minimum": 1, "maximum": 12},
            "exp_year": {"type": "integer", "minimum": 1000, "maximum": 9999},
            "cvc": {"type": "string", "pattern": "^[0-9]{3,4}$", "writeOnly": True},
        }
    ),
    "CardToken": _object(
        {"token_id": _ID, "card_id": _ID, "card_brand": _TEXT, "card_last4": _TEXT}
    ),
    "AssignCardRequest": _object({"userId": _ID, "source": _ID}),
    "Card": _object({"cardId": _ID, "brand": _TEXT, "last4": _TEXT}),
    "PaymentRequest": _object(
        {"customer_id": _ID, "amount": _ref("Amount"), "payment_method": _ID}
    ),
    "Payment": _object(
        {
            "id": _ID,
            "amount": _CENTS,
            "currency": {"type": "string", "examples": ["eur"]},
            "status": _TEXT,
            "customer": {"type": ["string", "null"]},
            "payment_method": {"type": ["string", "null"]},
        }
    ),
    "ConfirmPaymentRequest": _object({"paymentId": _ID}),
    "Charge": _object({"id": _ID, "amount": _CENTS, "paid": {"type": "boolean"}, "status": _TEXT}),
    "ConfirmedPayment": _object(
        {
            "id": _ID,
            "amount": _CENTS,
            "currency": {"type": "string", "examples": ["eur"]},
            "status": _TEXT,
            "charges": _object({"data": {"type": "array", "items": _ref("Charge")}}),
        }
    ),
    "RefundRequest": _object(
        {
            "chargeId": _ID,
            "amount": {
                "description": "Leave it out (or null) to refund all that remains of the charge.",
                "anyOf": [_ref("Amount"), {"type": "null"}],
            },
            "reason": {
                "enum": ["duplicate", "fraudulent", "requested_by_customer", None],
            },
        },
        required=["chargeId"],
    ),
    "Refund": _object(
        {
            "id": _ID,
            "amount": _CENTS,
            "charge": _ID,
            "status": _TEXT,
            "reason": {"type": ["string", "null"]},
        }
    ),
    "Health": _object({"status": {"const": "ok"}}),
    "Error": {
        "type": "object",
        "description": "The envelope of every error.",
        "properties": {
            "status": {"const": False},
            "message": {"type": "string", "description": "What went wrong, in Spanish."},
            "error": {
                "type": "object",
                "properties": {
                    "code": {
                        "type": "string",
                        "description": (
                            "Stable and machine-readable: invalid_request, invalid_amount,"
                            " invalid_json, client_disconnected, unauthorized, card_declined,"
                            " raw_card_data_refused, not_found, route_not_found,"
                            " method_not_allowed, conflict,"
                            " idempotency_conflict, payload_too_large, unsupported_media_type,"
                            " authentication_failed, configuration_error, rate_limited,"
                            " stripe_unavailable, stripe_timeout, stripe_error, internal_error."
                        ),
                    },
                    "field": {
                        "type": "string",
                        "description": "The request field (or header) at fault, when one is.",
                    },
                    "decline_code": {
                        "type": "string",
                        "description": "Stripe's decline code, for card_declined.",
                    },
                    "request_id": {
                        "type": "string",
                        "description": "Stripe's request id, when Stripe answered.",
                    },
                },
                "required": ["code"],
            },
        },
        "required": ["status", "message", "error"],
    },
}


def _envelope(route: str, data: str) -> Schema:
    return _object(
        {"status": {"const": True}, "message": {"const": MESSAGES[route]}, "data": _ref(data)}
    )


_SCHEMAS.update(
    {
        f"{data}Response": _envelope(route, data)
        for route, data in {
            "customers": "Customer",
            "cards": "CardToken",
            "cards.assign": "Card",
            "payments": "Payment",
            "payments.confirm": "ConfirmedPayment",
            "payments.refund": "Refund",
            "health": "Health",
        }.items()
    }
)

_ERRORS: Final[dict[str, str]] = {
    "400": (
        "Malformed JSON, a missing or invalid field or Idempotency-Key header, an amount below"
        " the minimum or with too many decimals, or a refund larger than what remains."
    ),
    "401": (
        "The server requires an API token (PAYFLOW_API_TOKEN) and the Authorization: Bearer"
        " header is missing or wrong."
    ),
    "402": "The card was declined; error.decline_code says why.",
    "403": (
        "The server uses a live Stripe key and does not send raw card numbers to Stripe:"
        " tokenize cards with Stripe.js or Stripe Elements."
    ),
    "404": "No such customer, token, payment or charge.",
    "405": "The route does not take this method.",
    "409": (
        "The object is in the wrong state (already refunded, already confirmed), or the"
        " Idempotency-Key was used with another body."
    ),
    "413": "The body is larger than the server's limit (64 KiB by default).",
    "415": "The body is not sent as application/json.",
    "500": "A bug in the server; no request a client can send causes it.",
    "502": "Stripe failed, or the server's Stripe configuration is wrong.",
    "503": "Stripe cannot be reached, or is rate limiting the account.",
    "504": "Stripe did not answer in time.",
}
_COMMON: Final = ["400", "401", "405", "413", "415", "500", "502", "503", "504"]
# 409 everywhere: the Idempotency-Key may be reused with another body on any route.
_ROUTE_ERRORS: Final[dict[str, list[str]]] = {
    "customers": [*_COMMON, "409"],
    "cards": [*_COMMON, "402", "403", "409"],
    "cards.assign": [*_COMMON, "402", "404", "409"],
    "payments": [*_COMMON, "404", "409"],
    "payments.confirm": [*_COMMON, "402", "404", "409"],
    "payments.refund": [*_COMMON, "404", "409"],
}

_IDEMPOTENCY_KEY: Final = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Retrying with the same key returns the same object instead of creating another; the"
        " same key with another body is a 409. Keys are separate per route."
    ),
    "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,200}$"},
}


def _operation(route: str, summary: str, request: str, response: str) -> Schema:
    responses: Schema = {
        "200": {
            "description": MESSAGES[route],
            "content": {"application/json": {"schema": _ref(response)}},
        }
    }
    for status in sorted(_ROUTE_ERRORS[route]):
        responses[status] = {"$ref": f"#/components/responses/Error{status}"}
    return {
        "post": {
            "operationId": route.replace(".", "_"),
            "summary": summary,
            "parameters": [{"$ref": "#/components/parameters/IdempotencyKey"}],
            # Optional: only a server started with PAYFLOW_API_TOKEN requires the token.
            "security": [{}, {"bearerToken": []}],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref(request)}},
            },
            "responses": responses,
        }
    }


DOCUMENT: Final[Schema] = {
    "openapi": "3.1.0",
    "info": {
        "title": "payflow HTTP API",
        "version": "0.1.0",
        "description": (
            "Card payments through Stripe in six steps: the routes of the earlier Express"
            " service, unchanged. Every success is HTTP 200 with"
            " {\"status\": true, \"message\", \"data\"}; every error is"
            " {\"status\": false, \"message\", \"error\"}. Amounts go in as major units and come"
            " back as integer cents."
        ),
    },
    "paths": {
        "/api/customers": _operation(
            "customers", "Create a customer", "CustomerRequest", "CustomerResponse"
        ),
        "/api/cards": _operation(
            "cards", "Turn card details into a single-use token", "CardRequest",
            "CardTokenResponse",
        ),
        "/api/cards/assign": _operation(
            "cards.assign", "Save a tokenized card on a customer", "AssignCardRequest",
            "CardResponse",
        ),
        "/api/payments": _operation(
            "payments", "Create a payment intent", "PaymentRequest", "PaymentResponse"
        ),
        "/api/payments/confirm": _operation(
            "payments.confirm", "Confirm a payment intent", "ConfirmPaymentRequest",
            "ConfirmedPaymentResponse",
        ),
        "/api/payments/refund": _operation(
            "payments.refund", "Refund a charge, in full or in part", "RefundRequest",
            "RefundResponse",
        ),
        "/health": {
            "get": {
                "operationId": "health",
                "summary": "Whether the server is up",
                "responses": {
                    "200": {
                        "description": MESSAGES["health"],
                        "content": {"application/json": {"schema": _ref("HealthResponse")}},
                    }
                },
            }
        },
    },
    "components": {
        "schemas": _SCHEMAS,
        "parameters": {"IdempotencyKey": _IDEMPOTENCY_KEY},
        "securitySchemes": {
            "bearerToken": {
                "type": "http",
                "scheme": "bearer",
                "description": (
                    "The server's API token (PAYFLOW_API_TOKEN), when it has one; /health and"
                    " /openapi.json never require it."
                ),
            }
        },
        "responses": {
            f"Error{status}": {
                "description": description,
                "content": {"application/json": {"schema": _ref("Error")}},
            }
            for status, description in _ERRORS.items()
        },
    },
}  # fmt: skip


@functools.lru_cache(maxsize=16)
def document_bytes(root_path: str = "") -> bytes:
    """The document as JSON; under a mount prefix it names the prefix as its server."""
    if not root_path:
        return orjson.dumps(DOCUMENT)
    return orjson.dumps({**DOCUMENT, "servers": [{"url": root_path}]})


def dump() -> str:
    """The document as docs/openapi.json holds it."""
    return json.dumps(DOCUMENT, indent=2, ensure_ascii=False)
