"""Handlers for `payflow serve` processes under test (PAYFLOW_WEBHOOK_HANDLERS=
tests.payflow_asgi.recording_handlers:HANDLERS): each call is a row in a real table of the
database the events are recorded in (PAYFLOW_DATABASE_URL), written by the handler itself.

With RECORDING_HANDLERS_HANG=1, a handler first writes that it started, then hangs (until the
process is killed).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from typing import Final

import psycopg

from payflow.webhooks import Event, Handler

CALLS: Final = "handler_calls"
STARTED: Final = "handler_started"


def write(url: str, table: str, event_id: str) -> None:
    """One row (event id, process id) in `table`, created if need be."""
    create = f"CREATE TABLE IF NOT EXISTS {table} (event_id TEXT NOT NULL, pid INTEGER NOT NULL)"
    insert = f"INSERT INTO {table} (event_id, pid) VALUES (%s, %s)"  # noqa: S608  (a constant)
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///"), timeout=30) as db:
            db.execute(create)
            db.execute(insert.replace("%s", "?"), (event_id, os.getpid()))
        return
    with psycopg.connect(url, autocommit=True) as pg:
        pg.execute(create)
        pg.execute(insert, (event_id, os.getpid()))


def rows(url: str, table: str) -> list[tuple[str, int]]:
    """Every row of `table` (none if it was never created)."""
    query = f"SELECT event_id, pid FROM {table}"  # noqa: S608  (a constant)
    try:
        if url.startswith("sqlite:///"):
            with sqlite3.connect(url.removeprefix("sqlite:///"), timeout=30) as db:
                return [(str(e), int(p)) for e, p in db.execute(query)]
        with psycopg.connect(url) as pg:
            return [(str(e), int(p)) for e, p in pg.execute(query)]
    except (sqlite3.OperationalError, psycopg.errors.UndefinedTable):
        return []


async def record(event: Event) -> None:
    url = os.environ["PAYFLOW_DATABASE_URL"]
    if os.environ.get("RECORDING_HANDLERS_HANG") == "1":
        await asyncio.to_thread(write, url, STARTED, event.id)
        await asyncio.Event().wait()
    await asyncio.to_thread(write, url, CALLS, event.id)


HANDLERS: Final[dict[str, Handler]] = {"test.recorded": record}
