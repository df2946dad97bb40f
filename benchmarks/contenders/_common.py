"""What the reference servers share: the two measured routes, written the plain Starlette way.

Each contender module builds a `stripe.StripeClient` and hands `app()` two coroutines that call
Stripe through it. Parsing and presenting are deliberately ordinary (`request.json()`,
`JSONResponse`): these are the servers one writes without payflow.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import stripe
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

Create = Callable[[dict[str, Any]], Awaitable[Any]]
Confirm = Callable[[str], Awaitable[Any]]


def client(http_client: stripe.HTTPClient | None = None) -> stripe.StripeClient:
    """A client for the Stripe stand-in named by STRIPE_API_BASE."""
    base = os.environ["STRIPE_API_BASE"]
    return stripe.StripeClient(
        os.environ.get("STRIPE_SECRET_KEY", "sk_test_x"),
        base_addresses={"api": base},
        http_client=http_client,
    )


def _failure(status: int, message: str) -> JSONResponse:
    return JSONResponse({"status": False, "message": message}, status_code=status)


def app(create: Create, confirm: Confirm) -> Starlette:
    async def payments(request: Request) -> JSONResponse:
        body = await request.json()
        params = {
            "amount": int(Decimal(str(body["amount"])) * 100),
            "currency": "eur",
            "customer": body["customer_id"],
            "payment_method": body["payment_method"],
            "payment_method_types": ["card"],
        }
        try:
            intent = await create(params)
        except stripe.StripeError as exc:
            return _failure(502, str(exc))
        data = {
            "id": intent.id,
            "amount": intent.amount,
            "currency": intent.currency,
            "status": intent.status,
            "customer": intent.customer,
            "payment_method": intent.payment_method,
        }
        return JSONResponse(
            {"status": True, "message": "Intento de pago creado correctamente", "data": data}
        )

    async def payments_confirm(request: Request) -> JSONResponse:
        body = await request.json()
        try:
            intent = await confirm(body["paymentId"])
        except stripe.StripeError as exc:
            return _failure(502, str(exc))
        charge = intent.latest_charge
        data = {
            "id": intent.id,
            "amount": intent.amount,
            "currency": intent.currency,
            "status": intent.status,
            "charges": {
                "data": [
                    {
                        "id": charge.id,
                        "amount": charge.amount,
                        "paid": charge.paid,
                        "status": charge.status,
                    }
                ]
            },
        }
        return JSONResponse(
            {"status": True, "message": "Pago confirmado correctamente", "data": data}
        )

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": True})

    return Starlette(
        routes=[
            Route("/api/payments", payments, methods=["POST"]),
            Route("/api/payments/confirm", payments_confirm, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ]
    )


def async_app(http_client: stripe.HTTPClient) -> Starlette:
    """The routes over stripe-python's typed `*_async` methods and the given async client."""
    stripe_client = client(http_client)

    async def create(params: dict[str, Any]) -> Any:
        return await stripe_client.v1.payment_intents.create_async(params)  # type: ignore[arg-type]

    async def confirm(intent: str) -> Any:
        return await stripe_client.v1.payment_intents.confirm_async(
            intent, {"expand": ["latest_charge"]}
        )

    return app(create, confirm)
