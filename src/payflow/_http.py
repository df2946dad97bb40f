"""The async path's HTTP/1.1 client: keep-alive connections over asyncio, parsed by httptools.

Measured (docs/performance.md): aiohttp's `ClientSession` spent ~0.3 ms of CPU per call to
Stripe, the largest single share of a `payflow serve` request; this client ~0.08 ms. It does
only what Stripe's API needs: one request at a time per connection, bodies with a
Content-Length, responses framed by a Content-Length, chunks or the end of the connection
(interim 1xx answers skipped), no compression (it sends no Accept-Encoding), TLS verified
against the SDK's CA bundle, and per-origin pools of idle connections under one cap on requests
in flight. No proxies, no HTTP/2, no HEAD, no protocol switch (a 101 is an error).

A connection is reused only after a whole response that allows it; any failure, timeout or
cancellation closes it. Errors are `OSError`s: `TimeoutError`, `ConnectionError` (closed
before the whole response, or a malformed one) and `ssl.SSLError`.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from typing import Final, cast
from urllib.parse import urlsplit

import httptools
import stripe

__all__ = ["Pool"]

# Idle connections older than this are closed rather than reused: servers close theirs after a
# while (uvicorn 5 s, nginx 75 s), and a request sent as they do so gets no answer.
IDLE_SECONDS: Final = 15.0

_Origin = tuple[str, str, int]  # scheme, host, port
_Answer = tuple[bytes, int, "Headers", bool]  # body, status, headers, keep-alive


class Headers(dict[str, str]):
    """Response headers under lower-case names, looked up in any case (as the SDK does)."""

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(name.lower())

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return super().get(name.lower(), default)


class _Connection(asyncio.Protocol):
    """One connection: sends a request, collects its response through httptools' callbacks."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.open = True
        self._answer: asyncio.Future[_Answer] | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._headers = Headers()
        self._body = bytearray()
        self._headers_done = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but behave as one.
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        framed = "content-length" in self._headers or "transfer-encoding" in self._headers
        if exc is None and self._headers_done and not framed:
            # A body delimited by the end of the connection (RFC 9112, section 6.3): now whole.
            self._complete(keep_alive=False)
        self._fail(ConnectionError("the connection closed before the whole response arrived"))

    def data_received(self, data: bytes) -> None:
        if self._answer is None or self._answer.done():
            # Nothing was asked (a server's goodbye, say): this connection is not reusable.
            self.close()
            return
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade):
            self._fail(ConnectionError("malformed HTTP response"))
            self.close()

    # httptools' callbacks
    def on_message_begin(self) -> None:
        if self._answer is None or self._answer.done():
            # Bytes beyond the answer: whatever they are, this connection is not reusable.
            self.close()

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        self._headers[key] = f"{self._headers[key]}, {text}" if key in self._headers else text

    def on_headers_complete(self) -> None:
        self._headers_done = True

    def on_body(self, body: bytes) -> None:
        self._body += body

    def on_message_complete(self) -> None:
        status = self._parser.get_status_code()
        if status == 101:
            self._fail(ConnectionError("the server switched protocols"))
            self.close()
        elif status < 200:
            # An interim answer (100 Continue, 103 Early Hints): the final one follows.
            self._headers, self._body, self._headers_done = Headers(), bytearray(), False
        else:
            self._complete(keep_alive=self._parser.should_keep_alive())

    def _complete(self, *, keep_alive: bool) -> None:
        if self._answer is not None and not self._answer.done():
            status = self._parser.get_status_code()
            self._answer.set_result((bytes(self._body), status, self._headers, keep_alive))
        # What arrives later never changes what was handed over.
        self._headers, self._body = Headers(), bytearray()

    def _fail(self, exc: Exception) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(exc)

    def send(self, request: bytes) -> asyncio.Future[_Answer]:
        assert self.transport is not None
        self._parser = httptools.HttpResponseParser(self)
        self._headers, self._body, self._headers_done = Headers(), bytearray(), False
        self._answer = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self._answer

    def close(self) -> None:
        self.open = False
        if self.transport is not None:
            self.transport.close()


def _head(method: str, target: str, host: str, headers: Mapping[str, str], length: int) -> bytes:
    lines = [f"{method.upper()} {target} HTTP/1.1", f"Host: {host}"]
    for name, value in headers.items():
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
            raise ValueError(f"header {name!r} holds a line break")
        if name.lower() not in {"host", "content-length"}:
            lines.append(f"{name}: {value}")
    lines.append(f"Content-Length: {length}\r\n\r\n")
    return "\r\n".join(lines).encode("latin-1")


class Pool:
    """Keep-alive connections per origin, for one event loop; each request (waiting for a slot,
    connecting, sending, reading) ends within `timeout` seconds."""

    def __init__(self, *, max_connections: int, timeout: float, cafile: str | None = None) -> None:
        self._timeout = timeout
        # The certificates the SDK itself trusts for api.stripe.com, unless told otherwise.
        self._cafile = cafile or stripe.ca_bundle_path
        self._closed = False
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: dict[_Origin, list[tuple[_Connection, float]]] = {}
        self._tls: ssl.SSLContext | None = None

    async def request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[bytes, int, Headers]:
        """Send one request and read its whole response."""
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        if method.upper() == "HEAD":
            raise ValueError("HEAD is not supported: its answer has no body to frame")
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        port = parts.port or (443 if parts.scheme == "https" else 80)
        origin = (parts.scheme, parts.hostname, port)
        target = f"{parts.path or '/'}?{parts.query}" if parts.query else parts.path or "/"
        # Never the URL's user:password, if it has one.
        authority = host if parts.port is None else f"{host}:{parts.port}"
        request = _head(method, target, authority, headers, len(body)) + body
        async with asyncio.timeout(self._timeout), self._slots:
            connection = self._reuse(origin) or await self._connect(origin)
            try:
                content, status, answer_headers, keep_alive = await connection.send(request)
            except BaseException:
                connection.close()
                raise
        if keep_alive and connection.open and not self._closed:
            loop = asyncio.get_running_loop()
            self._idle.setdefault(origin, []).append((connection, loop.time()))
        else:
            connection.close()
        return content, status, answer_headers

    def _reuse(self, origin: _Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        now = asyncio.get_running_loop().time()
        while idle:
            connection, since = idle.pop()
            if connection.open and now - since < IDLE_SECONDS:
                return connection
            connection.close()
        return None

    async def _connect(self, origin: _Origin) -> _Connection:
        scheme, host, port = origin
        tls = None
        if scheme == "https":
            if self._tls is None:
                try:
                    self._tls = ssl.create_default_context(cafile=self._cafile)
                except OSError as exc:
                    # A configuration error, not a network one: never retried as such.
                    raise ValueError(f"cannot load the CA certificates {self._cafile}") from exc
            tls = self._tls
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(_Connection, host, port, ssl=tls)
        return connection

    def close(self) -> None:
        """Close every idle connection; requests in flight close theirs when they end."""
        self._closed = True
        for idle in self._idle.values():
            for connection, _ in idle:
                connection.close()
        self._idle.clear()
