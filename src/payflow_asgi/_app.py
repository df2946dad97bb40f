"""The Starlette app: the spec's six routes, /health and /openapi.json.

Each endpoint parses the request, awaits one `payflow.*_async` step and presents its result;
failures are raised and turned into the error envelope by the handlers in `_errors`. Every
request is logged by `_logs.AccessLog`; with an API token, the /api routes are wrapped in
`_auth.RequireToken`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import payflow

from . import _parse as parse
from . import _present as present
from ._auth import RequireToken
from ._errors import HANDLERS
from ._logs import AccessLog
from ._openapi import document_bytes
from ._settings import Settings

__all__ = ["create_app"]

Endpoint = Callable[[Request], Awaitable[Response]]


class _Api:
    """The endpoints, bound to one gateway and one set of settings."""

    def __init__(self, gateway: payflow.Gateway | None, settings: Settings) -> None:
        self._gateway = gateway
        self.settings = settings

    @property
    def gateway(self) -> payflow.Gateway:
        if self._gateway is None:
            raise payflow.ConfigurationError(
                "payflow_asgi has no gateway: its lifespan did not run. When mounting the app"
                " in another one, pass create_app() a payflow.Gateway, or run the app's"
                " lifespan from the parent's"
            )
        return self._gateway

    @asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        """Build a gateway from the environment at startup, and close it at shutdown."""
        gateway = payflow.Gateway.from_env()
        self._gateway = gateway
        try:
            yield
        finally:
            self._gateway = None
            await gateway.aclose()

    async def create_customer(self, request: Request) -> Response:
        args = await parse.customer(request, self.settings)
        customer = await payflow.create_customer_async(self.gateway, **args)
        return present.success("customers", present.customer(customer))

    async def create_card_token(self, request: Request) -> Response:
        args = await parse.card(request, self.settings)
        token = await payflow.create_card_token_async(self.gateway, **args)
        return present.success("cards", present.card_token(token))

    async def assign_card(self, request: Request) -> Response:
        args = await parse.assign(request, self.settings)
        card = await payflow.assign_card_async(self.gateway, **args)
        return present.success("cards.assign", present.card(card))

    async def create_payment(self, request: Request) -> Response:
        args = await parse.payment(request, self.settings)
        payment = await payflow.create_payment_async(self.gateway, **args)
        return present.success("payments", present.payment(payment))

    async def confirm_payment(self, request: Request) -> Response:
        args = await parse.confirm(request, self.settings)
        payment = await payflow.confirm_payment_async(self.gateway, **args)
        return present.success("payments.confirm", present.confirmed_payment(payment))

    async def refund(self, request: Request) -> Response:
        args = await parse.refund(request, self.settings)
        refund = await payflow.refund_async(self.gateway, **args)
        return present.success("payments.refund", present.refund(refund))


async def _health(request: Request) -> Response:
    return present.success("health", {"status": "ok"})


async def _openapi(request: Request) -> Response:
    # Mounted under a prefix, the document names it as its server so its paths resolve.
    return Response(
        document_bytes(request.scope.get("root_path", "")), media_type="application/json"
    )


def create_app(
    gateway: payflow.Gateway | None = None, *, settings: Settings | None = None
) -> Starlette:
    """The payment routes as an ASGI app.

    Without a gateway, the app builds one with `payflow.Gateway.from_env()` at startup and
    closes it at shutdown. A gateway passed in stays the caller's to close. Without settings, it
    uses `Settings.from_env()`, so PAYFLOW_API_TOKEN protects the /api routes.
    """
    settings = Settings.from_env() if settings is None else settings
    api = _Api(gateway, settings)
    # With a token, every /api route requires it; /health and /openapi.json stay open.
    guarded = (
        None if settings.api_token is None else [Middleware(RequireToken, token=settings.api_token)]
    )

    def api_route(path: str, endpoint: Endpoint, name: str) -> Route:
        return Route(path, endpoint, methods=["POST"], name=name, middleware=guarded)

    routes = [
        api_route("/api/customers", api.create_customer, "customers"),
        api_route("/api/cards", api.create_card_token, "cards"),
        api_route("/api/cards/assign", api.assign_card, "cards.assign"),
        api_route("/api/payments", api.create_payment, "payments"),
        api_route("/api/payments/confirm", api.confirm_payment, "payments.confirm"),
        api_route("/api/payments/refund", api.refund, "payments.refund"),
        Route("/health", _health, methods=["GET"], name="health"),
        Route("/openapi.json", _openapi, methods=["GET"], name="openapi"),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(AccessLog)],
        exception_handlers=dict(HANDLERS),
        lifespan=api.lifespan if gateway is None else None,
    )
