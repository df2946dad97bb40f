"""The OpenAPI document: served, checked in, valid OpenAPI 3.1, and true to the responses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import schemathesis
from starlette.applications import Starlette
from starlette.routing import Mount

import payflow
from payflow_asgi import create_app
from tests.payflow_asgi.asgi_support import EXP_YEAR, ROUTES, VISA, Post, client_for

CHECKED_IN = Path(__file__).parents[2] / "docs" / "openapi.json"


def _document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(CHECKED_IN.read_text(encoding="utf-8"))
    return document


def _matches(schema: str, body: object) -> bool:
    root = {"$ref": f"#/components/schemas/{schema}", "components": _document()["components"]}
    return bool(jsonschema_rs.Draft202012Validator(root).is_valid(body))


async def test_served_document_is_the_checked_in_file(client: httpx.AsyncClient) -> None:
    """GET /openapi.json serves exactly docs/openapi.json."""
    response = await client.get("/openapi.json")

    assert (200, _document()) == (response.status_code, response.json())


def test_document_is_valid_openapi_3_1() -> None:
    """docs/openapi.json is a valid OpenAPI 3.1 document with the six routes, the payment's
    status and cancellation, the event routes, and /health."""
    document = _document()
    schemathesis.openapi.from_dict(document).validate()  # raises if it is not

    assert "3.1.0" == document["openapi"]
    extra = {
        "/api/payments/{id}", "/api/payments/cancel", "/api/webhooks", "/api/events", "/health"
    }  # fmt: skip
    assert {*ROUTES, *extra} == set(document["paths"])


def test_every_schema_is_valid_json_schema() -> None:
    """Each component schema is valid JSON Schema 2020-12."""
    schemas = _document()["components"]["schemas"]

    assert [] == [
        name for name, schema in schemas.items() if not jsonschema_rs.meta.is_valid(schema)
    ]


async def test_a_flow_answers_what_the_document_says(
    post: Post, customer_id: str, charge_id: str
) -> None:
    """Each route's success, and an error, match their schemas in the document."""
    card = {"number": VISA, "exp_month": 12, "exp_year": EXP_YEAR, "cvc": "123"}
    token = (await post("/api/cards", card)).json()
    assign = await post(
        "/api/cards/assign", {"userId": customer_id, "source": token["data"]["token_id"]}
    )
    payment_body = {
        "customer_id": customer_id,
        "amount": 8.2,
        "payment_method": token["data"]["card_id"],
    }
    payment = await post("/api/payments", json.dumps(payment_body))
    confirmed = await post("/api/payments/confirm", {"paymentId": payment.json()["data"]["id"]})
    answers = {
        "CustomerResponse": await post("/api/customers", {"email": "ana@example.com"}),
        "CardTokenResponse": token,
        "CardResponse": assign,
        "PaymentResponse": payment,
        "ConfirmedPaymentResponse": confirmed,
        "RefundResponse": await post("/api/payments/refund", {"chargeId": charge_id}),
        "Error": await post("/api/payments/refund", {"chargeId": charge_id}),
    }

    bodies = {
        name: answer.json() if isinstance(answer, httpx.Response) else answer
        for name, answer in answers.items()
    }
    assert [] == [name for name, body in bodies.items() if not _matches(name, body)]


async def test_mounted_document_names_its_prefix_as_server(gateway: payflow.Gateway) -> None:
    """Mounted under /payflow, the document's server is /payflow so its paths resolve."""
    parent = Starlette(routes=[Mount("/payflow", app=create_app(gateway))])
    async with client_for(parent) as http:
        response = await http.get("/payflow/openapi.json")

    assert [{"url": "/payflow"}] == response.json()["servers"]
