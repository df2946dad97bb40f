"""Stripe webhook events: verified before anything is parsed, typed, and handled exactly once.

::

    store = payflow.webhooks.open_store("sqlite:///payflow-events.db")
    webhooks = payflow.webhooks.Webhooks(["whsec_..."], store)

    @webhooks.on("payment_intent.succeeded")
    async def ship(event: payflow.webhooks.Event) -> None:
        assert isinstance(event.object, payflow.Payment)
        ...

    received = await webhooks.receive(raw_body, request.headers.get("Stripe-Signature"))

`verify_event` checks the body against the ``Stripe-Signature`` header with the official SDK's
verification (`stripe.WebhookSignature`), for each endpoint secret (several while one is being
rotated), then reads the event. `Webhooks.receive` also claims the event in the store before its
handlers run, so each event is handled once across every process sharing the store, whatever
Stripe redelivers (docs/events.md says what that covers).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Final, Literal, TypeAlias

import attrs
import stripe

from . import _stripe_api, _validate
from ._errors import (
    EventInProgress,
    HandlerFailed,
    NotAnEvent,
    SignatureExpired,
    SignatureInvalid,
    SignatureMissing,
    WebhookRefused,
)
from ._models import Charge, Payment, Refund
from ._store import (
    DEFAULT_LEASE,
    DEFAULT_RETENTION,
    ClaimOutcome,
    EventRecord,
    EventStore,
    StoredEvent,
    open_store,
)

__all__ = [
    "DEFAULT_LEASE",
    "DEFAULT_RETENTION",
    "DEFAULT_TOLERANCE",
    "Event",
    "EventInProgress",
    "EventObject",
    "EventRecord",
    "EventStore",
    "Handler",
    "HandlerFailed",
    "NotAnEvent",
    "Outcome",
    "Received",
    "SignatureExpired",
    "SignatureInvalid",
    "SignatureMissing",
    "StoredEvent",
    "WebhookRefused",
    "Webhooks",
    "open_store",
    "verify_event",
]

logger = logging.getLogger("payflow.webhooks")

# Stripe's libraries refuse a signature more than five minutes old (docs "Check the webhook
# signatures": the default tolerance), which bounds how long a captured body can be replayed.
DEFAULT_TOLERANCE: Final = 300.0
# Old events are removed at most this often, by the delivery that finds it due.
_PURGE_INTERVAL: Final = 3_600.0

EventObject: TypeAlias = Payment | Charge | Refund | Mapping[str, Any]


@attrs.frozen
class Event:
    """A verified Stripe event. `object` is a `Payment`, `Charge` or `Refund` for those
    objects' events, and Stripe's mapping for any other; it stays out of the repr (a mapping may
    carry secrets)."""

    id: str
    type: str
    created: dt.datetime
    livemode: bool
    object: EventObject = attrs.field(repr=False)

    @property
    def object_ids(self) -> tuple[str, ...]:
        """The ids this event is about: its object's, and the payment or charge it belongs to."""
        obj = self.object
        ids: tuple[Any, ...]
        if isinstance(obj, Payment):
            ids = (obj.id, *(charge.id for charge in obj.charges))
        elif isinstance(obj, Charge):
            ids = (obj.id, obj.payment_id)
        elif isinstance(obj, Refund):
            ids = (obj.id, obj.charge_id)
        else:
            ids = (obj.get("id"),)
        return tuple(dict.fromkeys(i for i in ids if isinstance(i, str)))

    def summary(self) -> dict[str, Any]:
        """What is recorded of the object: amounts in minor units, never a client secret."""
        obj = self.object
        if isinstance(obj, Payment):
            error = obj.last_payment_error
            return {
                "id": obj.id,
                "object": "payment_intent",
                "status": obj.status,
                "amount": obj.amount.minor_units,
                "currency": obj.amount.currency,
                "amount_refunded": obj.amount_refunded.minor_units,
                "customer": obj.customer_id,
                "payment_method": obj.payment_method,
                "last_payment_error": None if error is None else error.code,
            }
        if isinstance(obj, Charge):
            return {
                "id": obj.id,
                "object": "charge",
                "status": obj.status,
                "amount": obj.amount.minor_units,
                "currency": obj.amount.currency,
                "amount_refunded": obj.amount_refunded.minor_units,
                "refunded": obj.refunded,
                "payment_intent": obj.payment_id,
            }
        if isinstance(obj, Refund):
            return {
                "id": obj.id,
                "object": "refund",
                "status": obj.status,
                "amount": obj.amount.minor_units,
                "currency": obj.amount.currency,
                "charge": obj.charge_id,
                "reason": obj.reason,
            }
        return {"id": obj.get("id"), "object": obj.get("object")}

    def record(self) -> EventRecord:
        """What the store keeps of this event."""
        return EventRecord(
            id=self.id,
            type=self.type,
            created=int(self.created.timestamp()),
            livemode=self.livemode,
            object_ids=self.object_ids,
            summary=json.dumps(self.summary(), separators=(",", ":")),
        )


# Each object payflow types, by Stripe's `object` name.
_READERS: Final[Mapping[str, Callable[[Mapping[str, Any]], EventObject]]] = {
    "payment_intent": _stripe_api.payment,
    "charge": _stripe_api.charge,
    "refund": _stripe_api.refund,
}


def _signed_at(header: str) -> int:
    # The header's t= field (docs "Check the webhook signatures"); the SDK has just verified it.
    fields = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    return int(fields["t"])


def verify_event(
    payload: bytes | str,
    signature: str | None,
    secrets: str | Iterable[str],
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> Event:
    """The event `payload` carries, once one of `secrets` is shown to have signed it.

    Raises `SignatureMissing` without a header, `SignatureInvalid` when no secret signed this
    exact body, `SignatureExpired` when it was signed more than `tolerance` seconds before (or
    after) `now`, and `NotAnEvent` for a signed body that is not a Stripe event.
    """
    if not signature:
        raise SignatureMissing("the delivery has no Stripe-Signature header")
    keys = [secrets] if isinstance(secrets, str) else list(secrets)
    if not any(keys):
        raise SignatureInvalid("no endpoint secret is configured")
    if not any(_signed_by(payload, signature, key) for key in keys if key):
        raise SignatureInvalid("no endpoint secret signed this body")
    now = time.time() if now is None else now
    if abs(now - _signed_at(signature)) > tolerance:
        raise SignatureExpired(f"the signature is more than {tolerance:g} s away from now")
    return _event(payload)


def _signed_by(payload: bytes | str, header: str, secret: str) -> bool:
    try:
        # tolerance=None: the timestamp is checked after, to tell an old body from a forged one.
        return bool(stripe.WebhookSignature.verify_header(payload, header, secret, None))
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError):
        return False


def _event(payload: bytes | str) -> Event:
    try:
        data = json.loads(payload)
        obj = data["data"]["object"]
        reader = _READERS.get(obj.get("object"))
        event = Event(
            id=_text(data["id"]),
            type=_text(data["type"]),
            created=dt.datetime.fromtimestamp(_integer(data["created"]), dt.UTC),
            livemode=data.get("livemode") is True,
            object=obj if reader is None else reader(obj),
        )
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError, OSError) as exc:
        raise NotAnEvent("the signed body is not a Stripe event") from exc
    if not event.id.startswith("evt_"):
        raise NotAnEvent("the signed body is not a Stripe event")
    return event


def _text(value: object) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= 255:
        raise TypeError("expected a text of 1 to 255 characters")
    return value


def _integer(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("expected an integer")
    return value


Handler: TypeAlias = Callable[[Event], Awaitable[None]]


# What a delivery led to: a new event whose handlers ran, one handled before (nothing ran
# again), or a new event of a type no handler takes (recorded only).
Outcome: TypeAlias = Literal["handled", "duplicate", "unhandled"]


@attrs.frozen
class Received:
    """A delivery accepted: its event, and what became of it."""

    event: Event
    outcome: Outcome


class Webhooks:
    """Verified deliveries, each event handled once across every process sharing `store`.

    `secrets` are the endpoint's signing secrets (`whsec_...`; two while rotating one).
    `handlers` maps an event type to what runs for it; `on(type)` adds one more. A handler must
    finish within the lease (it is cancelled at three quarters of it), and should not keep its
    own state outside what it writes: a handler that raises makes the delivery fail, and
    Stripe's next delivery of the event runs every handler of its type again.
    """

    def __init__(
        self,
        secrets: str | Sequence[str],
        store: EventStore,
        handlers: Mapping[str, Handler | Sequence[Handler]] | None = None,
        *,
        tolerance: float = DEFAULT_TOLERANCE,
        lease: float = DEFAULT_LEASE,
        retention: float = DEFAULT_RETENTION,
    ) -> None:
        self.secrets = (secrets,) if isinstance(secrets, str) else tuple(secrets)
        self.store = store
        self.tolerance = tolerance
        self.lease = lease
        self.retention = retention
        self._handlers: dict[str, list[Handler]] = {}
        for event_type, registered in (handlers or {}).items():
            functions = [registered] if callable(registered) else list(registered)
            self._handlers.setdefault(event_type, []).extend(functions)
        self._purged = 0.0

    def __repr__(self) -> str:
        return f"Webhooks(secrets=<{len(self.secrets)} hidden>, handlers={sorted(self._handlers)})"

    def on(self, event_type: str) -> Callable[[Handler], Handler]:
        """A decorator: run the function for each new event of `event_type`."""

        def register(handler: Handler) -> Handler:
            self._handlers.setdefault(event_type, []).append(handler)
            return handler

        return register

    async def receive(self, payload: bytes | str, signature: str | None) -> Received:
        """Verify a delivery, and run the handlers of its event unless it was handled before.

        Raises the `WebhookRefused` errors of `verify_event`, `EventInProgress` while another
        process holds the event, and `HandlerFailed` when a handler raised (the event is then
        released for the next delivery).
        """
        event = verify_event(payload, signature, self.secrets, tolerance=self.tolerance)
        await self._purge_when_due()
        claim = await self.store.claim(event.record(), lease=self.lease)
        if claim.outcome is ClaimOutcome.DONE:
            return Received(event, "duplicate")
        if claim.outcome is ClaimOutcome.BUSY or claim.token is None:
            raise EventInProgress(f"event {event.id} is being handled by another process")
        handlers = self._handlers.get(event.type, [])
        running: Handler | None = None
        try:
            async with asyncio.timeout(self.lease * 0.75):
                for running in handlers:
                    await running(event)
        except BaseException as exc:
            await asyncio.shield(self.store.release(event.id, claim.token))
            if isinstance(exc, Exception):
                name = getattr(running, "__qualname__", repr(running))
                raise HandlerFailed(f"handler {name} of {event.type} raised") from exc
            raise
        if not await self.store.complete(event.id, claim.token):
            # The lease ran out and another process took the event over: it ran twice.
            logger.warning("event %s outlived its lease: its handlers may run again", event.id)
        return Received(event, "handled" if handlers else "unhandled")

    async def events_about(self, object_id: str, *, limit: int = 50) -> list[StoredEvent]:
        """What was recorded about a payment, charge or refund (its id), newest first."""
        return await self.store.about(_validate.object_id(object_id, "object_id"), limit=limit)

    async def _purge_when_due(self) -> None:
        now = time.monotonic()
        if now - self._purged >= _PURGE_INTERVAL:
            self._purged = now
            await self.store.purge(older_than=self.retention)
