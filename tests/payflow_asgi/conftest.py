"""Fixtures for the HTTP adapter: the app over a real gateway to the sandbox, and the objects of
a payment flow made through its routes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

import payflow
from payflow_asgi import create_app
from payflow_sandbox import Sandbox
from tests.payflow_asgi.asgi_support import (
    API_KEY,
    Post,
    client_for,
    data_of,
    new_payment,
    new_token,
    post_json,
)


@pytest.fixture
async def gateway(sandbox: Sandbox) -> AsyncIterator[payflow.Gateway]:
    async with payflow.Gateway(API_KEY, api_base=sandbox.url, max_network_retries=0) as gw:
        yield gw


@pytest.fixture
async def client(gateway: payflow.Gateway) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(create_app(gateway)) as http:
        yield http


@pytest.fixture
def post(client: httpx.AsyncClient) -> Post:
    """POST a JSON body to the app."""

    async def send(
        path: str, body: object, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return await post_json(client, path, body, headers)

    return send


@pytest.fixture
async def customer_id(post: Post) -> str:
    response = await post("/api/customers", {"email": "john.doe@example.com", "name": "John Doe"})
    return str((data_of(response))["id"])


@pytest.fixture
async def card_id(post: Post, customer_id: str) -> str:
    body = {"userId": customer_id, "source": await new_token(post)}
    return str((data_of(await post("/api/cards/assign", body)))["cardId"])


@pytest.fixture
async def payment_id(post: Post, customer_id: str, card_id: str) -> str:
    return await new_payment(post, customer_id, card_id)


@pytest.fixture
async def charge_id(post: Post, payment_id: str) -> str:
    data = data_of(await post("/api/payments/confirm", {"paymentId": payment_id}))
    return str(data["charges"]["data"][0]["id"])
