"""The Idempotency-Key header: replays, namespaces per route, and conflicts."""

from __future__ import annotations

import uuid

import httpx

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
