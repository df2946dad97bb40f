"""The Starlette app: the routes of `_routes.ROUTES`, /health and /openapi.json.

Each API route parses the request as its description says, awaits its `payflow.*_async` step
and presents the result; failures are raised and turned into the error envelope by the handlers
in `_errors`. Every request is logged by `_logs.AccessLog`; with an API token, the /api routes
are wrapped in `_auth.RequireToken`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

import payflow

from . import _parse as parse
from ._auth import RequireToken
from ._errors import handlers, language_of
from ._logs import AccessLog
from ._openapi import document_bytes
from ._present import success
from ._routes import ROUTES
from ._routes import Route as RouteSpec
from ._settings import Settings

__all__ = ["create_app"]

Endpoint = Callable[[Request], Awaitable[Response]]


class _Gateway:
    """The app's gateway: given, or built from the environment by the app's lifespan."""

    def __init__(self, gateway: payflow.Gateway | None) -> None:
        self._gateway = gateway

    def get(self) -> payflow.Gateway:
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


class _ApiRoute(Route):
    """A Starlette route that keeps its description, for the error handlers."""

    def __init__(self, spec: RouteSpec, endpoint: Endpoint, guard: Sequence[Middleware]) -> None:
        path, methods = spec.starlette_path, [spec.method]
        super().__init__(path, endpoint, methods=methods, name=spec.name, middleware=guard)
        self.spec = spec


def _endpoint(spec: RouteSpec, gateway: _Gateway, settings: Settings) -> Endpoint:
    """The endpoint of one described route."""
    fields = [(f.argument, f.name, f.kind, f.required, f.location) for f in spec.fields]
    has_body = spec.method == "POST"

    async def endpoint(request: Request) -> Response:
        sent = {
            "body": await parse.body(request, settings.max_body_bytes) if has_body else {},
            "path": request.path_params,
        }
        arguments = {
            argument: parse.field(
                sent[location], name, kind, required=required, currency=settings.currency
            )
            for argument, name, kind, required, location in fields
        }
        if has_body:
            arguments["idempotency_key"] = parse.idempotency_key(request, spec.name)
        result = await spec.step(gateway.get(), **arguments)
        language = language_of(request, settings.language)
        return success(spec.message_for(result), spec.presenter.present(result), language)

    return endpoint


def create_app(
    gateway: payflow.Gateway | None = None, *, settings: Settings | None = None
) -> Starlette:
    """The payment routes as an ASGI app.

    Without a gateway, the app builds one with `payflow.Gateway.from_env()` at startup and
    closes it at shutdown. A gateway passed in stays the caller's to close. Without settings, it
    uses `Settings.from_env()` (PAYFLOW_API_TOKEN, PAYFLOW_CURRENCY, ...).
    """
    settings = Settings.from_env() if settings is None else settings
    holder = _Gateway(gateway)
    # With a token, every /api route requires it; /health and /openapi.json stay open.
    guard = (
        []
        if settings.api_token is None
        else [Middleware(RequireToken, token=settings.api_token, language=settings.language)]
    )

    async def health(request: Request) -> Response:
        return success("health", {"status": "ok"}, language_of(request, settings.language))

    async def openapi(request: Request) -> Response:
        # Mounted under a prefix, the document names it as its server so its paths resolve.
        return Response(
            document_bytes(request.scope.get("root_path", "")), media_type="application/json"
        )

    routes: list[BaseRoute] = [
        _ApiRoute(spec, _endpoint(spec, holder, settings), guard) for spec in ROUTES
    ]
    routes += [
        Route("/health", health, methods=["GET"], name="health"),
        Route("/openapi.json", openapi, methods=["GET"], name="openapi"),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(AccessLog)],
        exception_handlers=dict(handlers(settings.language)),
        lifespan=holder.lifespan if gateway is None else None,
    )
