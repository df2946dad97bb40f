"""The event store in PostgreSQL, shared by processes on several machines.

A pool of autocommit connections (psycopg 3); each claim is one statement, atomic on its own: an
``INSERT … ON CONFLICT (id) DO UPDATE … WHERE …`` that PostgreSQL evaluates on the row's latest
version, waiting for any concurrent claim of the same event. Leases are reckoned by the
database's clock (``now()``), so machines whose clocks disagree still agree on them. The tables go
into the first schema of the connection's ``search_path``.

Imported only when a ``postgresql://`` URL is opened: psycopg comes with the ``postgres`` extra.
"""

from __future__ import annotations

import asyncio
from typing import Final

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool

from ._errors import ConfigurationError
from ._store import (
    BUSY,
    DEFAULT_ABOUT_LIMIT,
    DEFAULT_LEASE,
    DEFAULT_RETENTION,
    DONE,
    URL_FORMS,
    Claim,
    EventRecord,
    StoredEvent,
    check_limit,
    distinct_object_ids,
    object_ids_text,
    stored_event,
)

__all__ = ["PostgresStore"]

#: Connections per store (per process): enough for the database to overlap round trips.
POOL_SIZE: Final = 10
#: How long a call waits for a connection of the pool, in seconds.
POOL_TIMEOUT: Final = 30.0

# `token` and `expires` describe the current claim; both NULL when nobody holds one (released, or
# handled). `object_ids` keeps the caller's order (JSON); `payflow_event_objects` indexes them.
SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS payflow_events (
        id TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        created BIGINT NOT NULL,
        livemode BOOLEAN NOT NULL,
        object_ids TEXT NOT NULL,
        summary TEXT NOT NULL,
        received TIMESTAMPTZ NOT NULL,
        handled BOOLEAN NOT NULL DEFAULT FALSE,
        token TEXT,
        expires TIMESTAMPTZ
    )""",
    """CREATE TABLE IF NOT EXISTS payflow_event_objects (
        event_id TEXT NOT NULL REFERENCES payflow_events (id) ON DELETE CASCADE,
        object_id TEXT NOT NULL,
        PRIMARY KEY (event_id, object_id)
    )""",
    "CREATE INDEX IF NOT EXISTS payflow_event_objects_object ON payflow_event_objects (object_id)",
    "CREATE INDEX IF NOT EXISTS payflow_events_received ON payflow_events (received)",
)

# Two processes creating the tables at once would collide in the catalog (CREATE TABLE IF NOT
# EXISTS is not safe against a concurrent one): the first takes this lock, the others wait. They
# must then not run the schema again: CREATE INDEX IF NOT EXISTS locks its table before it looks,
# and deadlocks with the first process's claims. The last object made says all were.
SCHEMA_LOCK: Final = "SELECT pg_advisory_xact_lock(hashtext('payflow_events'))"
SCHEMA_MADE: Final = "SELECT to_regclass('payflow_events_received') IS NOT NULL"

# One statement: recorded when absent, taken over when released or expired, otherwise untouched;
# the object ids indexed with the claim; whether it is handled, for the answer when not claimed.
# A duplicate of a handled event (the common redelivery) skips the INSERT: ON CONFLICT would lock
# the row, a write that costs a commit to disk, to change nothing. Handled is final, so seeing it
# in the statement's snapshot is enough; anything else goes through the atomic INSERT.
CLAIM: Final = """
    WITH done AS (
        SELECT FROM payflow_events WHERE id = %(id)s AND handled
    ), claimed AS (
        INSERT INTO payflow_events AS e
            (id, type, created, livemode, object_ids, summary, received, token, expires)
        SELECT %(id)s, %(type)s, %(created)s, %(livemode)s, %(object_ids)s, %(summary)s,
            now(), %(token)s, now() + make_interval(secs => %(lease)s)
        WHERE NOT EXISTS (SELECT FROM done)
        ON CONFLICT (id) DO UPDATE SET token = excluded.token, expires = excluded.expires
        WHERE NOT e.handled AND (e.token IS NULL OR e.expires <= now())
        RETURNING e.id
    ), indexed AS (
        INSERT INTO payflow_event_objects (event_id, object_id)
        SELECT claimed.id, object_id FROM claimed, unnest(%(objects)s::text[]) AS object_id
        ON CONFLICT DO NOTHING
    )
    SELECT EXISTS (SELECT FROM claimed),
        EXISTS (SELECT FROM done) OR (SELECT handled FROM payflow_events WHERE id = %(id)s)
"""
COMPLETE: Final = """
    UPDATE payflow_events SET handled = TRUE, token = NULL, expires = NULL
    WHERE id = %s AND token = %s
"""
RELEASE: Final = """
    UPDATE payflow_events SET token = NULL, expires = NULL WHERE id = %s AND token = %s
"""
ABOUT: Final = """
    SELECT e.id, e.type, e.created, e.livemode, e.object_ids, e.summary, e.received, e.handled
    FROM payflow_event_objects AS o JOIN payflow_events AS e ON e.id = o.event_id
    WHERE o.object_id = %s
    ORDER BY e.created DESC, e.received DESC, e.id DESC
    LIMIT %s
"""
# Handled rows have no claim: `token IS NULL` covers them, and released ones.
PURGE: Final = """
    DELETE FROM payflow_events
    WHERE received < now() - make_interval(secs => %s) AND (token IS NULL OR expires <= now())
"""


class PostgresStore:
    """An `EventStore` in the PostgreSQL database at `url`; connects on the first call."""

    def __init__(self, url: str) -> None:
        try:
            params = conninfo_to_dict(url)
        except psycopg.ProgrammingError:
            # libpq's message may quote the URL, password included.
            raise ConfigurationError(URL_FORMS) from None
        self._url = url
        self._where = f"{params.get('host', '')}/{params.get('dbname', '')}"
        self._pool: AsyncConnectionPool | None = None
        self._opening = asyncio.Lock()

    def __repr__(self) -> str:
        return f"PostgresStore({self._where!r})"

    async def _connected(self) -> AsyncConnectionPool:
        if self._pool is None:
            async with self._opening:
                if self._pool is None:
                    self._pool = await self._open()
        return self._pool

    async def _open(self) -> AsyncConnectionPool:
        # The schema on a connection of its own: an unreachable or misconfigured database fails
        # here at once with libpq's reason, where the pool would retry for POOL_TIMEOUT and only
        # say that it timed out.
        connecting = psycopg.AsyncConnection.connect(self._url, autocommit=True)
        async with await connecting as connection, connection.transaction():
            await connection.execute(SCHEMA_LOCK)
            made = await (await connection.execute(SCHEMA_MADE)).fetchone()
            if made != (True,):
                for statement in SCHEMA:
                    await connection.execute(statement)
        pool = AsyncConnectionPool(
            self._url,
            min_size=1,
            max_size=POOL_SIZE,
            timeout=POOL_TIMEOUT,
            kwargs={"autocommit": True},
            open=False,
            name="payflow-events",
        )
        await pool.open()
        return pool

    async def claim(self, record: EventRecord, *, lease: float = DEFAULT_LEASE) -> Claim:
        won = Claim.claimed()
        pool = await self._connected()
        async with pool.connection() as connection:
            cursor = await connection.execute(
                CLAIM,
                {
                    "id": record.id,
                    "type": record.type,
                    "created": record.created,
                    "livemode": record.livemode,
                    "object_ids": object_ids_text(record),
                    "summary": record.summary,
                    "token": won.token,
                    "lease": lease,
                    "objects": distinct_object_ids(record),
                },
            )
            row = await cursor.fetchone()
        assert row is not None  # a SELECT without FROM: always one row
        claimed, handled = row
        if claimed:
            return won
        return DONE if handled else BUSY

    async def complete(self, event_id: str, token: str) -> bool:
        pool = await self._connected()
        async with pool.connection() as connection:
            cursor = await connection.execute(COMPLETE, (event_id, token))
            return cursor.rowcount == 1

    async def release(self, event_id: str, token: str) -> None:
        pool = await self._connected()
        async with pool.connection() as connection:
            await connection.execute(RELEASE, (event_id, token))

    async def about(self, object_id: str, *, limit: int = DEFAULT_ABOUT_LIMIT) -> list[StoredEvent]:
        check_limit(limit)
        pool = await self._connected()
        async with pool.connection() as connection:
            cursor = await connection.execute(ABOUT, (object_id, limit))
            rows = await cursor.fetchall()
        return [
            stored_event(
                id=id_,
                type=type_,
                created=created,
                livemode=livemode,
                object_ids=object_ids,
                summary=summary,
                received=received,
                handled=handled,
            )
            for id_, type_, created, livemode, object_ids, summary, received, handled in rows
        ]

    async def purge(self, *, older_than: float = DEFAULT_RETENTION) -> int:
        pool = await self._connected()
        async with pool.connection() as connection:
            cursor = await connection.execute(PURGE, (older_than,))
            return cursor.rowcount

    async def aclose(self) -> None:
        async with self._opening:
            if self._pool is not None:
                await self._pool.close()
                self._pool = None
