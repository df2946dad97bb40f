"""stripe-python's typed `*_async` methods over its default async client, stripe.HTTPXClient."""

from __future__ import annotations

import stripe
from _common import async_app

app = async_app(stripe.HTTPXClient())
