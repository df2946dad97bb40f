"""The Idempotency-Key header: replays, namespaces per route, and conflicts."""

from __future__ import annotations

import uuid

import httpx

from payflow_asgi._routes import ROUTES
from tests.payflow_asgi.asgi_support import Post, data_of


async def test_same_key_and_body_returns_the_same_customer(post: Post) -> None:
    """A retry with the same Idempotency-Key and body returns the same customer, not a new one."""
    body, key = {"email": "ana@example.com"}, {"Idempotency-Key": f"retry-{uuid.uuid4()}"}

    first = data_of(await post("/api/customers", body, key))
    second = data_of(await post("/api/customers", body, key))

    assert first == second


async def test_same_key_and_body_returns_the_same_payment(
    post: Post, customer_id: str, card_id: str
) -> None:
    """A retried payment creation with the same key returns the same PaymentIntent."""
    body = {"customer_id": customer_id, "amount": "12.34", "payment_method": card_id}
    key = {"Idempotency-Key": f"retry-payment-{customer_id}"}

    first = data_of(await post("/api/payments", body, key))
    second = data_of(await post("/api/payments", body, key))

    assert first["id"] == second["id"]


async def test_one_key_on_two_routes_does_not_collide(post: Post, customer_id: str) -> None:
    """The same Idempotency-Key on two routes makes two objects: keys are namespaced per route."""
    key = {"Idempotency-Key": f"shared-{customer_id}"}
    data_of(await post("/api/customers", {"email": "ana@example.com"}, key))

    response = await post("/api/payments/refund", {"chargeId": "ch_missing"}, key)

    assert 404 == response.status_code


async def test_same_key_with_another_body_is_a_conflict(post: Post) -> None:
    """The same Idempotency-Key with a different body is a 409 idempotency_conflict."""
    key = {"Idempotency-Key": f"reused-{uuid.uuid4()}"}
    data_of(await post("/api/customers", {"email": "ana@example.com"}, key))

    response = await post("/api/customers", {"email": "other@example.com"}, key)

    assert (409, "idempotency_conflict") == (
        response.status_code, response.json()["error"]["code"]
    )  # fmt: skip


async def test_an_invalid_key_is_a_400_naming_the_header(post: Post) -> None:
    """An Idempotency-Key with spaces is refused with field "Idempotency-Key"."""
    response = await post("/api/customers", {"email": "a@example.com"}, {"Idempotency-Key": "a b"})

    assert (400, "Idempotency-Key") == (response.status_code, response.json()["error"]["field"])


# Stripe takes keys of up to 255 characters (https://docs.stripe.com/api/idempotent_requests);
# the route's namespace "payflow:customers:" (18 characters) stands before the client's key.
LONGEST_CUSTOMERS_KEY = 255 - len("payflow:customers:")


async def test_the_longest_key_is_taken(post: Post) -> None:
    """A key that fills Stripe's 255 characters with its namespace is accepted."""
    key = {"Idempotency-Key": uuid.uuid4().hex.ljust(LONGEST_CUSTOMERS_KEY, "k")}

    data_of(await post("/api/customers", {"email": "a@example.com"}, key))


async def test_a_key_too_long_is_a_400_saying_the_limit(post: Post) -> None:
    """One character more is refused, naming the header and the limit."""
    key = {"Idempotency-Key": "k" * (LONGEST_CUSTOMERS_KEY + 1), "Accept-Language": "en"}

    response = await post("/api/customers", {"email": "a@example.com"}, key)

    assert (400, "Idempotency-Key") == (response.status_code, response.json()["error"]["field"])
    assert f"1 to {LONGEST_CUSTOMERS_KEY} printable" in response.json()["message"]


async def test_a_key_sent_twice_is_a_400(client: httpx.AsyncClient) -> None:
    """Two Idempotency-Key headers are refused: which one would Stripe see?"""
    headers = [
        ("Content-Type", "application/json"),
        ("Idempotency-Key", "one"),
        ("Idempotency-Key", "two"),
    ]

    response = await client.post(
        "/api/customers", content=b'{"email": "a@example.com"}', headers=httpx.Headers(headers)
    )

    assert (400, "Idempotency-Key") == (response.status_code, response.json()["error"]["field"])


async def test_one_key_on_every_route_never_collides(post: Post) -> None:
    """One Idempotency-Key sent to every POST route of a flow, in turn: each answers for itself.
    Had two routes shared a namespace, the later one would get Stripe's replay of the earlier
    answer or an idempotency error (409 idempotency_conflict), since Stripe keeps a key's first
    request (https://docs.stripe.com/api/idempotent_requests)."""
    key = {"Idempotency-Key": f"everywhere-{uuid.uuid4()}"}
    customer = data_of(await post("/api/customers", {"email": "one@example.com"}, key))["id"]
    card = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}
    token = data_of(await post("/api/cards", card, key))["token_id"]
    assign = {"userId": customer, "source": token}
    card_id = data_of(await post("/api/cards/assign", assign, key))["cardId"]
    payment = {"customer_id": customer, "amount": "12.00", "payment_method": card_id}
    payment_id = data_of(await post("/api/payments", payment, key))["id"]
    confirmed = data_of(await post("/api/payments/confirm", {"paymentId": payment_id}, key))
    charge = confirmed["charges"]["data"][0]["id"]
    refund = data_of(await post("/api/payments/refund", {"chargeId": charge}, key))
    # A succeeded payment cannot be canceled: Stripe's own conflict, not the key's.
    cancel = await post("/api/payments/cancel", {"paymentId": payment_id}, key)

    assert ("succeeded", 1200, (409, "conflict")) == (
        confirmed["status"], refund["amount"], (cancel.status_code, cancel.json()["error"]["code"])
    )  # fmt: skip
    posted = {
        "/api/customers", "/api/cards", "/api/cards/assign", "/api/payments",
        "/api/payments/confirm", "/api/payments/refund", "/api/payments/cancel",
    }  # fmt: skip
    assert {route.path for route in ROUTES if route.idempotent} == posted
