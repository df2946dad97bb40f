"""A loopback stand-in for the Stripe API: Stripe-shaped JSON after a fixed delay, and counters.

It answers the requests payflow's six steps make (customers, tokens, sources, payment intents,
confirm with `expand[]=latest_charge`, refunds) with the fields Stripe sends, after `--delay`
seconds, on keep-alive connections. It accepts any id and any key.

Counters, read by the load generator between phases:
    GET  /_stats  -> {"requests": n, "connections": n, "accepted": n, "by_route": {...},
                      "open": n}
    POST /_reset  -> zeroes the counters
`connections` counts connections that carried at least one API request (so the control
requests themselves are never counted); `accepted` counts every connection accepted.

    python benchmarks/standin.py --port 12111 --delay 0.05

Raw asyncio with httptools (a dependency of uvicorn[standard]) and uvloop when present: it must
stay cheap, because it shares a core with the load generator.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import re
import time
from collections import Counter
from typing import Any

import httptools

_IDS = itertools.count(1)
_PI_CONFIRM = re.compile(rb"^/v1/payment_intents/([^/?]+)/confirm$")
_SOURCES = re.compile(rb"^/v1/customers/([^/?]+)/sources$")


def _new_id(prefix: str) -> str:
    return f"{prefix}_bench{next(_IDS):010d}"


def _now() -> int:
    return int(time.time())


def _card(card_id: str, customer: str | None = None) -> dict[str, Any]:
    return {
        "id": card_id,
        "object": "card",
        "address_city": None,
        "address_country": None,
        "address_line1": None,
        "address_zip": None,
        "brand": "Visa",
        "country": "US",
        "customer": customer,
        "cvc_check": "pass",
        "exp_month": 12,
        "exp_year": 2034,
        "fingerprint": "benchFingerprint",
        "funding": "credit",
        "last4": "4242",
        "metadata": {},
        "name": None,
        "tokenization_method": None,
    }


def customer(body: bytes) -> dict[str, Any]:
    return {
        "id": _new_id("cus"),
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": _now(),
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": None,
        "email": "bench@example.com",
        "invoice_prefix": "BENCH0001",
        "livemode": False,
        "metadata": {},
        "name": "Bench",
        "phone": None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
    }


def token(body: bytes) -> dict[str, Any]:
    return {
        "id": _new_id("tok"),
        "object": "token",
        "card": _card(_new_id("card")),
        "client_ip": "127.0.0.1",
        "created": _now(),
        "livemode": False,
        "type": "card",
        "used": False,
    }


def source(customer_id: str) -> dict[str, Any]:
    return _card(_new_id("card"), customer_id)


def _charge(intent: str, customer_id: str) -> dict[str, Any]:
    return {
        "id": _new_id("ch"),
        "object": "charge",
        "amount": 5000,
        "amount_captured": 5000,
        "amount_refunded": 0,
        "balance_transaction": _new_id("txn"),
        "billing_details": {"address": None, "email": None, "name": None, "phone": None},
        "captured": True,
        "created": _now(),
        "currency": "eur",
        "customer": customer_id,
        "description": None,
        "disputed": False,
        "failure_code": None,
        "failure_message": None,
        "livemode": False,
        "metadata": {},
        "outcome": {
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "seller_message": "Payment complete.",
            "type": "authorized",
        },
        "paid": True,
        "payment_intent": intent,
        "payment_method": "card_bench",
        "payment_method_details": {
            "card": {"brand": "visa", "exp_month": 12, "exp_year": 2034, "last4": "4242"},
            "type": "card",
        },
        "receipt_url": None,
        "refunded": False,
        "status": "succeeded",
    }


def payment_intent(
    intent: str | None = None, *, confirmed: bool = False, expand: bool = False
) -> dict[str, Any]:
    intent = intent or _new_id("pi")
    customer_id = "cus_bench"
    charge: Any = None
    if confirmed:
        charge = _charge(intent, customer_id)
        if not expand:
            charge = charge["id"]
    return {
        "id": intent,
        "object": "payment_intent",
        "amount": 5000,
        "amount_capturable": 0,
        "amount_received": 5000 if confirmed else 0,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic",
        "client_secret": f"{intent}_secret_bench",
        "confirmation_method": "automatic",
        "created": _now(),
        "currency": "eur",
        "customer": customer_id,
        "description": None,
        "last_payment_error": None,
        "latest_charge": charge,
        "livemode": False,
        "metadata": {},
        "next_action": None,
        "payment_method": "card_bench",
        "payment_method_types": ["card"],
        "status": "succeeded" if confirmed else "requires_confirmation",
    }


def refund(body: bytes) -> dict[str, Any]:
    return {
        "id": _new_id("re"),
        "object": "refund",
        "amount": 5000,
        "balance_transaction": _new_id("txn"),
        "charge": "ch_bench",
        "created": _now(),
        "currency": "eur",
        "metadata": {},
        "payment_intent": None,
        "reason": None,
        "status": "succeeded",
    }


def route(method: bytes, path: bytes, body: bytes) -> tuple[str, int, dict[str, Any]]:
    """(route name, HTTP status, JSON body) for one API request."""
    if method == b"POST":
        if path == b"/v1/customers":
            return "customers", 200, customer(body)
        if path == b"/v1/tokens":
            return "tokens", 200, token(body)
        if path == b"/v1/payment_intents":
            return "payment_intents", 200, payment_intent()
        if path == b"/v1/refunds":
            return "refunds", 200, refund(body)
        if m := _PI_CONFIRM.match(path):
            intent = m.group(1).decode()
            expand = b"latest_charge" in body
            return "confirm", 200, payment_intent(intent, confirmed=True, expand=expand)
        if m := _SOURCES.match(path):
            return "sources", 200, source(m.group(1).decode())
    error = {
        "error": {
            "type": "invalid_request_error",
            "message": f"Unrecognized request URL ({method.decode()}: {path.decode()}).",
        }
    }
    return "unknown", 404, error


class Stats:
    def __init__(self) -> None:
        self.reset()
        self.open = 0

    def reset(self) -> None:
        self.requests = 0
        self.connections = 0
        self.accepted = 0
        self.by_route: Counter[str] = Counter()

    def as_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "connections": self.connections,
            "accepted": self.accepted,
            "by_route": dict(self.by_route),
            "open": self.open,
        }


STATS = Stats()


class StandIn(asyncio.Protocol):
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.counted = False
        self.url = b""
        self.body = bytearray()
        self.loop = asyncio.get_running_loop()

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        STATS.open += 1
        STATS.accepted += 1

    def connection_lost(self, exc: Exception | None) -> None:
        STATS.open -= 1
        self.transport = None

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.url = b""
        self.body = bytearray()

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        method = self.parser.get_method()
        path = self.url.split(b"?", 1)[0]
        keep_alive = self.parser.should_keep_alive()
        if path.startswith(b"/_"):
            self._control(path, keep_alive)
            return
        name, status, payload = route(method, path, bytes(self.body))
        STATS.requests += 1
        STATS.by_route[name] += 1
        if not self.counted:
            self.counted = True
            STATS.connections += 1
        self.loop.call_later(self.delay, self._respond, status, payload, keep_alive)

    def _control(self, path: bytes, keep_alive: bool) -> None:
        if path == b"/_reset":
            STATS.reset()
        self._respond(200, STATS.as_json(), keep_alive)

    def _respond(self, status: int, payload: dict[str, Any], keep_alive: bool) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        body = json.dumps(payload).encode()
        reason = b"OK" if status == 200 else b"Not Found"
        head = b"HTTP/1.1 %d %s\r\n" % (status, reason)
        head += b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
        head += b"Request-Id: req_bench%d\r\n" % next(_IDS)
        head += b"Connection: keep-alive\r\n\r\n" if keep_alive else b"Connection: close\r\n\r\n"
        self.transport.write(head + body)
        if not keep_alive:
            self.transport.close()


async def serve(host: str, port: int, delay: float) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: StandIn(delay), host, port, backlog=4096)
    print(f"stand-in listening on http://{host}:{port} (delay {delay * 1000:.0f} ms)", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--delay", type=float, default=0.05, help="seconds before each answer")
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        run = asyncio.run
    else:
        run = uvloop.run
    with contextlib.suppress(KeyboardInterrupt):
        run(serve(args.host, args.port, args.delay))


if __name__ == "__main__":
    main()
