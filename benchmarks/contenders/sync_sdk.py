"""The common mistake: the sync stripe SDK called inside async handlers, blocking the loop."""

from __future__ import annotations

from typing import Any

from _common import app as _app
from _common import client as _client

stripe_client = _client()  # the SDK's default sync client (requests, when installed)


async def create(params: dict[str, Any]) -> Any:
    return stripe_client.v1.payment_intents.create(params)  # type: ignore[arg-type]


async def confirm(intent: str) -> Any:
    return stripe_client.v1.payment_intents.confirm(intent, {"expand": ["latest_charge"]})


app = _app(create, confirm)
