"""Logging without secrets: one access record per request, never a body or a header.

Each request gets one INFO record on the `payflow_asgi.access` logger, as key=value text and
as the same fields in `extra` (for JSON formatters): method, route (the path template, never the
raw path), status, duration_ms and the request id of Stripe's answer (`-` when the request
made no call to Stripe, or Stripe never answered). Nothing is built while the logger is off.

The Stripe SDK's own records (`stripe` logger) are guarded by the library: `payflow.Gateway`
drops their DEBUG records (request bodies) and redacts card numbers and keys in the others.
"""

from __future__ import annotations

import logging
import time
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

import payflow

__all__ = ["AccessLog", "logger"]

logger: Final = logging.getLogger("payflow_asgi.access")


def _route(scope: Scope) -> str:
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else "-"


class AccessLog:
    """Pure ASGI middleware: one access record per HTTP request, once it has been answered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not logger.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        # Unless a response starts, the server error middleware outside answers 500.
        status = 500
        before = payflow.last_stripe_request_id()

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            # The handler ran in this task: its gateway call set the id in this context.
            request_id = payflow.last_stripe_request_id()
            fields = {
                "method": scope["method"],
                "route": _route(scope),
                "status": status,
                # Unrounded: a fast answer is a small positive number, not 0.0 (the message
                # shows one decimal).
                "duration_ms": (time.perf_counter() - started) * 1000,
                "stripe_request_id": request_id if request_id != before and request_id else "-",
            }
            logger.info(
                "method=%s route=%s status=%d duration_ms=%.1f stripe_request_id=%s",
                *fields.values(),
                extra=fields,
            )
