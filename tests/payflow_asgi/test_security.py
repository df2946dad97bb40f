"""Security of the HTTP face: the API token, logs without secrets, raw card data with a live key,
and loopback-only listening addresses."""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

import payflow
from payflow_asgi import Settings, create_app
from tests.payflow_asgi.asgi_support import (
    API_KEY,
    EXP_YEAR,
    ROUTES,
    VISA,
    app_client,
    client_for,
    closed_port,
    connects,
    data_of,
    failing_stripe,
    post_json,
    start_serve,
    stop_serve,
    wait_until_serving,
)

TOKEN = "tok3n-for-the-payflow-tests_0123456789"
# Searched as a whole token (see `cvc_leaks`): no id, port, amount or duration_ms (one decimal)
# in a record is likely to be this token.
CVC = "739"


def error_of(response: httpx.Response) -> tuple[int, str]:
    """The status and error code of an error envelope."""
    body = response.json()
    assert (False, str) == (body["status"], type(body["message"]))
    return response.status_code, body["error"]["code"]


@pytest.fixture
async def guarded(gateway: payflow.Gateway) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app that requires TOKEN."""
    async with client_for(create_app(gateway, settings=Settings(api_token=TOKEN))) as http:
        yield http


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- the API token: settings ---


def test_settings_require_no_token_by_default() -> None:
    """Settings() has no API token."""
    assert None is Settings().api_token


def test_settings_from_env_read_payflow_api_token() -> None:
    """Settings.from_env() takes the token from PAYFLOW_API_TOKEN."""
    assert TOKEN == Settings.from_env({"PAYFLOW_API_TOKEN": TOKEN}).api_token


def test_an_empty_payflow_api_token_means_no_token() -> None:
    """PAYFLOW_API_TOKEN set but empty requires no token, as if unset."""
    assert None is Settings.from_env({"PAYFLOW_API_TOKEN": ""}).api_token


@pytest.mark.parametrize("token", ["short-token", "with spaces in the token", "ñ" * 20])
def test_a_weak_or_unsendable_token_is_refused_without_repeating_it(token: str) -> None:
    """A token under 16 characters, or not visible ASCII, is a ConfigurationError; the message
    does not contain it."""
    with pytest.raises(payflow.ConfigurationError) as caught:
        Settings(api_token=token)

    assert token not in str(caught.value)


def test_the_settings_repr_hides_the_token() -> None:
    """repr(Settings) says a token is set, never what it is."""
    assert TOKEN not in repr(Settings(api_token=TOKEN))


# --- the API token: requests ---


@pytest.mark.parametrize("path", ROUTES)
async def test_without_the_token_every_api_route_is_401(
    guarded: httpx.AsyncClient, path: str
) -> None:
    """With a token set, a request without Authorization is a 401 envelope on every /api route,
    with WWW-Authenticate: Bearer."""
    response = await post_json(guarded, path, {})

    assert ((401, "unauthorized"), "Bearer") == (
        error_of(response),
        response.headers["WWW-Authenticate"],
    )


@pytest.mark.parametrize(
    "authorization",
    [
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        "Bearer wrong-token-of-the-same-size-0123456",
    ],
    ids=["longer", "shorter", "same-size"],
)
async def test_a_wrong_token_is_401_invalid_token(
    guarded: httpx.AsyncClient, authorization: str
) -> None:
    """A wrong bearer token is a 401 with error="invalid_token" in WWW-Authenticate."""
    response = await post_json(guarded, "/api/customers", {}, {"Authorization": authorization})

    assert ((401, "unauthorized"), 'Bearer error="invalid_token"') == (
        error_of(response),
        response.headers["WWW-Authenticate"],
    )


@pytest.mark.parametrize(
    "authorization", [f"Basic {TOKEN}", TOKEN, "Bearer", "Bearer ", f"Token {TOKEN}"]
)
async def test_the_token_in_another_form_is_401(
    guarded: httpx.AsyncClient, authorization: str
) -> None:
    """The token outside an `Authorization: Bearer <token>` header is a 401."""
    response = await post_json(guarded, "/api/customers", {}, {"Authorization": authorization})

    assert (401, "unauthorized") == error_of(response)


async def test_two_authorization_headers_are_401(guarded: httpx.AsyncClient) -> None:
    """Two Authorization headers, even if one holds the token, are a 401."""
    request = guarded.build_request(
        "POST", "/api/customers", content=b"{}", headers={"Content-Type": "application/json"}
    )
    request.headers = httpx.Headers(
        [*request.headers.multi_items(), ("Authorization", "Bearer x"), *bearer().items()]
    )

    assert (401, "unauthorized") == error_of(await guarded.send(request))


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
async def test_the_right_token_reaches_the_route(guarded: httpx.AsyncClient, scheme: str) -> None:
    """With `Authorization: Bearer <token>` (scheme in any case) the route answers."""
    headers = {"Authorization": f"{scheme} {TOKEN}"}

    response = await post_json(guarded, "/api/customers", {"email": "a@example.com"}, headers)

    assert "a@example.com" == data_of(response)["email"]


async def test_the_token_is_checked_before_the_body(guarded: httpx.AsyncClient) -> None:
    """Without the token, a malformed body is a 401, not a 400: nothing is read first."""
    response = await post_json(guarded, "/api/customers", '{"email": ')

    assert (401, "unauthorized") == error_of(response)


@pytest.mark.parametrize("path", ["/health", "/openapi.json"])
async def test_health_and_the_openapi_document_stay_open(
    guarded: httpx.AsyncClient, path: str
) -> None:
    """/health and /openapi.json answer 200 without a token."""
    assert 200 == (await guarded.get(path)).status_code


async def test_a_401_never_contains_a_token(guarded: httpx.AsyncClient) -> None:
    """Neither the server's token nor the one sent appears in a 401 response."""
    sent = "Bearer the-client-sent-this-token-0123"
    response = await post_json(guarded, "/api/customers", {}, {"Authorization": sent})

    text = response.text + str(response.headers)
    assert (False, False) == (TOKEN in text, sent.split()[1] in text)


async def test_create_app_reads_the_token_from_the_environment(
    gateway: payflow.Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """create_app() without settings requires PAYFLOW_API_TOKEN when it is set."""
    monkeypatch.setenv("PAYFLOW_API_TOKEN", TOKEN)
    async with client_for(create_app(gateway)) as http:
        response = await post_json(http, "/api/customers", {"email": "a@example.com"})

    assert (401, "unauthorized") == error_of(response)


# --- logs ---


def access_records(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The fields of each access record captured."""
    keys = ("method", "route", "status", "duration_ms", "stripe_request_id")
    return [
        {key: getattr(record, key) for key in keys}
        for record in caplog.records
        if record.name == "payflow_asgi.access"
    ]


async def test_each_request_is_logged_once_with_its_route_template(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """One INFO record per request on payflow_asgi.access: method, route, status and the
    request id of Stripe's answer."""
    caplog.set_level(logging.INFO, logger="payflow_asgi.access")

    await post_json(client, "/api/customers", {"email": "a@example.com"})

    [record] = access_records(caplog)
    assert ("POST", "/api/customers", 200, "req_") == (
        record["method"], record["route"], record["status"], record["stripe_request_id"][:4]
    )  # fmt: skip


async def test_a_request_that_never_reached_stripe_has_no_stripe_request_id(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """A request refused before any call to Stripe is logged with stripe_request_id "-"."""
    caplog.set_level(logging.INFO, logger="payflow_asgi.access")

    await post_json(client, "/api/customers", {"email": "not an e-mail"})

    [record] = access_records(caplog)
    assert (400, "-") == (record["status"], record["stripe_request_id"])


async def test_the_access_record_measures_the_duration_in_ms(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """duration_ms is a positive number of milliseconds, also in the message."""
    caplog.set_level(logging.INFO, logger="payflow_asgi.access")

    await client.get("/health")

    [record] = [r for r in caplog.records if r.name == "payflow_asgi.access"]
    duration: float = getattr(record, "duration_ms")  # noqa: B009 - an `extra` field
    assert (True, True) == (0 < duration < 10_000, f"duration_ms={duration:.1f}" in record.message)


async def test_an_unknown_path_is_logged_without_the_raw_path(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """A request no route matches is logged with route "-", never its raw path."""
    caplog.set_level(logging.INFO, logger="payflow_asgi.access")

    await client.get(f"/api/{VISA}")

    [record] = [r for r in caplog.records if r.name == "payflow_asgi.access"]
    assert ("-", 404, False) == (
        getattr(record, "route"),  # noqa: B009 - an `extra` field
        getattr(record, "status"),  # noqa: B009
        VISA in record.getMessage(),
    )


async def test_a_stripe_failure_logs_stripe_s_request_id(caplog: pytest.LogCaptureFixture) -> None:
    """When Stripe answers an error, the access record carries its Request-Id."""
    caplog.set_level(logging.INFO, logger="payflow_asgi.access")
    async with failing_stripe(500) as url, app_client(url) as http:
        await post_json(http, "/api/customers", {"email": "a@example.com"})

    [record] = access_records(caplog)
    assert (502, "req_failing") == (record["status"], record["stripe_request_id"])


async def test_a_401_is_logged_with_its_route(
    guarded: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """A refused token is logged as a 401 on the route's template."""
    caplog.set_level(logging.INFO, logger="payflow_asgi.access")

    await post_json(guarded, "/api/payments", {})

    [record] = access_records(caplog)
    assert ("/api/payments", 401) == (record["route"], record["status"])


async def six_steps(http: httpx.AsyncClient, headers: dict[str, str]) -> None:
    """The spec's flow, with a card holding CVC, then one refused refund."""

    async def post(path: str, body: object) -> dict[str, Any]:
        return data_of(await post_json(http, path, body, headers))

    customer = await post("/api/customers", {"email": "john.doe@example.com", "name": "John"})
    card = {"number": VISA, "exp_month": 12, "exp_year": EXP_YEAR, "cvc": CVC}
    token = await post("/api/cards", card)
    assigned = await post(
        "/api/cards/assign", {"userId": customer["id"], "source": token["token_id"]}
    )
    payment = await post(
        "/api/payments",
        {"customer_id": customer["id"], "amount": "50.00", "payment_method": assigned["cardId"]},
    )
    confirmed = await post("/api/payments/confirm", {"paymentId": payment["id"]})
    charge = confirmed["charges"]["data"][0]["id"]
    await post("/api/payments/refund", {"chargeId": charge})
    refused = await post_json(http, "/api/payments/refund", {"chargeId": charge}, headers)
    assert 409 == refused.status_code


_RECORD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__)


def everything_logged(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    """Each captured record's logger and full text: message with args, traceback, raw args and
    extras (not the record's own timestamps, whose digits could look like a CVC)."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    texts = []
    for record in caplog.records:
        extras = {k: v for k, v in record.__dict__.items() if k not in _RECORD_ATTRIBUTES}
        texts.append((record.name, f"{formatter.format(record)} {record.args!r} {extras!r}"))
    return texts


@pytest.fixture
def debug_everywhere(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """caplog at DEBUG on the root logger and on every logger created so far."""
    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


async def test_a_full_flow_logs_no_card_number_cvc_key_or_token(
    gateway: payflow.Gateway, debug_everywhere: pytest.LogCaptureFixture
) -> None:
    """Every record, from every logger at DEBUG, of a six-step flow (with the API token) holds
    neither the card number, the CVC, the Stripe key nor the API token."""
    async with client_for(create_app(gateway, settings=Settings(api_token=TOKEN))) as http:
        await six_steps(http, bearer())

    leaks = [
        (name, secret)
        for name, text in everything_logged(debug_everywhere)
        for secret in (VISA, API_KEY, TOKEN)
        if secret in text
    ]
    cvcs = [
        name
        for name, text in everything_logged(debug_everywhere)
        if CVC in re.split(r"[^0-9A-Za-z]+", text)
    ]
    assert ([], []) == (leaks, cvcs)


async def test_the_captured_flow_logs_include_stripe_s_and_the_access_records(
    gateway: payflow.Gateway, debug_everywhere: pytest.LogCaptureFixture
) -> None:
    """The search above is not vacuous: the SDK's own records and 7 access records were captured."""
    async with client_for(create_app(gateway, settings=Settings())) as http:
        await six_steps(http, {})

    names = [name for name, _ in everything_logged(debug_everywhere)]
    assert (True, 7) == ("stripe" in names, names.count("payflow_asgi.access"))


async def test_the_sdk_s_debug_records_of_bodies_are_dropped(
    gateway: payflow.Gateway, debug_everywhere: pytest.LogCaptureFixture
) -> None:
    """The stripe logger's DEBUG records (request and response bodies) never reach a handler."""
    async with client_for(create_app(gateway, settings=Settings())) as http:
        await post_json(http, "/api/customers", {"email": "a@example.com"})

    assert [] == [
        r.getMessage()
        for r in debug_everywhere.records
        if r.name == "stripe" and r.levelno <= logging.DEBUG
    ]


# --- raw card data with a live key ---


async def test_raw_card_data_with_a_live_key_is_a_403_pointing_to_stripe_js() -> None:
    """With an sk_live_ key, POST /api/cards is a 403 raw_card_data_refused naming Stripe.js,
    and nothing is sent (Stripe is a closed port)."""
    live_key = "sk_live_51NotARealKeyAtAll"
    nowhere = f"http://127.0.0.1:{closed_port()}"
    async with (
        payflow.Gateway(live_key, api_base=nowhere, max_network_retries=0) as gw,
        client_for(create_app(gw, settings=Settings())) as http,
    ):
        card = {"number": VISA, "exp_month": 12, "exp_year": EXP_YEAR, "cvc": CVC}
        response = await post_json(http, "/api/cards", card)

    message = response.json()["message"]
    assert ((403, "raw_card_data_refused"), True, False) == (
        error_of(response),
        "Stripe.js" in message,
        live_key in response.text,
    )


# --- payflow serve: the environment ---


def _serve_refusal(env: dict[str, str]) -> tuple[int, str]:
    process = start_serve("--sandbox", "--port", str(closed_port()), env={**os.environ, **env})
    _, stderr = process.communicate(timeout=60)
    return process.returncode, stderr


def test_serve_refuses_stripe_log_debug() -> None:
    """payflow serve with STRIPE_LOG=debug (the SDK would print card numbers) exits 2 saying why."""
    status, stderr = _serve_refusal({"STRIPE_LOG": "debug"})

    assert (2, True, False) == (status, "STRIPE_LOG" in stderr, "Traceback" in stderr)


def test_serve_refuses_a_weak_api_token_without_printing_it() -> None:
    """payflow serve with a too-short PAYFLOW_API_TOKEN exits 2, naming the variable, not the
    token."""
    status, stderr = _serve_refusal({"PAYFLOW_API_TOKEN": "tiny-secret"})

    assert (2, True, False) == (status, "PAYFLOW_API_TOKEN" in stderr, "tiny-secret" in stderr)


# --- listening addresses ---


def _loopback_only(port: int) -> tuple[bool, bool, bool]:
    """Whether 127.0.0.1, 127.0.0.2 and ::1 accept connections on `port`."""
    other = sys.platform == "linux" and connects(socket.AF_INET, "127.0.0.2", port)
    ipv6 = socket.has_ipv6 and connects(socket.AF_INET6, "::1", port)
    return connects(socket.AF_INET, "127.0.0.1", port), other, ipv6


@pytest.fixture(scope="module")
def guarded_server() -> Iterator[str]:
    """A `payflow serve --sandbox` process with PAYFLOW_API_TOKEN set and no --host."""
    process = start_serve(
        "--sandbox", "--port", str(closed_port()), env={**os.environ, "PAYFLOW_API_TOKEN": TOKEN}
    )
    url = wait_until_serving(process)
    yield url
    stop_serve(process)


def test_serve_listens_on_127_0_0_1_only_by_default(guarded_server: str) -> None:
    """payflow serve without --host accepts connections on 127.0.0.1, not 127.0.0.2 or ::1."""
    port = httpx.URL(guarded_server).port
    assert port is not None

    assert (True, False, False) == _loopback_only(port)


def test_serve_requires_payflow_api_token_end_to_end(guarded_server: str) -> None:
    """A real payflow serve with PAYFLOW_API_TOKEN answers 401 without it and 200 with it."""
    body = {"email": "a@example.com"}
    with httpx.Client(base_url=guarded_server, timeout=10) as http:
        without = http.post("/api/customers", json=body)
        with_token = http.post("/api/customers", json=body, headers=bearer())

    assert (401, 200) == (without.status_code, with_token.status_code)


def test_payflow_sandbox_listens_on_127_0_0_1_only_by_default() -> None:
    """payflow sandbox without --host accepts connections on 127.0.0.1, not 127.0.0.2 or ::1."""
    port = closed_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "payflow_cli", "sandbox", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        announced = process.stdout.readline()
        reachable = _loopback_only(port)
    finally:
        process.terminate()
        process.communicate(timeout=15)

    assert (f"payflow sandbox listening on http://127.0.0.1:{port}\n", (True, False, False)) == (
        announced,
        reachable,
    )
