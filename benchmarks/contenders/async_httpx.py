"""stripe-python's typed `*_async` methods over its default async client, stripe.HTTPXClient."""

from __future__ import annotations

from typing import Any

import stripe
from _common import app as _app
from _common import client as _client

stripe_client = _client(stripe.HTTPXClient())


async def create(params: dict[str, Any]) -> Any:
    return await stripe_client.v1.payment_intents.create_async(params)  # type: ignore[arg-type]


async def confirm(intent: str) -> Any:
    return await stripe_client.v1.payment_intents.confirm_async(
        intent, {"expand": ["latest_charge"]}
    )


app = _app(create, confirm)
