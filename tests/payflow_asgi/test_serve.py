"""End to end: `payflow serve --sandbox` as a real process, driven by the spec's curl requests."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from http.client import HTTPConnection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.payflow_asgi.asgi_support import (
    DECLINED,
    EXP_YEAR,
    closed_port,
    start_serve,
    stop_serve,
    wait_until_serving,
)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """The base URL of a `payflow serve --sandbox` process, stopped after the module."""
    process = start_serve("--sandbox", "--port", str(closed_port()))
    url = wait_until_serving(process)
    yield url
    stop_serve(process)


@pytest.fixture
def http(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=10) as client:
        yield client


def curl(http: httpx.Client, path: str, body: str) -> dict[str, Any]:
    """Send a body exactly as written, as `curl -H "Content-Type: application/json" -d` does."""
    response = http.post(path, content=body, headers={"Content-Type": "application/json"})
    assert 200 == response.status_code, response.text
    payload: dict[str, Any] = response.json()
    return payload


# The spec's six requests, their bodies as written ("[email protected]" is read as an address,
# the expiry year is moved into the future, and the ids are the ones the server gave back).
CUSTOMER = """{
    "email": "john.doe@example.com",
    "name": "John Doe",
    "phone": "+34612345678"
  }"""
CARD = """{
    "number": "4242424242424242",
    "exp_month": 12,
    "exp_year": %d,
    "cvc": "123"
  }"""
ASSIGN = """{
    "userId": "%s",
    "source": "%s"
  }"""
PAYMENT = """{
    "customer_id": "%s",
    "amount": %s,
    "payment_method": "%s"
  }"""
CONFIRM = """{
    "paymentId": "%s"
  }"""
FULL_REFUND = """{
    "chargeId": "%s",
    "reason": "requested_by_customer"
  }"""
PARTIAL_REFUND = """{
    "chargeId": "%s",
    "amount": 25.00,
    "reason": "requested_by_customer"
  }"""


def test_the_spec_curl_sequence_answers_as_documented(http: httpx.Client) -> None:
    """The spec's requests, replayed in order, answer every documented field as documented."""
    customer = curl(http, "/api/customers", CUSTOMER)
    cus = customer["data"]["id"]
    token = curl(http, "/api/cards", CARD % EXP_YEAR)
    tok, card = token["data"]["token_id"], token["data"]["card_id"]
    assigned = curl(http, "/api/cards/assign", ASSIGN % (cus, tok))
    payment = curl(http, "/api/payments", PAYMENT % (cus, "50.00", card))
    pi = payment["data"]["id"]
    confirmed = curl(http, "/api/payments/confirm", CONFIRM % pi)
    ch = confirmed["data"]["charges"]["data"][0]["id"]
    partial = curl(http, "/api/payments/refund", PARTIAL_REFUND % ch)
    full = curl(http, "/api/payments/refund", FULL_REFUND % ch)

    def ok(message: str, data: dict[str, Any]) -> dict[str, Any]:
        return {"status": True, "message": message, "data": data}

    assert [
        ok("Cliente creado correctamente", {"id": cus, "email": "john.doe@example.com",
           "name": "John Doe", "phone": "+34612345678"}),
        ok("Tarjeta tokenizada correctamente", {"token_id": tok, "card_id": card,
           "card_brand": "visa", "card_last4": "4242"}),
        ok("Tarjeta añadida con éxito", {"cardId": card, "brand": "visa", "last4": "4242"}),
        ok("Intento de pago creado correctamente", {"id": pi, "amount": 5000, "currency": "eur",
           "status": "requires_confirmation", "customer": cus, "payment_method": card}),
        ok("Pago confirmado correctamente", {"id": pi, "amount": 5000, "currency": "eur",
           "status": "succeeded", "charges": {"data": [{"id": ch, "amount": 5000, "paid": True,
                                                         "status": "succeeded"}]}}),
        ok("Reembolso creado correctamente", {"id": partial["data"]["id"], "amount": 2500,
           "charge": ch, "status": "succeeded", "reason": "requested_by_customer"}),
        ok("Reembolso creado correctamente", {"id": full["data"]["id"], "amount": 2500,
           "charge": ch, "status": "succeeded", "reason": "requested_by_customer"}),
    ] == [customer, token, assigned, payment, confirmed, partial, full]  # fmt: skip
    assert [True, True, True, True, True] == [
        cus.startswith("cus_"), tok.startswith("tok_"), card.startswith("card_"),
        pi.startswith("pi_"), ch.startswith("ch_"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("amount", "cents"), [("19.99", 1999), ("8.20", 820), ("4.35", 435), ("0.57", 57)]
)
def test_amounts_become_exact_cents_end_to_end(http: httpx.Client, amount: str, cents: int) -> None:
    """Over real HTTP, the amount as written is exactly its cents in the payment and its charge."""
    cus = curl(http, "/api/customers", CUSTOMER)["data"]["id"]
    tok = curl(http, "/api/cards", CARD % EXP_YEAR)["data"]
    curl(http, "/api/cards/assign", ASSIGN % (cus, tok["token_id"]))
    payment = curl(http, "/api/payments", PAYMENT % (cus, amount, tok["card_id"]))["data"]
    confirmed = curl(http, "/api/payments/confirm", CONFIRM % payment["id"])["data"]

    assert (cents, cents, cents) == (
        payment["amount"], confirmed["amount"], confirmed["charges"]["data"][0]["amount"]
    )  # fmt: skip


def test_a_declined_card_is_402_end_to_end(http: httpx.Client) -> None:
    """Over real HTTP, assigning the declined test card answers 402 card_declined."""
    cus = curl(http, "/api/customers", CUSTOMER)["data"]["id"]
    body = CARD.replace("4242424242424242", DECLINED) % EXP_YEAR
    tok = curl(http, "/api/cards", body)["data"]["token_id"]

    response = http.post("/api/cards/assign", json={"userId": cus, "source": tok})

    assert (402, "card_declined") == (response.status_code, response.json()["error"]["code"])


def test_health_answers_end_to_end(http: httpx.Client) -> None:
    """GET /health answers 200 from the real server."""
    assert 200 == http.get("/health").status_code


def test_serve_stops_cleanly_on_sigterm() -> None:
    """SIGTERM shuts the server (and its sandbox) down with exit status 0."""
    process = start_serve("--sandbox", "--port", str(closed_port()))
    wait_until_serving(process)

    assert 0 == stop_serve(process)


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="Linux only")
def test_every_thread_of_serve_is_scheduled_as_batch() -> None:
    """The event loop's thread and pyreqwest's I/O thread (started by a request to Stripe) are
    SCHED_BATCH, so an answer's arrival does not preempt the loop (docs/performance.md)."""
    process = start_serve("--sandbox", "--port", str(closed_port()))
    try:
        url = wait_until_serving(process)
        with httpx.Client(base_url=url, timeout=10) as client:
            response = client.post("/api/customers", json={"email": "batch@example.com"})
        threads = [
            ((task / "comm").read_text().strip(), os.sched_getscheduler(int(task.name)))
            for task in Path(f"/proc/{process.pid}/task").iterdir()
        ]
    finally:
        stop_serve(process)

    assert (200, True, {os.SCHED_BATCH}) == (
        response.status_code,
        "pyreqwest" in {name for name, _ in threads},
        {policy for _, policy in threads},
    )


def test_serve_without_a_key_exits_2_saying_what_is_missing() -> None:
    """Without --sandbox or STRIPE_SECRET_KEY, serve exits 2 naming the variable, no traceback."""
    env = {k: v for k, v in os.environ.items() if k != "STRIPE_SECRET_KEY"}
    process = start_serve("--port", str(closed_port()), env=env)
    _, stderr = process.communicate(timeout=30)

    assert (2, True, False) == (
        process.returncode, "STRIPE_SECRET_KEY" in stderr, "Traceback" in stderr
    )  # fmt: skip


def test_serve_access_log_writes_one_line_per_request_to_stderr() -> None:
    """With --access-log, each request is one line on stderr, with Stripe's request id."""
    process = start_serve("--sandbox", "--access-log", "--port", str(closed_port()))
    url = wait_until_serving(process)
    with httpx.Client(base_url=url, timeout=10) as client:
        client.post("/api/customers", json={"email": "log@example.com"})
        client.get("/health")
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=15)

    # The sandbox's events (customer.created) reach /api/webhooks on their own schedule.
    lines = [
        line for line in stderr.splitlines() if " method=" in line and "/api/webhooks" not in line
    ]
    assert (2, True, True) == (
        len(lines),
        "method=POST route=/api/customers status=200" in lines[0],
        "stripe_request_id=req_" in lines[0],
    )


def test_an_idle_connection_outlives_the_clients_keep_alive(server: str) -> None:
    """A connection idle for longer than httpx keeps one (5 s) still takes a request: the server
    does not close it just as a client reuses it."""
    address = urlsplit(server)
    connection = HTTPConnection(str(address.hostname), address.port, timeout=10)
    try:
        connection.request("GET", "/health")
        first = connection.getresponse()
        first.read()
        kept = connection.sock
        time.sleep(6)
        # On a connection the server closed, this raises RemoteDisconnected.
        connection.request("GET", "/health")
        second = connection.getresponse()
        second.read()
        reused = kept is not None and connection.sock is kept
    finally:
        connection.close()

    assert (200, 200, True) == (first.status, second.status, reused)


def test_serve_with_stripe_log_info_still_prints_the_sdk_s_lines() -> None:
    """STRIPE_LOG=info still makes the SDK print its request lines (methods and URLs)."""
    process = start_serve(
        "--sandbox", "--port", str(closed_port()), env={**os.environ, "STRIPE_LOG": "info"}
    )
    url = wait_until_serving(process)
    with httpx.Client(base_url=url, timeout=10) as client:
        client.post("/api/customers", json={"email": "info@example.com"})
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=15)

    assert True is ("message='Request to Stripe api' method=post" in stderr)


def test_the_sandbox_is_reached_past_a_proxy_from_the_environment() -> None:
    """`payflow serve --sandbox` on a machine with HTTP_PROXY/HTTPS_PROXY/ALL_PROXY set (here to
    a proxy that does not answer): its sandbox is on loopback, reached directly."""
    dead = f"http://127.0.0.1:{closed_port()}"
    proxies = {name: dead for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy")}
    process = start_serve("--sandbox", "--port", str(closed_port()), env={**os.environ, **proxies})
    try:
        url = wait_until_serving(process)
        with httpx.Client(base_url=url, timeout=30, trust_env=False) as http:
            response = http.post("/api/customers", json={"email": "proxied@example.com"})
    finally:
        stop_serve(process)

    assert (200, "Cliente creado correctamente") == (
        response.status_code, response.json()["message"]
    )  # fmt: skip
