"""The app as a whole: settings, mounting inside another app, and its lifespan."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

import payflow
from payflow_asgi import Settings, create_app
from payflow_sandbox import Sandbox
from tests.payflow_asgi.asgi_support import client_for, data_of, post_json


def test_settings_default_to_eur_and_64_kib() -> None:
    """Settings default to EUR and a 64 KiB body limit."""
    assert ("eur", 65_536) == (Settings().currency, Settings().max_body_bytes)


def test_settings_lowercase_the_currency() -> None:
    """Settings(currency="USD") is "usd", as Stripe spells it."""
    assert "usd" == Settings(currency="USD").currency


def test_settings_refuse_an_unknown_currency() -> None:
    """An unknown currency is a ConfigurationError when the settings are made."""
    with pytest.raises(payflow.ConfigurationError):
        Settings(currency="xyz")


def test_settings_refuse_a_body_limit_that_is_not_positive() -> None:
    """A body limit of 0 is a ConfigurationError."""
    with pytest.raises(payflow.ConfigurationError):
        Settings(max_body_bytes=0)


async def test_mounted_under_a_prefix_the_routes_work(gateway: payflow.Gateway) -> None:
    """Mounted at /payflow inside another Starlette app, /payflow/api/customers creates one."""
    parent = Starlette(routes=[Mount("/payflow", app=create_app(gateway))])
    async with client_for(parent) as http:
        response = await post_json(http, "/payflow/api/customers", {"email": "ana@example.com"})

    assert "Cliente creado correctamente" == response.json()["message"]


async def test_mounted_under_a_prefix_unknown_paths_are_envelopes(gateway: payflow.Gateway) -> None:
    """Mounted, an unknown path below the prefix still answers the 404 envelope."""
    parent = Starlette(routes=[Mount("/payflow", app=create_app(gateway))])
    async with client_for(parent) as http:
        response = await http.post("/payflow/api/nothing")

    assert (404, "route_not_found") == (response.status_code, response.json()["error"]["code"])


async def test_without_gateway_the_lifespan_builds_one_from_the_environment(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """create_app() without a gateway serves through one built from STRIPE_* at startup."""
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_from_env")
    monkeypatch.setenv("STRIPE_API_BASE", sandbox.url)
    app = create_app()
    async with app.router.lifespan_context(app), client_for(app) as http:
        response = await post_json(http, "/api/customers", {"email": "ana@example.com"})

    assert data_of(response)["id"].startswith("cus_")


async def test_without_a_key_the_lifespan_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    """create_app() without a gateway or STRIPE_SECRET_KEY fails at startup, naming the variable."""
    monkeypatch.delenv("STRIPE_SECRET_KEY", raising=False)
    app = create_app()

    with pytest.raises(payflow.ConfigurationError, match="STRIPE_SECRET_KEY"):
        async with app.router.lifespan_context(app):
            pass


async def test_a_gateway_passed_in_stays_open(gateway: payflow.Gateway) -> None:
    """A gateway given to create_app is the caller's: the app never closes it."""
    app = create_app(gateway)
    async with app.router.lifespan_context(app), client_for(app):
        pass

    customer = await payflow.create_customer_async(gateway, email="ana@example.com")
    assert customer.id.startswith("cus_")


async def test_health_works_when_mounted(gateway: payflow.Gateway) -> None:
    """GET /health answers 200 below the mount prefix."""
    parent = Starlette(routes=[Mount("/payflow", app=create_app(gateway))])
    async with client_for(parent) as http:
        response: httpx.Response = await http.get("/payflow/health")

    assert 200 == response.status_code


def test_api_routes_call_their_endpoint_without_a_second_exception_layer(
    gateway: payflow.Gateway,
) -> None:
    """Starlette calls each unguarded API route's endpoint as it is: not wrapped by
    `request_response`, whose exception handling the app's `ExceptionMiddleware` already does
    (a layer of closures per request, measured in docs/performance.md)."""
    app = create_app(gateway, settings=Settings())
    api = [route for route in app.routes if getattr(route, "path", "").startswith("/api/")]

    assert api
    assert all(route.app is route.endpoint for route in api)  # type: ignore[attr-defined]
