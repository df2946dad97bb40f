"""The six routes' successes, in process, over a real gateway to the sandbox."""

from __future__ import annotations

import httpx
import pytest

from payflow_asgi import Settings
from payflow_sandbox import Sandbox
from tests.payflow_asgi.asgi_support import (
    EXP_YEAR,
    VISA,
    Post,
    app_client,
    data_of,
    new_payment,
    post_json,
)


async def test_create_customer_answers_the_spec_envelope(post: Post) -> None:
    """POST /api/customers answers the spec's message and the customer's fields."""
    body = {"email": "john.doe@example.com", "name": "John Doe", "phone": "+34612345678"}

    response = await post("/api/customers", body)

    payload = response.json()
    assert (200, True, "Cliente creado correctamente") == (
        response.status_code, payload["status"], payload["message"]
    )  # fmt: skip
    assert payload["data"]["id"].startswith("cus_")
    assert {**body, "id": payload["data"]["id"]} == payload["data"]


async def test_create_customer_without_name_and_phone_answers_nulls(post: Post) -> None:
    """name and phone are optional and come back as null when not given."""
    data = data_of(await post("/api/customers", {"email": "ana@example.com"}))

    assert (None, None) == (data["name"], data["phone"])


async def test_create_card_token_answers_token_and_card(post: Post) -> None:
    """POST /api/cards answers token_id, card_id, card_brand "visa" and card_last4."""
    body = {"number": VISA, "exp_month": 12, "exp_year": EXP_YEAR, "cvc": "123"}

    response = await post("/api/cards", body)

    data = response.json()["data"]
    assert "Tarjeta tokenizada correctamente" == response.json()["message"]
    assert ["card_brand", "card_id", "card_last4", "token_id"] == sorted(data)
    assert ("visa", "4242") == (data["card_brand"], data["card_last4"])
    assert (True, True) == (
        data["token_id"].startswith("tok_"),
        data["card_id"].startswith("card_"),
    )


async def test_create_card_token_never_answers_the_number_or_cvc(post: Post) -> None:
    """The tokenization response holds neither the card number nor the CVC."""
    body = {"number": VISA, "exp_month": 12, "exp_year": EXP_YEAR, "cvc": "987"}

    response = await post("/api/cards", body)

    assert (False, False) == (VISA in response.text, "987" in response.text)


async def test_assign_card_answers_card_id_brand_and_last4(post: Post, customer_id: str) -> None:
    """POST /api/cards/assign answers cardId (the token's card), brand and last4."""
    token = data_of(
        await post(
            "/api/cards", {"number": VISA, "exp_month": 1, "exp_year": EXP_YEAR, "cvc": "1" * 3}
        )
    )

    response = await post("/api/cards/assign", {"userId": customer_id, "source": token["token_id"]})

    assert "Tarjeta añadida con éxito" == response.json()["message"]
    assert {"cardId": token["card_id"], "brand": "visa", "last4": "4242"} == response.json()["data"]


async def test_create_payment_answers_the_intent_in_cents(
    post: Post, customer_id: str, card_id: str
) -> None:
    """POST /api/payments with 50.00 answers 5000 cents in EUR, requiring confirmation."""
    body = f'{{"customer_id": "{customer_id}", "amount": 50.00, "payment_method": "{card_id}"}}'

    response = await post("/api/payments", body)

    data = response.json()["data"]
    assert "Intento de pago creado correctamente" == response.json()["message"]
    assert {
        "id": data["id"],
        "amount": 5000,
        "currency": "eur",
        "status": "requires_confirmation",
        "customer": customer_id,
        "payment_method": card_id,
    } == data


async def test_create_payment_accepts_the_amount_as_a_string(
    post: Post, customer_id: str, card_id: str
) -> None:
    """A JSON string amount "50.00" is read exactly like the number 50.00."""
    body = {"customer_id": customer_id, "amount": "50.00", "payment_method": card_id}

    assert 5000 == data_of(await post("/api/payments", body))["amount"]


async def test_confirm_payment_answers_the_charge(post: Post, payment_id: str) -> None:
    """POST /api/payments/confirm answers the succeeded intent and its charge in charges.data."""
    response = await post("/api/payments/confirm", {"paymentId": payment_id})

    data = response.json()["data"]
    charge = data["charges"]["data"][0]
    assert "Pago confirmado correctamente" == response.json()["message"]
    assert {
        "id": payment_id,
        "amount": 5000,
        "currency": "eur",
        "status": "succeeded",
        "charges": {
            "data": [{"id": charge["id"], "amount": 5000, "paid": True, "status": "succeeded"}]
        },
    } == data


@pytest.mark.parametrize(
    ("amount", "cents"), [("19.99", 1999), ("8.20", 820), ("4.35", 435), ("0.57", 57)]
)
async def test_amounts_become_exact_cents_in_payment_and_charge(
    post: Post, customer_id: str, card_id: str, amount: str, cents: int
) -> None:
    """The JSON number as written becomes exactly its cents, in the payment and in its charge."""
    payment_id = await new_payment(post, customer_id, card_id, amount)

    confirmed = data_of(await post("/api/payments/confirm", {"paymentId": payment_id}))

    assert (cents, cents) == (confirmed["amount"], confirmed["charges"]["data"][0]["amount"])


async def test_partial_refund_answers_the_refund_in_cents(post: Post, charge_id: str) -> None:
    """POST /api/payments/refund with 25.00 answers a 2500-cent refund of the charge."""
    body = f'{{"chargeId": "{charge_id}", "amount": 25.00, "reason": "requested_by_customer"}}'

    response = await post("/api/payments/refund", body)

    data = response.json()["data"]
    assert "Reembolso creado correctamente" == response.json()["message"]
    assert {
        "id": data["id"],
        "amount": 2500,
        "charge": charge_id,
        "status": "succeeded",
        "reason": "requested_by_customer",
    } == data


async def test_refund_without_amount_refunds_what_remains(post: Post, charge_id: str) -> None:
    """A refund without amount, after a partial one, refunds what remains of the charge."""
    data_of(await post("/api/payments/refund", {"chargeId": charge_id, "amount": "20.00"}))

    data = data_of(await post("/api/payments/refund", {"chargeId": charge_id}))

    assert (3000, None) == (data["amount"], data["reason"])


async def test_health_answers_when_up(client: httpx.AsyncClient) -> None:
    """GET /health answers a success envelope."""
    response = await client.get("/health")

    assert (200, {"status": True, "message": "Servicio disponible", "data": {"status": "ok"}}) == (
        response.status_code, response.json()
    )  # fmt: skip


async def test_responses_are_json(post: Post) -> None:
    """Responses are sent as application/json."""
    response = await post("/api/customers", {"email": "ana@example.com"})

    assert "application/json" == response.headers["content-type"]


async def test_the_currency_is_a_setting(sandbox: Sandbox) -> None:
    """With Settings(currency="usd") payments are made in USD."""
    async with app_client(sandbox.url, settings=Settings(currency="usd")) as http:
        customer = data_of(await post_json(http, "/api/customers", {"email": "a@example.com"}))
        card = {"number": VISA, "exp_month": 1, "exp_year": EXP_YEAR, "cvc": "123"}
        token = data_of(await post_json(http, "/api/cards", card))
        assign = {"userId": customer["id"], "source": token["token_id"]}
        data_of(await post_json(http, "/api/cards/assign", assign))
        body = {
            "customer_id": customer["id"],
            "amount": "10.00",
            "payment_method": token["card_id"],
        }

        payment = data_of(await post_json(http, "/api/payments", body))

    assert ("usd", 1000) == (payment["currency"], payment["amount"])
