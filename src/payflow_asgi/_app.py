"""The Starlette app: the routes of `_routes.ROUTES`, /health and /openapi.json.

Each API route parses the request as its description says, awaits its `payflow.*_async` step
and presents the result; failures are raised and turned into the error envelope by the handlers
in `_errors`. Every request is logged by `_logs.AccessLog`; with an API token, the /api routes
are wrapped in `_auth.RequireToken`.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

import payflow
from payflow import webhooks

from . import _parse as parse
from ._auth import RequireToken
from ._errors import Problem, language_of
from ._errors import handlers as exception_handlers
from ._logs import AccessLog
from ._openapi import document_bytes
from ._present import success
from ._routes import ROUTES
from ._routes import Route as RouteSpec
from ._settings import Settings

__all__ = ["create_app", "webhooks_from"]


class _Context:
    """What the routes' steps take: the app's gateway, given or built from the environment by
    the app's lifespan; and its webhooks, given or built from the settings, when it has any."""

    def __init__(
        self,
        gateway: payflow.Gateway | None,
        events: webhooks.Webhooks | None,
        *,
        owns_store: bool,
    ) -> None:
        self._gateway = gateway
        self._webhooks = events
        self._builds_gateway = gateway is None
        self._owns_store = owns_store

    def get(self, uses: str) -> object:
        if uses == "webhooks":
            if self._webhooks is None:
                raise Problem(503, "webhooks_disabled")
            return self._webhooks
        if self._gateway is None:
            raise payflow.ConfigurationError(
                "payflow_asgi has no gateway: its lifespan did not run. When mounting the app"
                " in another one, pass create_app() a payflow.Gateway, or run the app's"
                " lifespan from the parent's"
            )
        return self._gateway

    @asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        """Build the gateway from the environment at startup, unless one was given; at
        shutdown, close what the app built (the gateway, the event store)."""
        if self._builds_gateway:
            self._gateway = payflow.Gateway.from_env()
        try:
            yield
        finally:
            if self._builds_gateway and self._gateway is not None:
                gateway, self._gateway = self._gateway, None
                await gateway.aclose()
            if self._owns_store and self._webhooks is not None:
                await self._webhooks.store.aclose()


def webhooks_from(
    settings: Settings, handlers: Mapping[str, webhooks.Handler | Sequence[webhooks.Handler]]
) -> webhooks.Webhooks | None:
    """The app's webhooks, from its settings: none without a signing secret."""
    if not settings.webhook_secrets:
        return None
    if settings.webhook_handlers is not None:
        module, _, name = settings.webhook_handlers.partition(":")
        try:
            handlers = {**getattr(importlib.import_module(module), name), **handlers}
        except (ImportError, AttributeError, TypeError) as exc:
            raise payflow.ConfigurationError(
                f"PAYFLOW_WEBHOOK_HANDLERS: cannot import a mapping {settings.webhook_handlers}"
            ) from exc
    store = webhooks.open_store(settings.database_url)
    return webhooks.Webhooks(
        settings.webhook_secrets, store, handlers, lease=settings.webhook_lease
    )


class _ApiRoute(Route):
    """A Starlette route that keeps its description, for the error handlers."""

    def __init__(self, spec: RouteSpec, endpoint: ASGIApp, guard: Sequence[Middleware]) -> None:
        path, methods = spec.starlette_path, [spec.method]
        super().__init__(path, endpoint, methods=methods, name=spec.name, middleware=guard)
        self.spec = spec


class _Endpoint:
    """The endpoint of one described route. A plain ASGI app rather than a function, so that
    Starlette's `Route` calls it as it is, without `request_response` wrapping it in a second
    layer of exception handling: what it raises is answered by the app's handlers, in Starlette's
    `ExceptionMiddleware`, as from any route."""

    def __init__(self, spec: RouteSpec, context: _Context, settings: Settings) -> None:
        self._spec, self._context, self._settings = spec, context, settings
        self._fields = [(f.argument, f.name, f.kind, f.required, f.location) for f in spec.fields]
        self._locations = {field.location for field in spec.fields}
        self._raw = next((field.name for field in spec.fields if field.location == "raw"), None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        spec, settings, locations = self._spec, self._settings, self._locations
        request = Request(scope, receive)
        sent: dict[str, Mapping[str, object]] = {"path": request.path_params}
        if "query" in locations:
            sent["query"] = request.query_params
        if "header" in locations:
            sent["header"] = request.headers
        if self._raw is not None:
            sent["raw"] = {self._raw: await parse.raw_body(request, settings.max_body_bytes)}
        elif "body" in locations:
            sent["body"] = await parse.body(request, settings.max_body_bytes)
        arguments = {
            argument: parse.field(
                sent[location], name, kind, required=required, currency=settings.currency
            )
            for argument, name, kind, required, location in self._fields
        }
        if spec.idempotent:
            arguments["idempotency_key"] = parse.idempotency_key(request, spec.name)
        result = await spec.step(self._context.get(spec.uses), **arguments)
        language = language_of(request, settings.language)
        response = success(spec.message_for(result), spec.presenter.present(result), language)
        await response(scope, receive, send)


def create_app(
    gateway: payflow.Gateway | None = None,
    *,
    settings: Settings | None = None,
    handlers: Mapping[str, webhooks.Handler | Sequence[webhooks.Handler]] | None = None,
    events: webhooks.Webhooks | None = None,
) -> Starlette:
    """The payment routes as an ASGI app.

    Without a gateway, the app builds one with `payflow.Gateway.from_env()` at startup and
    closes it at shutdown. A gateway passed in stays the caller's to close. Without settings, it
    uses `Settings.from_env()` (PAYFLOW_API_TOKEN, PAYFLOW_CURRENCY, STRIPE_WEBHOOK_SECRET, ...).

    `handlers` maps Stripe event types to async functions run once per new event, e.g.
    ``{"payment_intent.succeeded": ship_order}``. Events reach /api/webhooks when the settings
    have a signing secret, and are recorded in the store of `settings.database_url`; or pass
    `events`, a `payflow.webhooks.Webhooks` of your own (it stays yours to close).
    """
    settings = Settings.from_env() if settings is None else settings
    built = None if events is not None else webhooks_from(settings, handlers or {})
    holder = _Context(gateway, events or built, owns_store=built is not None)
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
        _ApiRoute(spec, _Endpoint(spec, holder, settings), guard if spec.token else [])
        for spec in ROUTES
    ]
    routes += [
        Route("/health", health, methods=["GET"], name="health"),
        Route("/openapi.json", openapi, methods=["GET"], name="openapi"),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(AccessLog)],
        exception_handlers=dict(exception_handlers(settings.language)),
        lifespan=holder.lifespan,
    )
