"""The webhook event store's contract: claim an event before its handlers run, mark it done after.

Stripe delivers each event at least once. Every process sharing one store calls `claim` before
running an event's handlers; the claim is atomic across processes and machines, so exactly one
of them gets `CLAIMED` and runs the handlers, then calls `complete` (or `release` when a handler
failed, so that Stripe's next delivery claims it at once). A claim is a lease: when the process
holding it dies, the next delivery after the lease takes it over.

Two implementations, chosen by `open_store` from `PAYFLOW_DATABASE_URL`: SQLite (one file, the
processes of one machine; `payflow._store_sqlite`) and PostgreSQL (several machines;
`payflow._store_postgres`). Nothing here talks to a database.
"""

from __future__ import annotations

import datetime
import enum
import json
import secrets
from collections.abc import Iterable
from typing import Final, Protocol

import attrs

from ._errors import ConfigurationError

__all__ = [
    "DEFAULT_LEASE",
    "DEFAULT_RETENTION",
    "Claim",
    "ClaimOutcome",
    "EventRecord",
    "EventStore",
    "StoredEvent",
    "open_store",
]

#: How long a claim holds before another process may take it over, in seconds.
DEFAULT_LEASE: Final = 60.0
#: How long events are kept, in seconds: 30 days.
DEFAULT_RETENTION: Final = 30 * 86400.0
#: The longest event id stored (Stripe's are far shorter).
MAX_ID_LENGTH: Final = 255
DEFAULT_ABOUT_LIMIT: Final = 50

URL_FORMS: Final = (
    "PAYFLOW_DATABASE_URL must be sqlite:///relative/path.db, sqlite:////absolute/path.db or "
    "postgresql://user:password@host:port/database (also postgres://)"
)
POSTGRES_EXTRA: Final = (
    "a postgresql:// database needs psycopg: pip install 'payflow-stripe[server,postgres]'"
)


class ClaimOutcome(enum.Enum):
    """What `EventStore.claim` decided about one delivery."""

    #: The caller runs the handlers, then `complete()` or `release()`.
    CLAIMED = "claimed"
    #: Handled already (a duplicate delivery): run nothing.
    DONE = "done"
    #: Another process holds an unexpired claim: run nothing, answer non-2xx so Stripe retries.
    BUSY = "busy"


@attrs.frozen
class Claim:
    """The outcome of a claim, and when `CLAIMED` the token `complete`/`release` need."""

    outcome: ClaimOutcome
    token: str | None = attrs.field(default=None, repr=False)

    @classmethod
    def claimed(cls) -> Claim:
        """A successful claim, with a fresh random token."""
        return cls(ClaimOutcome.CLAIMED, secrets.token_hex(16))


DONE: Final = Claim(ClaimOutcome.DONE)
BUSY: Final = Claim(ClaimOutcome.BUSY)


def _event_id(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not value or len(value) > MAX_ID_LENGTH:
        raise ValueError(f"{attribute.name} must be 1 to {MAX_ID_LENGTH} characters")


def _ids(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


@attrs.frozen
class EventRecord:
    """What is recorded about one event."""

    #: "evt_…", at most 255 characters.
    id: str = attrs.field(validator=_event_id)
    #: "payment_intent.succeeded".
    type: str
    #: Stripe's `created`, Unix seconds.
    created: int
    livemode: bool
    #: The ids the event is about: its object's id, plus the payment_intent / charge it refers to.
    object_ids: tuple[str, ...] = attrs.field(converter=_ids)
    #: JSON text chosen by the caller (already free of secrets); stored and returned as is.
    summary: str


@attrs.frozen
class StoredEvent:
    """An event as the store holds it."""

    record: EventRecord
    #: UTC, when first claimed.
    received: datetime.datetime
    #: `complete()` succeeded.
    handled: bool


class EventStore(Protocol):
    """Where events are claimed, completed and kept. Async, safe to share by many tasks of one
    event loop; the first call connects."""

    async def claim(self, record: EventRecord, *, lease: float = DEFAULT_LEASE) -> Claim:
        """Claim `record` for `lease` seconds. Absent: recorded, CLAIMED; handled: DONE; claimed
        by someone else and unexpired: BUSY; released or expired: taken over, CLAIMED."""
        ...

    async def complete(self, event_id: str, token: str) -> bool:
        """Mark the event handled; False when the claim was lost (expired and taken over)."""
        ...

    async def release(self, event_id: str, token: str) -> None:
        """Give the claim up (a handler failed): the next delivery claims it at once."""
        ...

    async def about(self, object_id: str, *, limit: int = DEFAULT_ABOUT_LIMIT) -> list[StoredEvent]:
        """The events about `object_id`, newest first (`created`, then received), at most
        `limit`."""
        ...

    async def purge(self, *, older_than: float = DEFAULT_RETENTION) -> int:
        """Remove the events received more than `older_than` seconds ago, except unexpired claims;
        return how many."""
        ...

    async def aclose(self) -> None:
        """Close the connections; the store is not used after."""
        ...


def open_store(url: str) -> EventStore:
    """The store `url` names: ``sqlite:///relative.db``, ``sqlite:////absolute.db``, or
    ``postgresql://…`` (``postgres://…``). Checks the URL; connects on the first call."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme == "sqlite":
        from ._store_sqlite import SQLiteStore

        return SQLiteStore(sqlite_path(rest))
    if sep and scheme in ("postgresql", "postgres"):
        try:
            from ._store_postgres import PostgresStore
        except ImportError as exc:
            if exc.name not in ("psycopg", "psycopg_pool"):
                raise
            raise ConfigurationError(POSTGRES_EXTRA) from None
        return PostgresStore(url)
    raise ConfigurationError(URL_FORMS)


def sqlite_path(rest: str) -> str:
    """The file a ``sqlite://`` URL names, from what follows ``sqlite://``: SQLAlchemy's form,
    ``/relative.db`` (three slashes in all) or ``//absolute.db`` (four)."""
    if not rest.startswith("/") or "?" in rest or "#" in rest:
        raise ConfigurationError(URL_FORMS)
    path = rest[1:]
    # An in-memory database would be private to one connection: no exactly once to speak of.
    if path in ("", "/", ":memory:") or path.endswith("/"):
        raise ConfigurationError(URL_FORMS)
    return path


def check_limit(limit: int) -> int:
    """`about`'s limit, refused when below 1."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    return limit


def object_ids_text(record: EventRecord) -> str:
    """The record's object ids as stored in the events table (JSON, in the caller's order)."""
    return json.dumps(list(record.object_ids))


def distinct_object_ids(record: EventRecord) -> list[str]:
    """The record's object ids once each, for the index table."""
    return list(dict.fromkeys(record.object_ids))


def stored_event(
    *,
    id: str,
    type: str,
    created: int,
    livemode: bool,
    object_ids: str,
    summary: str,
    received: datetime.datetime,
    handled: bool,
) -> StoredEvent:
    """A row of the events table as a `StoredEvent`."""
    record = EventRecord(
        id=id,
        type=type,
        created=created,
        livemode=bool(livemode),
        object_ids=tuple(json.loads(object_ids)),
        summary=summary,
    )
    return StoredEvent(record=record, received=received.astimezone(datetime.UTC), handled=handled)
