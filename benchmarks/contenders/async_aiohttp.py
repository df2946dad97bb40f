"""stripe-python's typed `*_async` methods over stripe.AIOHTTPClient(), its defaults unchanged."""

from __future__ import annotations

import stripe
from _common import async_app

app = async_app(stripe.AIOHTTPClient())
