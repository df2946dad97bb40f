"""The event store in one SQLite file, shared by the processes of one machine.

Each store owns one connection, used only by its own thread, so a call never blocks the event
loop and the tasks sharing the store take turns. Processes sharing the file take turns through
SQLite's locks: WAL (readers never wait), a busy timeout, and the claim in one `BEGIN IMMEDIATE`
transaction, which holds the file's write lock from its first statement. Times are the machine's
clock, in Unix seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Final, TypeVar

from ._store import (
    BUSY,
    DEFAULT_ABOUT_LIMIT,
    DEFAULT_LEASE,
    DEFAULT_RETENTION,
    DONE,
    Claim,
    EventRecord,
    StoredEvent,
    check_limit,
    distinct_object_ids,
    object_ids_text,
    stored_event,
)

__all__ = ["SQLiteStore"]

T = TypeVar("T")

#: How long a statement waits for another process's write lock before failing, in seconds.
BUSY_TIMEOUT: Final = 30.0

# `token` and `expires` describe the current claim; both NULL when nobody holds one (released, or
# handled). `object_ids` keeps the caller's order (JSON); `payflow_event_objects` indexes them.
SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS payflow_events (
        id TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        created INTEGER NOT NULL,
        livemode INTEGER NOT NULL,
        object_ids TEXT NOT NULL,
        summary TEXT NOT NULL,
        received REAL NOT NULL,
        handled INTEGER NOT NULL DEFAULT 0,
        token TEXT,
        expires REAL
    )""",
    """CREATE TABLE IF NOT EXISTS payflow_event_objects (
        event_id TEXT NOT NULL REFERENCES payflow_events (id) ON DELETE CASCADE,
        object_id TEXT NOT NULL,
        PRIMARY KEY (event_id, object_id)
    )""",
    "CREATE INDEX IF NOT EXISTS payflow_event_objects_object ON payflow_event_objects (object_id)",
    "CREATE INDEX IF NOT EXISTS payflow_events_received ON payflow_events (received)",
)

# Recorded when absent; taken over when released or expired; otherwise untouched (no row).
CLAIM: Final = """
    INSERT INTO payflow_events
        (id, type, created, livemode, object_ids, summary, received, token, expires)
    VALUES (:id, :type, :created, :livemode, :object_ids, :summary, :now, :token, :expires)
    ON CONFLICT (id) DO UPDATE SET token = excluded.token, expires = excluded.expires
    WHERE NOT payflow_events.handled
        AND (payflow_events.token IS NULL OR payflow_events.expires <= excluded.received)
    RETURNING id
"""
COMPLETE: Final = """
    UPDATE payflow_events SET handled = 1, token = NULL, expires = NULL
    WHERE id = ? AND token = ?
"""
RELEASE: Final = "UPDATE payflow_events SET token = NULL, expires = NULL WHERE id = ? AND token = ?"
ABOUT: Final = """
    SELECT e.id, e.type, e.created, e.livemode, e.object_ids, e.summary, e.received, e.handled
    FROM payflow_event_objects AS o JOIN payflow_events AS e ON e.id = o.event_id
    WHERE o.object_id = ?
    ORDER BY e.created DESC, e.received DESC, e.id DESC
    LIMIT ?
"""
# Handled rows have no claim: `token IS NULL` covers them, and released ones.
PURGE: Final = """
    DELETE FROM payflow_events
    WHERE received < ? AND (token IS NULL OR expires <= ?)
"""


def _use_wal(connection: sqlite3.Connection) -> None:
    """Switch the file to WAL (it stays so). While another process is switching or recovering
    the same new file, SQLite answers "database is locked" at once, without the busy timeout
    (measured: 8 processes opening one new file together, 15 trials in 100): retried here, for
    as long as the busy timeout would have waited."""
    deadline = time.monotonic() + BUSY_TIMEOUT
    while True:
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def connect(path: str) -> sqlite3.Connection:
    """A connection to `path` in autocommit mode (transactions are explicit), the schema made."""
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
    try:
        _use_wal(connection)
        connection.execute("PRAGMA foreign_keys = ON")
        with transaction(connection):
            for statement in SCHEMA:
                connection.execute(statement)
    except BaseException:
        connection.close()
        raise
    return connection


@contextlib.contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on error): the write lock from the start."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def claim(connection: sqlite3.Connection, record: EventRecord, lease: float) -> Claim:
    now = time.time()
    won = Claim.claimed()
    with transaction(connection):
        rows = connection.execute(
            CLAIM,
            {
                "id": record.id,
                "type": record.type,
                "created": record.created,
                "livemode": record.livemode,
                "object_ids": object_ids_text(record),
                "summary": record.summary,
                "now": now,
                "token": won.token,
                "expires": now + lease,
            },
        ).fetchall()
        if rows:
            connection.executemany(
                "INSERT OR IGNORE INTO payflow_event_objects (event_id, object_id) VALUES (?, ?)",
                [(record.id, object_id) for object_id in distinct_object_ids(record)],
            )
            return won
        (handled,) = connection.execute(
            "SELECT handled FROM payflow_events WHERE id = ?", (record.id,)
        ).fetchone()
    return DONE if handled else BUSY


def complete(connection: sqlite3.Connection, event_id: str, token: str) -> bool:
    return connection.execute(COMPLETE, (event_id, token)).rowcount == 1


def release(connection: sqlite3.Connection, event_id: str, token: str) -> None:
    connection.execute(RELEASE, (event_id, token))


def about(connection: sqlite3.Connection, object_id: str, limit: int) -> list[StoredEvent]:
    return [
        stored_event(
            id=id_,
            type=type_,
            created=created,
            livemode=bool(livemode),
            object_ids=object_ids,
            summary=summary,
            received=datetime.datetime.fromtimestamp(received, datetime.UTC),
            handled=bool(handled),
        )
        for id_, type_, created, livemode, object_ids, summary, received, handled in (
            connection.execute(ABOUT, (object_id, limit))
        )
    ]


def purge(connection: sqlite3.Connection, older_than: float) -> int:
    now = time.time()
    return connection.execute(PURGE, (now - older_than, now)).rowcount


class SQLiteStore:
    """An `EventStore` in the SQLite file at `path`; the file is opened by the first call."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._connection: sqlite3.Connection | None = None
        self._closed = False
        # One thread: the connection is only ever used by it, one call at a time.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="payflow-sqlite")

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    def _on_thread(self, call: Callable[[sqlite3.Connection], T]) -> T:
        if self._connection is None:
            self._connection = connect(self.path)
        return call(self._connection)

    async def _run(self, call: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._on_thread, call)

    async def claim(self, record: EventRecord, *, lease: float = DEFAULT_LEASE) -> Claim:
        return await self._run(lambda c: claim(c, record, lease))

    async def complete(self, event_id: str, token: str) -> bool:
        return await self._run(lambda c: complete(c, event_id, token))

    async def release(self, event_id: str, token: str) -> None:
        await self._run(lambda c: release(c, event_id, token))

    async def about(self, object_id: str, *, limit: int = DEFAULT_ABOUT_LIMIT) -> list[StoredEvent]:
        check_limit(limit)
        return await self._run(lambda c: about(c, object_id, limit))

    async def purge(self, *, older_than: float = DEFAULT_RETENTION) -> int:
        return await self._run(lambda c: purge(c, older_than))

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        await asyncio.get_running_loop().run_in_executor(self._thread, self._close)
        self._thread.shutdown()

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
