"""The OpenAPI 3.1 document of the HTTP API, derived from the route table; docs/openapi.json is
its copy.

Regenerate the copy with
`python -c "from payflow_asgi._openapi import dump; print(dump())" > docs/openapi.json`;
a test checks that the two agree.
"""

from __future__ import annotations

import functools
import json
from typing import Any, Final

import orjson

import payflow

from ._errors import CODES
from ._messages import CATALOG, LANGUAGES
from ._parse import AMOUNT_TEXT, namespace
from ._routes import ROUTES, Route
from ._settings import DEFAULT_MAX_BODY_BYTES

__all__ = ["DOCUMENT", "document_bytes", "dump"]

Schema = dict[str, Any]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _envelope(keys: tuple[str, ...], data: Schema) -> Schema:
    messages = [CATALOG[key][language] for key in keys for language in LANGUAGES]
    return {
        "type": "object",
        "properties": {"status": {"const": True}, "message": {"enum": messages}, "data": data},
        "required": ["status", "message", "data"],
    }


def _request_name(route: Route) -> str:
    return "".join(part.capitalize() for part in route.name.split(".")) + "Request"


_ERROR: Final[Schema] = {
    "type": "object",
    "description": "The envelope of every error.",
    "properties": {
        "status": {"const": False},
        "message": {
            "type": "string",
            "description": "What went wrong, in Spanish or English (Accept-Language).",
        },
        "error": {
            "type": "object",
            "properties": {
                "code": {
                    "type": "string",
                    "description": "Stable and machine-readable: " + ", ".join(CODES) + ".",
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
}

_STATUSES: Final[dict[int, str]] = {
    400: (
        "Malformed JSON, a missing or invalid field or Idempotency-Key header, an amount below"
        " the minimum or with too many decimals, or a refund larger than what remains; for"
        " /api/webhooks, a missing, wrong or expired Stripe-Signature, or a signed body that is"
        " not an event."
    ),
    401: (
        "The server requires an API token (PAYFLOW_API_TOKEN) and the Authorization: Bearer"
        " header is missing or wrong."
    ),
    402: "The card was declined; error.decline_code says why.",
    403: (
        "The server uses a live Stripe key and does not send raw card numbers to Stripe:"
        " tokenize cards with Stripe.js or Stripe Elements."
    ),
    404: "No such customer, token, payment or charge; error.field names which.",
    405: "The route does not take this method.",
    409: (
        "The object is in the wrong state (already refunded, already confirmed), or the"
        " Idempotency-Key was used with another body; for /api/webhooks, another process is"
        " handling the event now (Stripe sends it again)."
    ),
    413: (
        "The body is larger than the server's limit"
        f" ({DEFAULT_MAX_BODY_BYTES} bytes unless PAYFLOW_MAX_BODY_BYTES says otherwise)."
    ),
    415: "The body is not sent as application/json.",
    500: (
        "A bug in the server; no request a client can send causes it. For /api/webhooks, a"
        " handler of the event raised: the event is released and Stripe sends it again."
    ),
    502: "Stripe failed, or the server's Stripe configuration is wrong.",
    503: (
        "Stripe cannot be reached, or is rate limiting the account; for /api/webhooks and"
        " /api/events, the server has no STRIPE_WEBHOOK_SECRET (webhooks_disabled)."
    ),
    504: "Stripe did not answer in time.",
}

_ACCEPT_LANGUAGE: Final[Schema] = {
    "name": "Accept-Language",
    "in": "header",
    "required": False,
    "description": (
        "es (the default) or en, with q-values; the answer's Content-Language says which was used."
    ),
    "schema": {"type": "string", "examples": ["en", "es-ES,es;q=0.9,en;q=0.5"]},
}


def _idempotency_key(route: Route) -> Schema:
    length = payflow.rules.IDEMPOTENCY_KEY_MAX_LENGTH - len(namespace(route.name))
    return {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": (
            "Retrying with the same key returns the same object instead of creating another;"
            " the same key with another body is a 409. Keys are separate per route."
        ),
        "schema": {
            "type": "string",
            "pattern": f"^{payflow.rules.IDEMPOTENCY_KEY_PATTERN}$",
            "maxLength": length,
        },
    }


# What Stripe delivers: verified as sent, then read (the whole object: docs/events.md).
_STRIPE_EVENT: Final[Schema] = {
    "type": "object",
    "description": "A Stripe event, exactly as Stripe sent it: its signature covers the bytes.",
    "properties": {
        "id": {"type": "string", "examples": ["evt_123abc"]},
        "type": {"type": "string"},
        "created": {"type": "integer"},
        "data": {"type": "object", "properties": {"object": {"type": "object"}}},
    },
    "required": ["id", "type", "created", "data"],
}


def _operation(route: Route) -> Schema:
    responses: Schema = {
        "200": {
            "description": " / ".join(CATALOG[key]["es"] for key in route.success_messages),
            "content": {"application/json": {"schema": _ref(_response_name(route))}},
        }
    }
    for status in route.statuses:
        responses[str(status)] = {"$ref": f"#/components/responses/Error{status}"}
    parameters: list[Schema] = [
        {
            "name": field.name,
            "in": field.location,
            "required": field.required or field.location == "path",
            "schema": field.schema,
        }
        for field in route.fields
        if field.location in ("path", "query", "header")
    ]
    if route.idempotent:
        parameters.append(_idempotency_key(route))
    parameters.append({"$ref": "#/components/parameters/AcceptLanguage"})
    operation: Schema = {
        "operationId": route.name.replace(".", "_"),
        "summary": route.summary,
        "parameters": parameters,
        # Optional: only a server started with PAYFLOW_API_TOKEN requires the token.
        "security": [{}, {"bearerToken": []}] if route.token else [],
    }
    if any(field.location == "raw" for field in route.fields):
        operation["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": _STRIPE_EVENT}}}  # fmt: skip
    elif route.method == "POST":
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(_request_name(route))}},
        }
    return {route.method.lower(): {**operation, "responses": responses}}


def _schemas() -> dict[str, Schema]:
    schemas: dict[str, Schema] = {
        "Amount": {
            "description": (
                "An amount in major units, as written: the JSON number 19.99 or the string"
                ' "19.99" is exactly 1999 cents. At most the currency\'s decimal places (two'
                " for EUR); never rounded."
            ),
            "oneOf": [
                {"type": "number", "exclusiveMinimum": 0},
                {"type": "string", "pattern": f"^{AMOUNT_TEXT}$"},
            ],
            "examples": [50.00, "19.99"],
        },
        "Health": {
            "type": "object",
            "properties": {"status": {"const": "ok"}},
            "required": ["status"],
        },
        "HealthResponse": _envelope(("health",), _ref("Health")),
        "Error": _ERROR,
    }
    for route in ROUTES:
        body = [field for field in route.fields if field.location == "body"]
        if body:
            schemas[_request_name(route)] = {
                "type": "object",
                "properties": {field.name: field.schema for field in body},
                "required": [field.name for field in body if field.required],
            }
        presenter = route.presenter
        schemas[presenter.name] = presenter.schema
        schemas[_response_name(route)] = _envelope(route.success_messages, _ref(presenter.name))
    return schemas


def _response_name(route: Route) -> str:
    """One envelope per presenter, unless routes sharing it say different things."""
    sharing = [other for other in ROUTES if other.presenter is route.presenter]
    if len(sharing) == 1:
        return f"{route.presenter.name}Response"
    return _request_name(route).removesuffix("Request") + "Response"


DOCUMENT: Final[Schema] = {
    "openapi": "3.1.0",
    "info": {
        "title": "payflow HTTP API",
        "version": "0.1.0",
        "description": (
            "Card payments through Stripe in six steps: the routes of the earlier Express"
            " service, unchanged. Every success is HTTP 200 with"
            ' {"status": true, "message", "data"}; every error is'
            ' {"status": false, "message", "error"}. Messages are in Spanish, or in English'
            " with Accept-Language: en. Amounts go in as major units and come back as integer"
            " minor units (cents)."
        ),
    },
    "paths": {
        **{route.path: _operation(route) for route in ROUTES},
        "/health": {
            "get": {
                "operationId": "health",
                "summary": "Whether the server is up",
                "parameters": [{"$ref": "#/components/parameters/AcceptLanguage"}],
                "responses": {
                    "200": {
                        "description": CATALOG["health"]["es"],
                        "content": {"application/json": {"schema": _ref("HealthResponse")}},
                    }
                },
            }
        },
    },
    "components": {
        "schemas": _schemas(),
        "parameters": {"AcceptLanguage": _ACCEPT_LANGUAGE},
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
            for status, description in _STATUSES.items()
        },
    },
}


@functools.lru_cache(maxsize=16)
def document_bytes(root_path: str = "") -> bytes:
    """The document as JSON; under a mount prefix it names the prefix as its server."""
    if not root_path:
        return orjson.dumps(DOCUMENT)
    return orjson.dumps({**DOCUMENT, "servers": [{"url": root_path}]})


def dump() -> str:
    """The document as docs/openapi.json holds it."""
    return json.dumps(DOCUMENT, indent=2, ensure_ascii=False)
