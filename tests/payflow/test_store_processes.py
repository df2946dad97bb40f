"""Exactly once across processes: separate processes share one store (one SQLite file, one
PostgreSQL database) and race for the same deliveries; a handler records each call in a table of
that database."""

from __future__ import annotations

import asyncio
import collections
import multiprocessing
import os
import random
import signal
import sqlite3
import time
from collections.abc import Callable, Iterator
from multiprocessing.synchronize import Barrier, Event
from pathlib import Path
from typing import Any

import pytest

from payflow import _store_sqlite as sqlite_store
from payflow._store import ClaimOutcome, EventStore, open_store
from tests.databases import connect
from tests.payflow.test_store import event

EVENTS = 200
COPIES = 5
PROCESSES = 4
#: Deliveries in flight at once in each process.
TASKS = 8
#: How long a test waits for its processes, in seconds: far beyond what they need.
PATIENCE = 120.0

# Spawned, not forked: each process starts clean, as separate servers would.
spawn = multiprocessing.get_context("spawn")


class Ledger:
    """The handlers' record, a real table in the store's own database: one row per call."""

    def __init__(self, url: str) -> None:
        self.connection = connect(url)
        self.mark = "?" if isinstance(self.connection, sqlite3.Connection) else "%s"

    def create(self) -> None:
        """Make the table (once, before the processes start)."""
        self.connection.execute("CREATE TABLE handler_calls (event_id TEXT, pid INT)")

    def record(self, event_id: str) -> None:
        """A handler ran for `event_id` in this process."""
        self.connection.execute(
            f"INSERT INTO handler_calls VALUES ({self.mark}, {self.mark})",  # noqa: S608 - ? or %s
            (event_id, os.getpid()),
        )

    def calls(self) -> collections.Counter[str]:
        """How many times the handlers ran, per event id."""
        rows = self.connection.execute("SELECT event_id FROM handler_calls").fetchall()
        return collections.Counter(event_id for (event_id,) in rows)

    def close(self) -> None:
        self.connection.close()


async def handle(store: EventStore, ledger: Ledger, n: int, *, lease: float = 60.0) -> ClaimOutcome:
    """One delivery of event n, as the webhook route handles it: claim, run, complete."""
    claim = await store.claim(event(n), lease=lease)
    if claim.outcome is ClaimOutcome.CLAIMED:
        assert claim.token is not None
        ledger.record(f"evt_{n}")
        await store.complete(f"evt_{n}", claim.token)
    return claim.outcome


def deliver(url: str, deliveries: list[int], start: Barrier, warm_up: bool) -> None:
    """A process's share of the deliveries, `TASKS` at a time, from when all are at `start`."""

    async def run() -> None:
        store = open_store(url)
        ledger = Ledger(url)
        if warm_up:  # connected and the schema made before the race, so that all race at once
            await store.about("pi_warm_up")
        start.wait()
        queue = collections.deque(deliveries)

        async def task() -> None:
            while queue:
                await handle(store, ledger, queue.popleft())

        await asyncio.gather(*(task() for _ in range(TASKS)))
        await store.aclose()
        ledger.close()

    asyncio.run(run())


def hang(url: str, events: list[int], lease: float, claiming: Any, claimed: Event) -> None:
    """Claim `events` for `lease` seconds, then hang in their handlers, never completing."""

    async def run() -> None:
        store = open_store(url)
        await store.about("pi_warm_up")
        claiming.value = time.time()
        for n in events:
            assert ClaimOutcome.CLAIMED is (await store.claim(event(n), lease=lease)).outcome
        claimed.set()
        await asyncio.Event().wait()

    asyncio.run(run())


def shuffled_deliveries(seed: int) -> list[list[int]]:
    """Each event `COPIES` times, shuffled, the copies of one event close together (as Stripe's
    retries of a slow answer are), dealt to the processes in turn."""
    rng = random.Random(seed)  # noqa: S311 - a shuffle, not a secret
    order = list(range(EVENTS))
    rng.shuffle(order)
    stream = sorted((rank + rng.uniform(0, 4), n) for rank, n in enumerate(order) for _ in "12345")
    assert COPIES == 5
    return [[n for _, n in stream[p::PROCESSES]] for p in range(PROCESSES)]


def open_new_files(paths: list[str], start: Barrier) -> None:
    """Open each of `paths`, a new SQLite file, at the same moment as the other processes (if
    one of them fails, the others stop at the next file)."""
    for path in paths:
        start.wait(timeout=10)
        sqlite_store.connect(path).close()


def run_processes(target: Callable[..., None], argument_lists: list[tuple[object, ...]]) -> None:
    """Run one process per argument list; each must exit cleanly."""
    processes = [spawn.Process(target=target, args=args) for args in argument_lists]
    for process in processes:
        process.start()
    for process in processes:
        process.join(PATIENCE)
    assert [0] * len(processes) == [process.exitcode for process in processes]


@pytest.fixture
def ledger(store_url: str) -> Iterator[Ledger]:
    """The handlers' table in the store's database."""
    opened = Ledger(store_url)
    opened.create()
    yield opened
    opened.close()


def not_once(calls: collections.Counter[str], events: range) -> dict[str, int]:
    """The events whose handlers did not run exactly once (0: lost), and how many times they did;
    calls for events never delivered count too."""
    expected = {f"evt_{n}" for n in events}
    return {
        e: calls[e] for e in sorted(expected | set(calls)) if calls[e] != 1 or e not in expected
    }


async def outcomes(url: str, events: range) -> list[ClaimOutcome]:
    """What one more delivery of each event would get."""
    store = open_store(url)
    try:
        return [(await store.claim(event(n))).outcome for n in events]
    finally:
        await store.aclose()


async def test_processes_racing_run_each_event_exactly_once(store_url: str, ledger: Ledger) -> None:
    """Four processes share 1,000 deliveries (200 events, 5 copies each, shuffled): the handlers
    ran once per event, no event lost, and every event is done."""
    start = spawn.Barrier(PROCESSES)
    shares = shuffled_deliveries(seed=12)

    run_processes(deliver, [(store_url, share, start, True) for share in shares])

    assert ({}, [ClaimOutcome.DONE] * EVENTS) == (
        not_once(ledger.calls(), range(EVENTS)),
        await outcomes(store_url, range(EVENTS)),
    )


async def test_processes_starting_together_create_the_schema_once(
    store_url: str, ledger: Ledger
) -> None:
    """Processes whose first calls come at the same moment on an empty database all work: one
    makes the schema while the others wait, then claim."""
    start, events = spawn.Barrier(PROCESSES), range(20)

    run_processes(deliver, [(store_url, list(events), start, False)] * PROCESSES)

    assert ({}, [ClaimOutcome.DONE] * len(events)) == (
        not_once(ledger.calls(), events),
        await outcomes(store_url, events),
    )


async def test_events_of_a_killed_process_run_once_after_the_lease(
    store_url: str, ledger: Ledger
) -> None:
    """A process killed (SIGKILL) in its handlers: another takes its events over, not before
    their lease ends, and runs each once."""
    lease, events = 1.0, range(20)
    claiming, claimed = spawn.Value("d", 0.0), spawn.Event()
    hung = spawn.Process(target=hang, args=(store_url, list(events), lease, claiming, claimed))
    hung.start()
    assert claimed.wait(PATIENCE)
    os.kill(hung.pid or 0, signal.SIGKILL)
    hung.join(PATIENCE)

    store = open_store(store_url)
    taken_over: list[float] = []
    for n in events:  # Stripe's retries: again while the event is busy
        deadline = time.monotonic() + lease + 30.0
        while (outcome := await handle(store, ledger, n)) is ClaimOutcome.BUSY:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        assert ClaimOutcome.CLAIMED is outcome
        taken_over.append(time.time())
    await store.aclose()

    assert (-signal.SIGKILL, {}, True) == (
        hung.exitcode,
        not_once(ledger.calls(), events),
        min(taken_over) >= claiming.value + lease,
    )


def test_processes_opening_one_new_sqlite_file_together_all_open_it(tmp_path: Path) -> None:
    """Eight processes open each of 30 new SQLite files at the same moment, and every opening
    works: while one process switches a new file to WAL, SQLite refuses the others at once, busy
    timeout or not (15 trials in 100 failed so before)."""
    paths = [str(tmp_path / f"events-{n}.db") for n in range(30)]

    run_processes(open_new_files, [(paths, spawn.Barrier(8))] * 8)
