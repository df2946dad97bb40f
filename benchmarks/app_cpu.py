"""CPU per request of payflow's own layers, in one process: no network, no server, no noise from
other processes' timing.

Stripe's answers are canned (the stand-in's JSON for a created and a confirmed PaymentIntent,
returned by the gateway's transport at once), so what is left is the Python work of one request:

- `sdk`: `StripeClient.raw_request_async`, the SDK's request path (headers, form encoding,
  retries, decoding the answer);
- `step`: `payflow.create_payment_async`, the library's step around it (validation, the typed
  result);
- `app payments`, `app confirm`: the same through the ASGI app, as `payflow serve` runs it
  (parsing, routing, presenting, the envelope); `app health`: the app's floor, GET /health.

Each figure is the least of `--repeats` interleaved measurements of `--requests` requests (the
least, as `timeit` advises: on a shared machine, other work only ever adds to a measurement),
for each way of decoding Stripe's answers: the SDK's own (`OrderedDict`s), `json` into dicts,
and orjson (what `payflow serve` uses, `payflow._sdk.tune_for_server`). `app health` does not
depend on the decoder: its three figures show how far apart equal work can measure.

    python benchmarks/app_cpu.py              # about a minute
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from stripe import _api_requestor, _stripe_response

import payflow
from payflow import _gateway, _sdk
from payflow_asgi import create_app
from payflow_asgi._settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parent))

import standin

CREATED = json.dumps(standin.payment_intent("pi_bench")).encode()
CONFIRMED = json.dumps(standin.payment_intent("pi_bench", confirmed=True, expand=True)).encode()
DECODERS: dict[str, type[_stripe_response.StripeResponse]] = {
    "OrderedDict (SDK)": _stripe_response.StripeResponse,
    "json, dicts": _sdk._decoded_by(json.loads),
    "orjson, dicts": _sdk._decoded_by(orjson.loads),
}


async def _canned(
    self: object, method: str, url: str, headers: object, post_data: object = None
) -> tuple[bytes, int, dict[str, str]]:
    body = CONFIRMED if url.endswith("/confirm") else CREATED
    return body, 200, {"Request-Id": "req_bench", "Content-Type": "application/json"}


def _asgi(app: Any, method: str, path: str, body: bytes) -> Callable[[], Awaitable[None]]:
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 3000),
        "headers": [
            (b"host", b"127.0.0.1:3000"), (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
    }  # fmt: skip
    message = {"type": "http.request", "body": body, "more_body": False}

    async def receive() -> dict[str, Any]:
        return message

    async def send(sent: dict[str, Any]) -> None:
        if sent["type"] == "http.response.start" and sent["status"] != 200:
            raise AssertionError(f"{path} answered {sent['status']}")

    async def call() -> None:
        await app(dict(scope), receive, send)

    return call


async def _measure(cases: dict[str, Callable[[], Awaitable[Any]]], args: Any) -> None:
    figures: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.repeats):
        for decoder, response in DECODERS.items():
            _api_requestor.StripeResponse = response  # type: ignore[attr-defined]
            for case, call in cases.items():
                for _ in range(args.requests // 10):  # warm-up
                    await call()
                started = time.process_time()
                for _ in range(args.requests):
                    await call()
                spent = time.process_time() - started
                figures.setdefault((case, decoder), []).append(1e6 * spent / args.requests)
    print(f"µs of CPU per request, the least of {args.repeats} x {args.requests} requests")
    print(f"{'':16}" + "".join(f"{decoder:>20}" for decoder in DECODERS))
    for case in cases:
        row = [min(figures[case, decoder]) for decoder in DECODERS]
        print(f"{case:16}" + "".join(f"{value:20.1f}" for value in row))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1_000)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    _sdk.tune_for_server()
    _gateway._Transport.request_async = _canned  # type: ignore[method-assign]
    gateway = payflow.Gateway("sk_test_bench", api_base="http://127.0.0.1:9")
    app = create_app(gateway, settings=Settings.from_env({}))
    amount = payflow.Money(Decimal("50.00"), "eur")
    payment = b'{"customer_id": "cus_bench", "amount": 50.00, "payment_method": "card_bench"}'
    cases: dict[str, Callable[[], Awaitable[Any]]] = {
        "sdk": lambda: gateway._client.raw_request_async(
            "post", "/v1/payment_intents", customer="cus_bench", amount=5000, currency="eur"
        ),
        "step": lambda: payflow.create_payment_async(
            gateway, customer_id="cus_bench", amount=amount, payment_method="card_bench"
        ),
        "app payments": _asgi(app, "POST", "/api/payments", payment),
        "app confirm": _asgi(app, "POST", "/api/payments/confirm", b'{"paymentId": "pi_bench"}'),
        "app health": _asgi(app, "GET", "/health", b""),
    }
    gc.freeze()  # as payflow serve does after start-up
    asyncio.run(_measure(cases, args))


if __name__ == "__main__":
    main()
