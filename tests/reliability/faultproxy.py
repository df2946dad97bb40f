"""A loopback HTTP proxy that injects faults between payflow and the sandbox.

Each request takes the next fault planned for a pattern its path matches (FIFO), or passes
through:

- `Fault.drop()`: forward the request, let the sandbox act, then close the client's connection
  without a response: Stripe acted and the caller never heard.
- `Fault.status(500)`: answer 500 (429, 503, ...) without forwarding.
- `Fault.delay(2.0)`: wait, then forward.

`lose_first_responses(pattern)` drops the first response for each new `Idempotency-Key` on
matching paths and lets its retries through: a lost response, then a retry, for any number of
concurrent calls.

It runs its own event loop in a thread, so sync and async code can both go through it. Each
response closes its connection, which keeps the proxy a dozen lines of HTTP/1.1.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import attrs


@attrs.frozen
class Fault:
    kind: str
    status: int = 0
    seconds: float = 0.0

    @classmethod
    def drop(cls) -> Fault:
        return cls("drop")

    @classmethod
    def answer(cls, status: int) -> Fault:
        return cls("status", status=status)

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        return cls("delay", seconds=seconds)


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._plans: dict[str, collections.deque[Fault]] = collections.defaultdict(
            collections.deque
        )
        self._lossy: list[re.Pattern[str]] = []
        self._keys_seen: set[str] = set()
        self._lock = threading.Lock()
        self.seen: list[tuple[str, str, Fault | None]] = []
        self.url = ""

    def plan(self, pattern: str, *faults: Fault) -> None:
        """Apply `faults`, in order, to the next requests whose path matches `pattern`."""
        with self._lock:
            self._plans[pattern].extend(faults)

    def lose_first_responses(self, pattern: str) -> None:
        """Drop the response to the first attempt of every idempotency key on `pattern`."""
        with self._lock:
            self._lossy.append(re.compile(pattern))

    def _next_fault(self, path: str, key: str | None) -> Fault | None:
        path = path.partition("?")[0]
        with self._lock:
            for pattern, faults in self._plans.items():
                if faults and re.fullmatch(pattern, path):
                    return faults.popleft()
            lossy = any(p.fullmatch(path) for p in self._lossy)
            if lossy and key is not None and key not in self._keys_seen:
                self._keys_seen.add(key)
                return Fault.drop()
        return None

    async def _forward(self, head: bytes, body: bytes) -> bytes:
        reader, writer = await asyncio.open_connection(*self._upstream)
        try:
            writer.write(head + body)
            await writer.drain()
            return await reader.read()
        finally:
            writer.close()
            await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            length = 0
            key = None
            kept = [lines[0]]
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                if name.lower() == "idempotency-key":
                    key = value.strip()
                if name and name.lower() != "connection":
                    kept.append(line)
            body = await reader.readexactly(length)
            fault = self._next_fault(path, key)
            self.seen.append((method, path, fault))
            if fault is not None and fault.kind == "status":
                payload = b'{"error": {"type": "api_error", "message": "injected"}}'
                writer.write(
                    f"HTTP/1.1 {fault.status} Injected\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
                    + payload
                )
                await writer.drain()
                return
            if fault is not None and fault.kind == "delay":
                await asyncio.sleep(fault.seconds)
            upstream_head = ("\r\n".join([*kept, "Connection: close"]) + "\r\n\r\n").encode()
            response = await self._forward(upstream_head, body)
            if fault is not None and fault.kind == "drop":
                return  # the sandbox acted; the caller hears nothing
            writer.write(response)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    @contextmanager
    def running(self) -> Iterator[FaultProxy]:
        loop = asyncio.new_event_loop()
        started = threading.Event()
        server: asyncio.Server | None = None

        async def start() -> None:
            nonlocal server
            server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]
            self.url = f"http://127.0.0.1:{port}"
            started.set()

        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
        started.wait(10)
        try:
            yield self
        finally:

            async def stop() -> None:
                assert server is not None
                server.close()
                await server.wait_closed()
                # Let connections that are still closing finish before the loop goes.
                current = asyncio.current_task()
                await asyncio.gather(*(t for t in asyncio.all_tasks() if t is not current))

            asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()
