"""Events as Stripe sends them: the refund events localstripe lacks, and deliveries that are
signed when sent and retried until the endpoint accepts them.

Register an endpoint with ``POST /_config/webhooks/{id}`` (``url``, ``secret``, optionally
``events``), as with localstripe. What changes (docs/sandbox.md, "Events"):

- A refund sends ``charge.refunded`` (the charge, with its new ``amount_refunded``) and
  ``refund.created``, as Stripe does (docs "Types of events": ``charge.refunded`` "Occurs
  whenever a charge is refunded, including partial refunds").
- localstripe signs with the event's ``created`` time and tries once, a second after the
  request. Stripe signs each attempt with the time it is sent (docs "Check the webhook
  signatures": the timestamp is part of the signed payload, so a replay can be refused), and
  retries a delivery that did not get a 2xx answer (docs "Event delivery behaviors": for up to
  three days, with an exponential back off). The sandbox sends at once and retries
  ``RETRIES`` times, doubling the wait from ``FIRST_RETRY`` seconds.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from typing import Any, Final

import aiohttp
from localstripe import resources, webhooks

__all__ = ["install"]

RETRIES: Final = 5
FIRST_RETRY: Final = 0.5

logger = logging.getLogger("payflow_sandbox.events")


def signature(payload: bytes, secret: str, timestamp: int) -> str:
    """The Stripe-Signature header of `payload` sent at `timestamp` (docs "Check the webhook
    signatures": ``t=<timestamp>,v1=<HMAC-SHA256 of "<timestamp>.<payload>">``)."""
    signed = b"%d.%s" % (timestamp, payload)
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


async def _deliver(session: aiohttp.ClientSession, url: str, secret: str, event: Any) -> None:
    payload = json.dumps(event._export(), sort_keys=True).encode()
    wait = FIRST_RETRY
    for attempt in range(RETRIES + 1):
        if attempt:
            await asyncio.sleep(wait)
            wait *= 2
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": signature(payload, secret, int(time.time())),
        }
        try:
            async with session.post(url, data=payload, headers=headers) as answer:
                if 200 <= answer.status < 300:
                    return
                logger.info("event %s: %s answered %d", event.type, url, answer.status)
        except aiohttp.ClientError as exc:
            logger.info("event %s: %s failed: %s", event.type, url, exc)
    logger.warning("event %s (%s) not delivered to %s", event.id, event.type, url)


async def _send(event: Any) -> None:
    """localstripe's `_send_webhook`, replaced: each endpoint that wants the event gets it."""
    endpoints = [
        hook
        for hook in webhooks._webhooks.values()
        if hook.events is None or event.type in hook.events
    ]
    if endpoints:
        async with aiohttp.ClientSession() as session:
            await asyncio.gather(
                *(_deliver(session, hook.url, hook.secret, event) for hook in endpoints)
            )


def _refunding(create: Any) -> Any:
    def created(cls: Any, /, **data: Any) -> Any:
        refund = create(**data)
        charge = resources.Charge._api_retrieve(refund.charge)
        webhooks.schedule_webhook(resources.Event("charge.refunded", charge))
        webhooks.schedule_webhook(resources.Event("refund.created", refund))
        return refund

    return classmethod(created)


def install() -> None:
    """Replace localstripe's delivery and add the refund events (after `_compat.install`)."""
    webhooks._send_webhook = _send
    resources.Refund._api_create = _refunding(resources.Refund._api_create)
