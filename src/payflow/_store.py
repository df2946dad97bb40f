"""TEMPORARY interface copy (the store branch replaces this file)."""

from __future__ import annotations

import datetime
import enum
from typing import Protocol

import attrs


class ClaimOutcome(enum.Enum):
    CLAIMED = "claimed"
    DONE = "done"
    BUSY = "busy"


@attrs.frozen
class Claim:
    outcome: ClaimOutcome
    token: str | None


@attrs.frozen
class EventRecord:
    id: str
    type: str
    created: int
    livemode: bool
    object_ids: tuple[str, ...]
    summary: str


@attrs.frozen
class StoredEvent:
    record: EventRecord
    received: datetime.datetime
    handled: bool


class EventStore(Protocol):
    async def claim(self, record: EventRecord, *, lease: float = 60.0) -> Claim: ...
    async def complete(self, event_id: str, token: str) -> bool: ...
    async def release(self, event_id: str, token: str) -> None: ...
    async def about(self, object_id: str, *, limit: int = 50) -> list[StoredEvent]: ...
    async def purge(self, *, older_than: float = 30 * 86400.0) -> int: ...
    async def aclose(self) -> None: ...


def open_store(url: str) -> EventStore:
    raise NotImplementedError
