"""A loopback HTTP proxy that injects faults between payflow and the sandbox.

Each request takes the next fault planned for a pattern its path matches (FIFO), or passes
through:

- `Fault.drop()`: forward the request, let the sandbox act, then close the client's connection
  without a response: Stripe acted and the caller never heard.
- `Fault.answer(500)`: answer 500 (429, 503, ...) without forwarding.
- `Fault.delay(2.0)`: wait, then forward.
- `Fault.overlap()`: forward the request asking the sandbox to hold it in flight (its
  `Idempotency-Key` in use, its endpoint not yet run: `payflow_sandbox._hold`), check that it
  is held, and close the client's connection: the caller never hears. The next attempt with the
  same key (the retry) is forwarded; once the sandbox has answered it, the original is let go
  on. The retry's answer reaches the caller only once the original's answer has come back, so
  what the caller does next never races the original.

`lose_first_responses(pattern)` drops the first response for each new `Idempotency-Key` on
matching paths, and `overlap_first_attempts(pattern)` holds each first attempt that way, letting
the retries through: a lost response, then a retry, for any number of concurrent calls.

Every request is recorded as an `Exchange`: when it went upstream and came back (ticks of one
counter, so their order is exact), the sandbox's status, the `id` it answered with, whether it
was a replay (`Idempotent-Replayed: true`), and whether the answer reached the caller. Bodies
are never kept: they hold card numbers.

It runs its own event loop in a thread, so sync and async code can both go through it. Each
response closes its connection, which keeps the proxy a few dozen lines of HTTP/1.1.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final
from urllib.parse import urlsplit

import attrs

from payflow_sandbox._hold import HOLD_HEADER, HOLD_PATH

# An overlapped original is let go when no retry comes within this long, so that nothing hangs.
HOLD_LIMIT: Final = 30.0


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

    @classmethod
    def overlap(cls) -> Fault:
        return cls("overlap")


@attrs.define
class Exchange:
    """One request through the proxy and what became of it; ticks order events across requests."""

    method: str
    path: str
    key: str | None
    fault: Fault | None
    forwarded: int | None = None  # the request went to the sandbox
    held: int | None = None  # overlapped: the sandbox said it holds it, its key in use
    released: int | None = None  # overlapped: the proxy let it go on
    answered: int | None = None  # the sandbox's answer ended
    status: int | None = None
    object_id: str | None = None  # the "id" of the sandbox's JSON answer
    replayed: bool = False  # the sandbox said Idempotent-Replayed: true
    delivered: bool = False  # the sandbox's answer was passed on to the caller


def in_order(*ticks: int | None) -> bool:
    """Whether each of these events happened, one after the other."""
    happened = [tick for tick in ticks if tick is not None]
    return len(happened) == len(ticks) and happened == sorted(set(happened))


@attrs.define
class _Held:
    """An overlapped original waiting for its retry."""

    release: asyncio.Event = attrs.field(factory=asyncio.Event)
    finished: asyncio.Event = attrs.field(factory=asyncio.Event)


def _read_answer(raw: bytes, exchange: Exchange) -> None:
    """Note the status, the replay header and the object id of a raw HTTP answer."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    with contextlib.suppress(IndexError, ValueError):
        exchange.status = int(lines[0].split(" ", 2)[1])
    headers = {n.strip().lower(): v.strip() for n, _, v in (x.partition(":") for x in lines[1:])}
    exchange.replayed = headers.get("idempotent-replayed") == "true"
    with contextlib.suppress(ValueError):
        data = json.loads(body)
        if isinstance(data, dict) and isinstance(data.get("id"), str):
            exchange.object_id = data["id"]


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._plans: dict[str, collections.deque[Fault]] = collections.defaultdict(
            collections.deque
        )
        self._first_attempts: list[tuple[re.Pattern[str], Fault]] = []
        self._keys_seen: set[str] = set()
        self._held: dict[str, _Held] = {}
        self._serving: set[asyncio.Task[None]] = set()
        self._lock = threading.Lock()
        self._ticks = itertools.count()
        self.exchanges: list[Exchange] = []
        self.url = ""

    @property
    def seen(self) -> list[tuple[str, str, Fault | None]]:
        """(method, path, fault) of every request, in order of arrival."""
        return [(e.method, e.path, e.fault) for e in self.exchanges]

    def plan(self, pattern: str, *faults: Fault) -> None:
        """Apply `faults`, in order, to the next requests whose path matches `pattern`."""
        with self._lock:
            self._plans[pattern].extend(faults)

    def lose_first_responses(self, pattern: str) -> None:
        """Drop the response to the first attempt of every idempotency key on `pattern`."""
        with self._lock:
            self._first_attempts.append((re.compile(pattern), Fault.drop()))

    def overlap_first_attempts(self, pattern: str) -> None:
        """Hold the first attempt of every idempotency key on `pattern` at the sandbox, cut off
        from its caller, until its retry has reached the sandbox (`Fault.overlap`)."""
        with self._lock:
            self._first_attempts.append((re.compile(pattern), Fault.overlap()))

    def on(self, pattern: str) -> list[Exchange]:
        """The exchanges whose path (without its query) matches `pattern`."""
        return [e for e in self.exchanges if re.fullmatch(pattern, e.path.partition("?")[0])]

    def lost(self, pattern: str) -> list[Exchange]:
        """The exchanges on `pattern` that the sandbox answered and whose caller never heard."""
        return [e for e in self.on(pattern) if e.status is not None and not e.delivered]

    def by_key(self, pattern: str) -> dict[str | None, list[Exchange]]:
        """The exchanges on `pattern` grouped by idempotency key, each group in arrival order."""
        groups: dict[str | None, list[Exchange]] = collections.defaultdict(list)
        for exchange in self.on(pattern):
            groups[exchange.key].append(exchange)
        return dict(groups)

    def _tick(self) -> int:
        return next(self._ticks)

    def _next_fault(self, path: str, key: str | None) -> Fault | None:
        path = path.partition("?")[0]
        with self._lock:
            for pattern, faults in self._plans.items():
                if faults and re.fullmatch(pattern, path):
                    return faults.popleft()
            for first, fault in self._first_attempts:
                if first.fullmatch(path) and key is not None and key not in self._keys_seen:
                    self._keys_seen.add(key)
                    return fault
        return None

    async def _upstream_answer(self, reader: asyncio.StreamReader, exchange: Exchange) -> bytes:
        raw = await reader.read()
        exchange.answered = self._tick()
        _read_answer(raw, exchange)
        return raw

    async def _forward(self, head: bytes, body: bytes, exchange: Exchange) -> bytes:
        """Send the request, and return the sandbox's answer (the retry of an overlapped original
        then lets it go on, and waits for its answer)."""
        # The first attempt after an overlapped original (its retry) takes it over.
        held = self._held.pop(exchange.key, None) if exchange.key else None
        reader, writer = await asyncio.open_connection(*self._upstream)
        try:
            writer.write(head + body)
            await writer.drain()
            exchange.forwarded = self._tick()
            raw = await self._upstream_answer(reader, exchange)
            if held is not None:
                held.release.set()
                await held.finished.wait()
            return raw
        finally:
            writer.close()
            await writer.wait_closed()

    async def _control(self, method: str, path: str) -> int:
        """The status of a bodiless request to one of the sandbox's own paths."""
        reader, writer = await asyncio.open_connection(*self._upstream)
        try:
            writer.write(
                f"{method} {path} HTTP/1.1\r\nHost: sandbox\r\nContent-Length: 0\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            await writer.drain()
            answer = Exchange(method, path, None, None)
            _read_answer(await reader.read(), answer)
            return answer.status or 0
        finally:
            writer.close()
            await writer.wait_closed()

    async def _overlapped(
        self, head: bytes, body: bytes, exchange: Exchange, client: asyncio.StreamWriter
    ) -> None:
        """Send the request to be held at the sandbox, check that it is, cut the caller off, wait
        for the retry's answer, then let the original go on."""
        assert exchange.key is not None  # only keyed first attempts are overlapped
        held = self._held[exchange.key] = _Held()
        name = uuid.uuid4().hex
        head = head[:-2] + f"{HOLD_HEADER}: {name}\r\n\r\n".encode()
        reader, writer = await asyncio.open_connection(*self._upstream)
        try:
            writer.write(head + body)
            await writer.drain()
            exchange.forwarded = self._tick()
            if await self._control("GET", f"{HOLD_PATH}/{name}") == 200:
                exchange.held = self._tick()
            client.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(held.release.wait(), HOLD_LIMIT)
            await self._control("POST", f"{HOLD_PATH}/{name}/release")
            exchange.released = self._tick()
            await self._upstream_answer(reader, exchange)
        finally:
            held.finished.set()
            writer.close()
            await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # asyncio forgets a connection's task once the caller's side is closed; an overlapped
        # original lives on after that, so it is kept here.
        task = asyncio.current_task()
        assert task is not None
        self._serving.add(task)
        try:
            await self._exchange(reader, writer)
        except asyncio.CancelledError:
            pass  # the proxy is stopping: the connection is closed all the same
        finally:
            self._serving.discard(task)

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
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
            exchange = Exchange(method, path, key, fault)
            self.exchanges.append(exchange)
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
            if fault is not None and fault.kind == "overlap":
                await self._overlapped(upstream_head, body, exchange, writer)
                return  # the sandbox acted; the caller hears nothing
            response = await self._forward(upstream_head, body, exchange)
            if fault is not None and fault.kind == "drop":
                return  # the sandbox acted; the caller hears nothing
            # Noted before it is sent: the caller may act on it before this task runs again.
            exchange.delivered = True
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
                # End what is still waiting (a delay, a hold) and let each connection close
                # before the loop goes.
                current = asyncio.current_task()
                pending = [t for t in asyncio.all_tasks() if t is not current]
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
                await server.wait_closed()

            asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()
