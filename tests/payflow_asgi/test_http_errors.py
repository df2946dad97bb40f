"""Every error is the envelope with the documented status; nothing a client sends is a 500."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import Message

import payflow
from payflow_asgi import Settings, create_app
from tests.payflow_asgi.asgi_support import (
    DECLINED,
    EXP_YEAR,
    ROUTES,
    VISA,
    Post,
    app_client,
    client_for,
    closed_port,
    data_of,
    failing_stripe,
    new_token,
)


def error_of(response: httpx.Response) -> tuple[int, dict[str, Any]]:
    """The status and the `error` object of an error envelope (checking the envelope)."""
    body = response.json()
    assert (False, str) == (body["status"], type(body["message"]))
    assert {"status", "message", "error"} == set(body)
    return response.status_code, body["error"]


# --- the body ---


@pytest.mark.parametrize("path", ROUTES)
async def test_malformed_json_is_400(post: Post, path: str) -> None:
    """A body that is not JSON is a 400 invalid_json on every route."""
    assert (400, {"code": "invalid_json"}) == error_of(await post(path, '{"email": '))


@pytest.mark.parametrize(
    "body",
    [b"[]", b'"text"', b"42", b"null", b"", b"\xff\xfe{}", b'{"amount": NaN}', b"[" * 50_000],
    ids=["array", "string", "number", "null", "empty", "not-utf8", "nan", "deep"],
)
async def test_a_body_that_is_not_a_json_object_is_400(post: Post, body: bytes) -> None:
    """A body that is not one JSON object (or is nested too deep to read) is a 400 invalid_json."""
    assert (400, {"code": "invalid_json"}) == error_of(await post("/api/customers", body))


async def test_infinity_is_not_an_amount(post: Post) -> None:
    """Infinity is not JSON: a 400, not an infinite amount."""
    body = '{"customer_id": "cus_1", "amount": Infinity, "payment_method": "card_1"}'

    assert (400, {"code": "invalid_json"}) == error_of(await post("/api/payments", body))


async def test_a_body_over_the_limit_is_413(sandbox: Any) -> None:
    """A body larger than Settings.max_body_bytes is a 413."""
    async with app_client(sandbox.url, settings=Settings(max_body_bytes=100)) as http:
        response = await http.post(
            "/api/customers", json={"email": "a@example.com", "x": "y" * 100}
        )

    assert (413, {"code": "payload_too_large"}) == error_of(response)


async def test_a_streamed_body_over_the_limit_is_413(client: httpx.AsyncClient) -> None:
    """A body sent without Content-Length is cut off at the limit: a 413."""

    async def chunks() -> Any:
        for _ in range(100):
            yield b" " * 1024

    response = await client.post(
        "/api/customers", content=chunks(), headers={"Content-Type": "application/json"}
    )

    assert (413, {"code": "payload_too_large"}) == error_of(response)


async def test_a_body_sent_in_chunks_is_read_whole(client: httpx.AsyncClient) -> None:
    """A body streamed in several chunks is joined before it is parsed."""

    async def chunks() -> Any:
        for part in (b'{"email": "chunk', b"ed@exam", b'ple.com"}'):
            yield part

    response = await client.post(
        "/api/customers", content=chunks(), headers={"Content-Type": "application/json"}
    )

    assert "chunked@example.com" == data_of(response)["email"]


async def test_a_client_that_disconnects_mid_body_gets_the_envelope(sandbox: Any) -> None:
    """A client gone before its body ended is answered 400 client_disconnected, never a 500."""
    messages: list[Message] = [
        {"type": "http.request", "body": b'{"email": ', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/customers",
        "headers": [(b"content-type", b"application/json")],
    }
    async with payflow.Gateway("sk_test_x", api_base=sandbox.url) as gateway:
        await create_app(gateway, settings=Settings())(scope, receive, send)

    assert (400, "client_disconnected") == (
        sent[0]["status"],
        json.loads(sent[1]["body"])["error"]["code"],
    )


@pytest.mark.parametrize("length", ["\u00b2", "-1", "99999999999999999999999999"])
async def test_an_odd_content_length_is_never_5xx(client: httpx.AsyncClient, length: str) -> None:
    """A Content-Length that is not a plain number, or is huge, is never a 5xx."""
    request = client.build_request(
        "POST", "/api/customers", content=b"{}", headers={"Content-Type": "application/json"}
    )
    request.headers["Content-Length"] = length

    response = await client.send(request)

    assert (True, False) == (response.status_code < 500, response.json()["status"])


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
async def test_a_body_not_sent_as_json_is_415(
    client: httpx.AsyncClient, content_type: str | None
) -> None:
    """A body without Content-Type: application/json is a 415."""
    headers = {} if content_type is None else {"Content-Type": content_type}

    response = await client.post("/api/customers", content=b'{"email": "a@b.co"}', headers=headers)

    assert (415, {"code": "unsupported_media_type"}) == error_of(response)


async def test_json_with_charset_is_accepted(client: httpx.AsyncClient) -> None:
    """Content-Type: application/json; charset=utf-8 is JSON."""
    response = await client.post(
        "/api/customers",
        content=b'{"email": "a@example.com"}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )

    assert 200 == response.status_code


# --- the fields ---


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/customers", {"name": "John"}, "email"),
        ("/api/cards", {"number": VISA, "exp_month": 1, "exp_year": EXP_YEAR}, "cvc"),
        ("/api/cards/assign", {"source": "tok_1"}, "userId"),
        ("/api/cards/assign", {"userId": "cus_1"}, "source"),
        ("/api/payments", {"customer_id": "cus_1", "payment_method": "card_1"}, "amount"),
        ("/api/payments", {"amount": 10, "payment_method": "card_1"}, "customer_id"),
        ("/api/payments/confirm", {"payment_id": "pi_1"}, "paymentId"),
        ("/api/payments/refund", {"charge_id": "ch_1"}, "chargeId"),
    ],
)
async def test_a_missing_field_is_400_naming_it(
    post: Post, path: str, body: dict[str, Any], field: str
) -> None:
    """A missing required field is a 400 naming the spec's field."""
    status, error = error_of(await post(path, body))

    assert (400, {"code": "invalid_request", "field": field}) == (status, error)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/customers", {"email": 42}, "email"),
        ("/api/customers", {"email": "a@example.com", "name": ["John"]}, "name"),
        (
            "/api/cards",
            {"number": 4242424242424242, "exp_month": 1, "exp_year": 2099, "cvc": "1"},
            "number",
        ),
        (
            "/api/cards",
            {"number": VISA, "exp_month": "12", "exp_year": 2099, "cvc": "123"},
            "exp_month",
        ),
        (
            "/api/cards",
            {"number": VISA, "exp_month": 12, "exp_year": True, "cvc": "123"},
            "exp_year",
        ),
        ("/api/cards/assign", {"userId": {"id": "cus_1"}, "source": "tok_1"}, "userId"),
        ("/api/payments", {"customer_id": "c", "amount": True, "payment_method": "p"}, "amount"),
        ("/api/payments", {"customer_id": "c", "amount": "50,00", "payment_method": "p"}, "amount"),
        ("/api/payments", {"customer_id": "c", "amount": [1], "payment_method": "p"}, "amount"),
        ("/api/payments/confirm", {"paymentId": 1}, "paymentId"),
        ("/api/payments/refund", {"chargeId": "ch_1", "reason": 3}, "reason"),
    ],
)
async def test_a_field_of_the_wrong_type_is_400_naming_it(
    post: Post, path: str, body: dict[str, Any], field: str
) -> None:
    """A field of the wrong JSON type is a 400 naming the spec's field."""
    status, error = error_of(await post(path, body))

    assert (400, {"code": "invalid_request", "field": field}) == (status, error)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/customers", {"email": "not an address"}, "email"),
        (
            "/api/cards",
            {"number": VISA, "exp_month": 13, "exp_year": EXP_YEAR, "cvc": "123"},
            "exp_month",
        ),
        (
            "/api/cards",
            {"number": VISA, "exp_month": 1, "exp_year": 2001, "cvc": "123"},
            "exp_year",
        ),
        ("/api/cards/assign", {"userId": "cus/../x", "source": "tok_1"}, "userId"),
        ("/api/payments/confirm", {"paymentId": "pi 1"}, "paymentId"),
        ("/api/payments/refund", {"chargeId": "ch-1"}, "chargeId"),
        ("/api/payments/refund", {"chargeId": "ch_1", "reason": "bored"}, "reason"),
    ],
)
async def test_an_invalid_value_is_400_naming_the_spec_field(
    post: Post, path: str, body: dict[str, Any], field: str
) -> None:
    """A value the library refuses is a 400 naming the spec's field, not the library's argument."""
    status, error = error_of(await post(path, body))

    assert (400, {"code": "invalid_request", "field": field}) == (status, error)


@pytest.mark.parametrize(
    ("number", "cvc", "field"),
    [("4242424242424241", "123", "number"), (VISA, "12345", "cvc")],
)
async def test_an_invalid_card_is_never_echoed(
    post: Post, number: str, cvc: str, field: str
) -> None:
    """A refused card number or CVC is named, never repeated, in the response."""
    body = {"number": number, "exp_month": 12, "exp_year": EXP_YEAR, "cvc": cvc}

    response = await post("/api/cards", body)

    assert (400, field, False, False) == (
        response.status_code,
        response.json()["error"]["field"],
        number in response.text,
        cvc in response.text,
    )


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        ("19.999", "invalid_amount"),
        ("0.49", "invalid_amount"),
        ("0", "invalid_amount"),
        ("-5.00", "invalid_amount"),
        ("1e999999999", "invalid_amount"),
        ("1e-999999999", "invalid_amount"),
        ("1000000.00", "invalid_amount"),
        ('"1e3"', "invalid_request"),
        ('" 50.00"', "invalid_request"),
        ('"NaN"', "invalid_request"),
        ('"-1"', "invalid_request"),
    ],
)
async def test_an_unchargeable_amount_is_400(
    post: Post, customer_id: str, card_id: str, amount: str, code: str
) -> None:
    """Amounts below the minimum, above the maximum, negative, too precise or odd are 400s."""
    body = f'{{"customer_id": "{customer_id}", "amount": {amount}, "payment_method": "{card_id}"}}'

    assert (400, {"code": code, "field": "amount"}) == error_of(await post("/api/payments", body))


async def test_a_refund_larger_than_what_remains_is_400(post: Post, charge_id: str) -> None:
    """Refunding more than the charge has left is a 400 naming amount."""
    status, error = error_of(
        await post("/api/payments/refund", {"chargeId": charge_id, "amount": "50.01"})
    )

    assert (400, "invalid_request", "amount") == (status, error["code"], error["field"])


# --- Stripe's answers ---


async def test_a_declined_card_is_402_with_its_decline_code(post: Post, customer_id: str) -> None:
    """Assigning the declined test card is a 402 card_declined carrying the decline code."""
    token = await new_token(post, DECLINED)

    status, error = error_of(
        await post("/api/cards/assign", {"userId": customer_id, "source": token})
    )

    assert (402, "card_declined", "generic_decline") == (
        status, error["code"], error.get("decline_code")
    )  # fmt: skip


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/cards/assign", {"userId": "cus_missing", "source": "tok_missing"}),
        ("/api/payments/confirm", {"paymentId": "pi_missing"}),
        ("/api/payments/refund", {"chargeId": "ch_missing"}),
    ],
)
async def test_an_unknown_object_is_404(post: Post, path: str, body: dict[str, Any]) -> None:
    """An unknown customer, payment or charge is a 404 not_found."""
    status, error = error_of(await post(path, body))

    assert (404, "not_found") == (status, error["code"])


async def test_an_unknown_customer_on_a_payment_is_404(post: Post, card_id: str) -> None:
    """Creating a payment for an unknown customer is a 404."""
    body = {"customer_id": "cus_missing", "amount": 10, "payment_method": card_id}

    status, error = error_of(await post("/api/payments", body))

    assert (404, "not_found") == (status, error["code"])


async def test_refunding_a_fully_refunded_charge_is_409(post: Post, charge_id: str) -> None:
    """A refund of a charge already refunded in full is a 409 conflict."""
    data_of(await post("/api/payments/refund", {"chargeId": charge_id}))

    status, error = error_of(await post("/api/payments/refund", {"chargeId": charge_id}))

    assert (409, "conflict") == (status, error["code"])


async def test_confirming_a_succeeded_payment_is_409(post: Post, payment_id: str) -> None:
    """Confirming a payment that already succeeded is a 409 conflict."""
    data_of(await post("/api/payments/confirm", {"paymentId": payment_id}))

    status, error = error_of(await post("/api/payments/confirm", {"paymentId": payment_id}))

    assert (409, "conflict") == (status, error["code"])


# --- routing ---


async def test_an_unknown_path_is_404(client: httpx.AsyncClient) -> None:
    """An unknown path is a 404 envelope."""
    assert (404, {"code": "route_not_found"}) == error_of(await client.post("/api/nothing"))


@pytest.mark.parametrize("path", ROUTES)
async def test_a_wrong_method_is_405_with_allow(client: httpx.AsyncClient, path: str) -> None:
    """GET on a POST route is a 405 envelope with Allow: POST."""
    response = await client.get(path)

    assert ((405, {"code": "method_not_allowed"}), "POST") == (
        error_of(response), response.headers["allow"]
    )  # fmt: skip


# --- Stripe failing ---

FAILURES = [
    (
        401,
        {"type": "invalid_request_error", "message": "Invalid API Key"},
        502,
        "authentication_failed",
    ),
    (429, {"type": "invalid_request_error", "code": "rate_limit"}, 503, "rate_limited"),
    (500, {"type": "api_error", "message": "boom"}, 502, "stripe_error"),
    (503, {"type": "api_error", "message": "down"}, 503, "stripe_unavailable"),
]


@pytest.mark.parametrize(("answer", "error", "status", "code"), FAILURES)
async def test_stripe_failures_are_5xx(
    answer: int, error: dict[str, str], status: int, code: str
) -> None:
    """A refused key is a 502, rate limiting a 503, a Stripe 5xx a 502 or 503."""
    async with failing_stripe(answer, error) as url, app_client(url) as http:
        response = await http.post("/api/customers", json={"email": "a@example.com"})

    assert (status, code, "req_failing") == (
        response.status_code, error_of(response)[1]["code"], response.json()["error"]["request_id"]
    )  # fmt: skip


async def test_a_refused_key_says_the_server_configuration_is_wrong() -> None:
    """The 502 for a refused key blames the server's Stripe configuration, not the client."""
    async with (
        failing_stripe(401, {"type": "invalid_request_error"}) as url,
        app_client(url) as http,
    ):
        response = await http.post("/api/customers", json={"email": "a@example.com"})

    assert "configuración de Stripe del servidor" in response.json()["message"]


async def test_stripe_unreachable_is_503() -> None:
    """Stripe refusing connections is a 503 stripe_unavailable."""
    async with app_client(f"http://127.0.0.1:{closed_port()}") as http:
        response = await http.post("/api/customers", json={"email": "a@example.com"})

    assert (503, {"code": "stripe_unavailable"}) == error_of(response)


async def test_stripe_too_slow_is_504() -> None:
    """Stripe not answering within the gateway's timeout is a 504 stripe_timeout."""
    async with failing_stripe(None) as url, app_client(url, stripe_timeout=0.2) as http:
        response = await http.post("/api/customers", json={"email": "a@example.com"})

    assert (504, {"code": "stripe_timeout"}) == error_of(response)


# --- the server's own failures ---


async def test_mounted_without_gateway_or_lifespan_is_502() -> None:
    """An app with no gateway (its lifespan never ran) answers a 502 configuration_error."""
    async with client_for(create_app()) as http:
        response = await http.post("/api/customers", json={"email": "a@example.com"})

    assert (502, {"code": "configuration_error"}) == error_of(response)


async def test_an_unexpected_exception_is_a_500_envelope() -> None:
    """A bug (an exception payflow does not raise) is a 500 envelope without details."""

    async def broken(request: Request) -> Any:
        raise RuntimeError("secret detail")

    app = create_app()
    assert isinstance(app, Starlette)
    app.router.routes.append(Route("/broken", broken))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://payflow.test") as http:
        response = await http.get("/broken")

    assert ((500, {"code": "internal_error"}), False) == (
        error_of(response), "secret detail" in response.text
    )  # fmt: skip


HOSTILE: list[bytes] = [
    b'{"email": "a@example.com", "name": "' + "é".encode() * 20_000 + b'"}',
    b'{"email": "\\ud800@example.com"}',
    b'{"email": "a\\u0000@example.com"}',
    b'{"number": "' + b"4" * 10_000 + b'", "exp_month": 1, "exp_year": 2099, "cvc": "123"}',
    b'{"number": "4242424242424242", "exp_month": 99999999999999999999, "exp_year": 1, "cvc": 1}',
    b'{"userId": "cus_\\u00e9", "source": "tok_1"}',
    b'{"customer_id": "c", "amount": 1' + b"0" * 5000 + b', "payment_method": "p"}',
    b'{"customer_id": "c", "amount": 0.' + b"0" * 5000 + b'1, "payment_method": "p"}',
    b'{"customer_id": "c", "amount": -0.0, "payment_method": "p"}',
    b'{"paymentId": "' + b"p" * 300 + b'"}',
    b'{"chargeId": "ch_1", "amount": 1e-7}',
    b'{"chargeId": "ch_1", "amount": 1E+308}',
    b'{"a": {"b": {"c": [1, 2, {"d": null}]}}, "email": {"$ne": 1}}',
]


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("body", HOSTILE, ids=range(len(HOSTILE)))
async def test_hostile_bodies_are_never_5xx(post: Post, path: str, body: bytes) -> None:
    """Hostile bodies get an envelope on every route, never a 5xx."""
    response = await post(path, body)

    assert (True, True) == (
        response.status_code < 500,
        {"status", "message"} <= set(response.json()),
    )


# --- which object is missing ---


async def test_a_missing_object_is_named_on_every_route(
    post: Post, customer_id: str, card_id: str
) -> None:
    """A 404 names the field whose object does not exist, and says what kind of object it is
    (Stripe names the parameter, or "id" for the object of the URL:
    https://docs.stripe.com/api/errors)."""
    token = await new_token(post)
    cases = {
        ("/api/cards/assign", "userId"): {"userId": "cus_missing", "source": token},
        ("/api/cards/assign", "source"): {"userId": customer_id, "source": "tok_missing"},
        ("/api/payments", "customer_id"): {
            "customer_id": "cus_missing", "amount": 5, "payment_method": card_id},
        ("/api/payments", "payment_method"): {
            "customer_id": customer_id, "amount": 5, "payment_method": "card_missing"},
        ("/api/payments/confirm", "paymentId"): {"paymentId": "pi_missing"},
        ("/api/payments/refund", "chargeId"): {"chargeId": "ch_missing"},
    }  # fmt: skip
    answers = {
        case: await post(case[0], body, {"Accept-Language": "en"}) for case, body in cases.items()
    }

    assert {case: (404, "not_found", case[1]) for case in cases} == {
        case: (answer.status_code, error_of(answer)[1]["code"], error_of(answer)[1]["field"])
        for case, answer in answers.items()
    }
    assert (
        "No customer exists with the id given in “userId”."
        == answers[("/api/cards/assign", "userId")].json()["message"]
    )
    assert (
        "No existe el token indicado en «source»."
        == (await post("/api/cards/assign", cases[("/api/cards/assign", "source")])).json()[
            "message"
        ]
    )


async def test_a_card_number_as_source_is_told_a_token_is_expected(post: Post) -> None:
    """An id field's message shows the kind of id that field takes: tok_ for source."""
    response = await post("/api/cards/assign", {"userId": "cus_1", "source": VISA})

    assert (400, {"code": "invalid_request", "field": "source"}) == error_of(response)
    assert "tok_123abc" in response.json()["message"]
    assert VISA not in response.text


async def test_stripe_refusing_a_payments_amount_is_not_called_a_refund() -> None:
    """Stripe refusing `amount` on POST /api/payments names the field, without the refund
    route's explanation (which only a refund's amount means)."""
    error = {"type": "invalid_request_error", "param": "amount", "message": "Amount too small"}
    body = {"customer_id": "cus_1", "amount": "5.00", "payment_method": "card_1"}
    async with failing_stripe(400, error) as url, app_client(url) as http:
        payment = await http.post("/api/payments", json=body)
        refund = await http.post("/api/payments/refund", json={"chargeId": "ch_1", "amount": 5})

    assert (400, "amount") == (payment.status_code, payment.json()["error"]["field"])
    assert "Stripe ha rechazado el valor del campo «amount»." == payment.json()["message"]
    assert "reembolso" in refund.json()["message"]
