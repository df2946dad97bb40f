"""Holding a request in flight, for tests that need a request still running at "Stripe".

A test cannot otherwise catch the sandbox in the middle of a request: once a request's body is
in, localstripe handles it without yielding to the event loop, so two requests hardly ever
overlap, and never on cue. With a hold, a test keeps one request running for as long as it
needs, knows when it is, and lets it go:

1. send a request with the header ``Payflow-Sandbox-Hold: NAME`` (any name; a fresh uuid);
   the sandbox takes its ``Idempotency-Key`` as in use, then holds it before the endpoint runs;
2. ``GET /_payflow/holds/NAME`` answers ``200 {"held": true}`` once that request is held (it
   waits for it, at most ``WAIT_SECONDS``; ``404 {"held": false}`` if it never came);
3. ``POST /_payflow/holds/NAME/release`` lets it go on (``200 {"released": true}``); a request
   held longer than ``HOLD_SECONDS`` goes on by itself, so a test that fails never leaves the
   sandbox stuck.

The control paths need no API key, like localstripe's ``/_config/``. Without the header nothing
changes: the hold costs one dictionary look-up per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final

from aiohttp import web

__all__ = ["HOLD_HEADER", "HOLD_PATH", "HOLD_SECONDS", "WAIT_SECONDS", "hold_middleware"]

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

HOLD_HEADER: Final = "Payflow-Sandbox-Hold"
HOLD_PATH: Final = "/_payflow/holds"
HOLD_SECONDS: Final = 60.0
WAIT_SECONDS: Final = 30.0
_CONTROL: Final = re.compile(re.escape(HOLD_PATH) + r"/([\w-]{1,100})(/release)?")


@dataclass
class _Hold:
    held: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)


_holds: dict[str, _Hold] = {}


def _hold(name: str) -> _Hold:
    return _holds.setdefault(name, _Hold())


async def _control(request: web.Request, name: str, release: bool) -> web.Response:
    allowed = "POST" if release else "GET"
    if request.method != allowed:
        return web.Response(status=405, text="Method Not Allowed", headers={"Allow": allowed})
    hold = _hold(name)
    if release:
        hold.released.set()
        return web.json_response({"released": True})
    try:
        await asyncio.wait_for(hold.held.wait(), WAIT_SECONDS)
    except TimeoutError:
        return web.json_response({"held": False}, status=404)
    return web.json_response({"held": True})


@web.middleware
async def hold_middleware(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """Answer the control paths; hold a request that asks for it until it is released."""
    match = _CONTROL.fullmatch(request.path)
    if match is not None:
        return await _control(request, match[1], release=match[2] is not None)
    name = request.headers.get(HOLD_HEADER)
    if name:
        hold = _hold(name)
        hold.held.set()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(hold.released.wait(), HOLD_SECONDS)
        finally:
            _holds.pop(name, None)
    return await handler(request)
