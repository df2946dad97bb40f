"""The event store's rules, each checked on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import sqlite3
from collections.abc import AsyncIterator, Iterator

import pytest

from payflow._store import (
    Claim,
    ClaimOutcome,
    EventRecord,
    EventStore,
    StoredEvent,
    open_store,
)
from tests.databases import connect

CLAIMED, DONE, BUSY = ClaimOutcome.CLAIMED, ClaimOutcome.DONE, ClaimOutcome.BUSY


def event(
    n: int, *, created: int = 1_700_000_000, object_ids: tuple[str, ...] = ("pi_1",)
) -> EventRecord:
    """The n-th test event, about `object_ids`."""
    return EventRecord(
        id=f"evt_{n}",
        type="payment_intent.succeeded",
        created=created,
        livemode=False,
        object_ids=object_ids,
        summary=json.dumps({"n": n, "amount": 5000}),
    )


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[EventStore]:
    """A store on an empty database, closed after the test."""
    opened = open_store(store_url)
    yield opened
    await opened.aclose()


async def claimed(store: EventStore, record: EventRecord, *, lease: float = 60.0) -> str:
    """The token of a claim that must succeed."""
    claim = await store.claim(record, lease=lease)
    assert CLAIMED == claim.outcome
    assert claim.token is not None
    return claim.token


async def test_a_new_event_is_claimed_with_a_token(store: EventStore) -> None:
    """The first delivery of an event claims it, with a token."""
    claim = await store.claim(event(1))

    assert (CLAIMED, True) == (claim.outcome, bool(claim.token))


async def test_a_handled_event_is_done(store: EventStore) -> None:
    """A delivery of an event whose handlers completed is DONE: nothing runs again."""
    assert await store.complete("evt_1", await claimed(store, event(1)))

    assert Claim(DONE) == await store.claim(event(1))


async def test_an_event_claimed_elsewhere_is_busy(store: EventStore) -> None:
    """While a claim's lease runs, another delivery is BUSY, without a token."""
    await claimed(store, event(1))

    assert Claim(BUSY) == await store.claim(event(1))


async def test_an_expired_claim_is_taken_over_with_a_new_token(store: EventStore) -> None:
    """After its lease, a claim is taken over by the next delivery, with another token."""
    first = await claimed(store, event(1), lease=0.0)

    second = await claimed(store, event(1))

    assert first != second


async def test_a_released_claim_is_claimed_again_at_once(store: EventStore) -> None:
    """A released claim (a handler failed) is claimed by the very next delivery."""
    token = await claimed(store, event(1))
    await store.release("evt_1", token)

    assert token != await claimed(store, event(1))


async def test_a_claim_taken_over_cannot_complete(store: EventStore) -> None:
    """The holder of an expired claim that was taken over cannot complete it; the new one can."""
    lost = await claimed(store, event(1), lease=0.0)
    current = await claimed(store, event(1))

    assert (False, True) == (
        await store.complete("evt_1", lost),
        await store.complete("evt_1", current),
    )


async def test_an_expired_claim_not_taken_over_still_completes(store: EventStore) -> None:
    """A claim past its lease that nobody took over completes: nobody else ran the handlers."""
    token = await claimed(store, event(1), lease=0.0)

    assert await store.complete("evt_1", token)


async def test_a_lost_release_leaves_the_new_claim_alone(store: EventStore) -> None:
    """Releasing with a token that lost the claim does not free the current holder's claim."""
    lost = await claimed(store, event(1), lease=0.0)
    await claimed(store, event(1))

    await store.release("evt_1", lost)

    assert Claim(BUSY) == await store.claim(event(1))


async def test_a_released_handled_event_stays_done(store: EventStore) -> None:
    """Releasing after completing changes nothing: the event stays handled."""
    token = await claimed(store, event(1))
    await store.complete("evt_1", token)

    await store.release("evt_1", token)

    assert Claim(DONE) == await store.claim(event(1))


@contextlib.contextmanager
def write_locked(url: str) -> Iterator[None]:
    """Another connection holds the lock that claims need, until the block ends."""
    connection = connect(url)
    if isinstance(connection, sqlite3.Connection):
        connection.execute("BEGIN IMMEDIATE")
    else:
        connection.execute("BEGIN")
        connection.execute("LOCK TABLE payflow_events IN EXCLUSIVE MODE")
    try:
        yield
    finally:
        connection.execute("ROLLBACK")
        connection.close()


async def test_a_claim_waiting_for_the_database_leaves_the_loop_free(
    store: EventStore, store_url: str
) -> None:
    """While a claim waits for another connection's lock, the event loop runs other tasks."""
    await claimed(store, event(0))
    with write_locked(store_url):
        waiting = asyncio.create_task(store.claim(event(1)))
        # The loop's own timer fires while the claim is still waiting.
        done, _ = await asyncio.wait({waiting}, timeout=0.3)

    assert (set(), CLAIMED) == (done, (await waiting).outcome)


async def test_many_tasks_claiming_one_event_get_one_claim(store: EventStore) -> None:
    """Tasks of one loop sharing a store and racing for one event: exactly one claims it."""
    claims = await asyncio.gather(*(store.claim(event(1)) for _ in range(20)))

    assert [CLAIMED] + [BUSY] * 19 == sorted(
        (c.outcome for c in claims), key=lambda o: o != CLAIMED
    )


async def test_about_returns_the_record_as_given(store: EventStore) -> None:
    """An event comes back from `about` as it was recorded, its object ids in their order."""
    record = event(1, object_ids=("ch_1", "pi_1", "re_1"))
    await claimed(store, record)

    (found,) = await store.about("pi_1")

    assert (record, False) == (found.record, found.handled)


async def test_about_says_when_the_event_was_received_in_utc(store: EventStore) -> None:
    """`received` is when the event was first claimed, an aware UTC time, kept on takeover."""
    before = datetime.datetime.now(datetime.UTC)
    await claimed(store, event(1), lease=0.0)
    (first,) = await store.about("pi_1")
    await claimed(store, event(1))
    (again,) = await store.about("pi_1")
    after = datetime.datetime.now(datetime.UTC)

    assert (datetime.UTC, True, first.received) == (
        first.received.tzinfo,
        before - datetime.timedelta(seconds=1) <= first.received <= after,
        again.received,
    )


async def test_about_says_which_events_were_handled(store: EventStore) -> None:
    """`handled` is true once `complete` succeeded, false while claimed."""
    await store.complete("evt_1", await claimed(store, event(1, created=1)))
    await claimed(store, event(2, created=2))

    assert [("evt_2", False), ("evt_1", True)] == [
        (e.record.id, e.handled) for e in await store.about("pi_1")
    ]


async def test_about_finds_an_event_by_any_of_its_objects(store: EventStore) -> None:
    """An event about a charge and its payment is found by either id, not by others."""
    await claimed(store, event(1, object_ids=("ch_1", "pi_1")))
    await claimed(store, event(2, object_ids=("pi_2",)))

    assert [["evt_1"], ["evt_1"], ["evt_2"], []] == [
        [e.record.id for e in await store.about(object_id)]
        for object_id in ("ch_1", "pi_1", "pi_2", "pi_3")
    ]


async def test_about_lists_newest_first_then_by_arrival(store: EventStore) -> None:
    """Newest `created` first; among equal `created`, the last received first."""
    for n, created in [(1, 10), (4, 30), (3, 20), (2, 30)]:
        await claimed(store, event(n, created=created))

    assert ["evt_2", "evt_4", "evt_3", "evt_1"] == [e.record.id for e in await store.about("pi_1")]


async def test_about_returns_at_most_limit_events(store: EventStore) -> None:
    """`limit` bounds the answer, keeping the newest."""
    for n in range(5):
        await claimed(store, event(n, created=n))

    assert ["evt_4", "evt_3"] == [e.record.id for e in await store.about("pi_1", limit=2)]


async def test_about_refuses_a_limit_below_one(store: EventStore) -> None:
    """A limit of 0 is refused rather than read as "no limit"."""
    with pytest.raises(ValueError, match="limit"):
        await store.about("pi_1", limit=0)


async def test_an_object_named_twice_is_listed_once(store: EventStore) -> None:
    """An event naming the same object twice is one event about it."""
    await claimed(store, event(1, object_ids=("pi_1", "pi_1")))

    assert ["evt_1"] == [e.record.id for e in await store.about("pi_1")]


async def test_purge_removes_old_events_but_not_unexpired_claims(store: EventStore) -> None:
    """Purge removes handled, released and expired events, never a claim still running."""
    await store.complete("evt_1", await claimed(store, event(1)))
    await store.release("evt_2", await claimed(store, event(2)))
    await claimed(store, event(3), lease=0.0)
    await claimed(store, event(4))

    removed = await store.purge(older_than=0.0)

    assert (3, ["evt_4"]) == (removed, [e.record.id for e in await store.about("pi_1")])


async def test_purge_leaves_no_index_rows_behind(store: EventStore, store_url: str) -> None:
    """A purged event's object ids go with it: nothing is left in the index table."""
    await store.complete("evt_1", await claimed(store, event(1, object_ids=("ch_1", "pi_1"))))
    await store.purge(older_than=0.0)
    connection = connect(store_url)

    try:
        assert [(0,)] == connection.execute("SELECT count(*) FROM payflow_event_objects").fetchall()
    finally:
        connection.close()


async def test_purge_keeps_events_younger_than_the_retention(store: EventStore) -> None:
    """Events received within `older_than` stay."""
    await store.complete("evt_1", await claimed(store, event(1)))

    assert (0, 1) == (await store.purge(older_than=3600.0), len(await store.about("pi_1")))


async def test_a_purged_event_is_new_again(store: EventStore) -> None:
    """After its retention an event is forgotten: a (very late) delivery claims it."""
    await store.complete("evt_1", await claimed(store, event(1)))
    await store.purge(older_than=0.0)

    assert CLAIMED == (await store.claim(event(1))).outcome


async def test_a_store_is_usable_after_reopening(store_url: str) -> None:
    """What one store recorded, another store on the same URL sees (the schema exists)."""
    first = open_store(store_url)
    await first.complete("evt_1", await claimed(first, event(1)))
    await first.aclose()
    second = open_store(store_url)

    try:
        assert Claim(DONE) == await second.claim(event(1))
    finally:
        await second.aclose()


async def test_a_store_never_used_closes_twice(store_url: str) -> None:
    """Opening a store connects nothing; closing an unused store works, and again."""
    store = open_store(store_url)
    await store.aclose()
    await store.aclose()


def test_an_event_id_longer_than_255_characters_is_refused() -> None:
    """Event ids are at most 255 characters."""
    with pytest.raises(ValueError, match="255"):
        EventRecord(
            id="evt_" + "x" * 252,
            type="t",
            created=0,
            livemode=False,
            object_ids=(),
            summary="{}",
        )


def test_a_claims_token_is_not_in_its_repr() -> None:
    """A claim's token (what completes it) is left out of its repr."""
    claim = Claim.claimed()

    assert str(claim.token) not in repr(claim)


def test_stored_events_compare_by_value() -> None:
    """StoredEvent is a frozen value."""
    at = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)

    assert StoredEvent(event(1), at, True) == StoredEvent(event(1), at, True)
