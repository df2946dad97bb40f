"""The HTTP/1.1 connection of `payflow serve`: uvicorn's httptools protocol, holding each client
to `Limits` and answering what it refuses in the JSON error envelope.

uvicorn's own protocol parses whatever one read brings (256 KiB: thousands of pipelined requests,
all queued at once), joins a header's pieces by repeated copying (quadratic in its size), times
nothing but idle keep-alive, and answers what the parser refuses in text/plain. Here the
connection feeds the parser itself, one piece at a time, each ending at the first blank line
(`\\r\\n\\r\\n`): a piece completes at most one request head, so

- the next request is parsed only once the previous one is answered (back-pressure: at most one
  read's bytes wait, unparsed, and reading pauses meanwhile);
- a head is counted as it arrives and refused at `max_head_bytes` (431), before the cost grows;
- a head must arrive within `head_timeout` of its first byte, a body within `body_timeout` of
  its head (408, then the connection closes); before its first byte a connection is idle, as
  between requests (uvicorn's keep-alive time limit);
- a response sent before its request's body was read closes the connection (a 413 does not keep
  reading the rest);
- HTTP versions other than 1.0 and 1.1 are refused (505), and so is a new connection beyond
  `max_connections` when no idle one can make room for it (503).

This module alone relies on uvicorn's protocol internals (`parser`, `cycle`, `flow`, `transport`,
`connections`, `server_state`, `timeout_keep_alive_task` and `_handler`,
`_unset_keepalive_if_required`, `_start_asgi_task`, `RequestResponseCycle`);
`tests/reliability/test_hostile_clients.py` fails when they change.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Final

import attrs
import httptools
import orjson
from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)

from ._limits import Limits
from ._messages import Language, render

__all__ = ["REFUSALS", "BoundedProtocol", "protocol_for"]

# The one table: code -> status of every refusal made below Starlette; the message of each is
# "refusal.<code>" in the catalog, in the server's language (a head it refuses cannot be trusted
# to say which language its client reads). `{max_head_bytes}` is filled from the limits.
REFUSALS: Final[Mapping[str, int]] = {
    "invalid_http": 400,
    "request_timeout": 408,
    "request_header_fields_too_large": 431,
    "http_version_not_supported": 505,
    "server_busy": 503,
    "shutting_down": 503,
}

_BLANK_LINE: Final = b"\r\n\r\n"
# How long a refused client may go on sending (dropped) while its answer reaches it.
_LINGER_SECONDS: Final = 1.0
_VERSIONS: Final = frozenset({"1.0", "1.1"})


def answers(limits: Limits, language: Language) -> dict[str, tuple[bytes, bytes]]:
    """Each refusal's status line and its headers and envelope, ready to write."""
    ready = {}
    for code, status in REFUSALS.items():
        text = render(f"refusal.{code}", language, attrs.asdict(limits))
        body = orjson.dumps({"status": False, "message": text, "error": {"code": code}})
        head = (
            b"content-type: application/json\r\ncontent-language: %s\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n"
            % (language.encode("ascii"), len(body))
        )
        ready[code] = (STATUS_LINE[status], head + body)
    return ready


class _Refused(Exception):
    """Raised in a parser callback to stop parsing and refuse the request with `code`."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class BoundedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, holding its connection to `limits`."""

    limits: ClassVar[Limits]
    _answers: ClassVar[dict[str, tuple[bytes, bytes]]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._unparsed = bytearray()
        self._in_head = True
        self._head_bytes = 0
        self._timer: asyncio.TimerHandle | None = None
        self._lingering = False
        # The request in the app (or last in it): `cycle` is the last one parsed, which may
        # be the next one, its head parsed in the same piece as the end of this one's body.
        self._running: RequestResponseCycle | None = None
        # Since when no request of this connection is in the app: it may be closed to make room.
        self._idle_since: float | None = self.loop.time()

    # The connection.

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # Until its first byte a new connection is idle, as a kept-alive one is between
        # requests (a client may connect ahead, or its loop lag): the same time limit, and the
        # first to go when room is needed.
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )
        if len(self.connections) > self.limits.max_connections and not self._close_idlest():
            self._refuse("server_busy")

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        self._unparsed.clear()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return
        self._unset_keepalive_if_required()
        if self._in_head and self._timer is None and not self._answering():
            self._start_timer(self.limits.head_timeout)
        self._unparsed += data
        self._feed()

    def shutdown(self) -> None:
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete and not cycle.more_body:
            cycle.keep_alive = False  # in the app: it has the grace period to answer
        elif self._in_head and not self._head_bytes and not self._unparsed:
            self.transport.close()
        else:
            self._refuse("shutting_down")

    def give_up(self) -> None:
        """The shutdown's grace period is over: answer 503 if nothing was answered yet; close."""
        self._refuse("shutting_down")

    # The parser, fed one piece at a time.

    def _answering(self) -> bool:
        """Whether a whole request has been read and its answer is not yet sent."""
        cycle = self.cycle
        return cycle is not None and not cycle.more_body and not cycle.response_complete

    def _feed(self) -> None:
        limit = self.limits.max_head_bytes
        while self._unparsed and not self._answering() and not self._closing():
            end = self._unparsed.find(_BLANK_LINE)
            end = len(self._unparsed) if end < 0 else end + len(_BLANK_LINE)
            if self._in_head:
                end = min(end, limit - self._head_bytes)
                self._head_bytes += end
            piece = self._unparsed[:end]
            del self._unparsed[:end]
            try:
                self.parser.feed_data(piece)
            except httptools.HttpParserUpgrade:
                # No WebSocket here: the request is answered as plain HTTP, and the connection
                # closed after it, for the parser stops at the upgrade.
                self.cycle.keep_alive = False
                self._unparsed.clear()
            except httptools.HttpParserError as exc:
                refused = exc.__context__
                if refused is not None and not isinstance(refused, _Refused):
                    raise refused from exc  # a bug in a callback, not a bad request
                self._refuse(refused.code if refused is not None else "invalid_http")
                return
            if self._in_head and self._head_bytes >= limit:
                self._refuse("request_header_fields_too_large")
                return
        if self._unparsed:
            self.flow.pause_reading()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        self._idle_since = None
        if self.parser.get_http_version() not in _VERSIONS:
            raise _Refused("http_version_not_supported")
        super().on_headers_complete()
        self._start_timer(self.limits.body_timeout)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._cancel_timer()
        self._in_head = True

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        self._running = cycle
        super()._start_asgi_task(cycle, app)

    def on_response_complete(self) -> None:
        if self._running is not None and self._running.more_body:
            # Answered before its body was read (a 413, a 401): reading the rest for nothing is
            # what the client would like the server to do.
            self._linger()
            return
        super().on_response_complete()
        if self._closing():
            return
        self._idle_since = self.loop.time()
        if self._unparsed:
            self._unset_keepalive_if_required()
            self._start_timer(self.limits.head_timeout)
            self._feed()

    # Refusals.

    def _refuse(self, code: str) -> None:
        """Answer `code` from `REFUSALS` where an answer can still be sent; close."""
        if self._closing():
            self.transport.close()
            return
        pending = [
            cycle
            for cycle in {self._running, self.cycle}
            if cycle is not None and not cycle.response_complete
        ]
        # An answer is possible if no answer is under way, and it would be taken for the answer
        # to the first pending request: that must be the one refused.
        answer = not pending or (pending == [self.cycle] and not self.cycle.response_started)
        for cycle in pending:
            # The app's own answer, if it still sends one, goes nowhere.
            cycle.disconnected = True
            cycle.message_event.set()
        if answer:
            status_line, rest = self._answers[code]
            defaults = b"".join(
                b"%s: %s\r\n" % header for header in self.server_state.default_headers
            )
            self.transport.write(status_line + defaults + rest)
        if answer and code != "server_busy":
            self._linger()
        else:
            # Nothing to lose, or (too many connections) no descriptor to spare for a while.
            self._cancel_timer()
            self.transport.close()

    def _closing(self) -> bool:
        return self._lingering or self.transport.is_closing()

    def _linger(self) -> None:
        """Half-close, drop what the client still sends for a moment, then close: closing with
        its bytes unread would reset the connection, and could lose the answer on its way."""
        self._lingering = True
        self._unparsed.clear()
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.flow.resume_reading()
        self._start_timer(_LINGER_SECONDS, self.transport.close)

    def _close_idlest(self) -> bool:
        """Close the connection idle the longest, to make room; whether there was one."""
        idle = [
            connection
            for connection in self.connections
            if isinstance(connection, BoundedProtocol)
            and connection is not self
            and connection._idle_since is not None
        ]
        if not idle:
            return False
        idlest = min(idle, key=lambda connection: connection._idle_since or 0.0)
        idlest._idle_since = None
        idlest.transport.close()
        return True

    # Time limits.

    def _start_timer(self, seconds: float, then: Callable[[], object] | None = None) -> None:
        self._cancel_timer()
        self._timer = self.loop.call_later(seconds, then or self._timed_out)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timed_out(self) -> None:
        self._timer = None
        self._refuse("request_timeout")


def protocol_for(limits: Limits, language: Language) -> type[asyncio.Protocol]:
    """uvicorn's `http=` protocol class, holding each connection to `limits` and refusing in
    `language`."""
    ready = answers(limits, language)
    return type("BoundedProtocol", (BoundedProtocol,), {"limits": limits, "_answers": ready})
