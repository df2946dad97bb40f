"""Hostile HTTP clients, each a bounded coroutine against a server on loopback.

The tests (`test_hostile_clients.py`) run them small and assert what the server does;
`benchmarks/attacks.py` runs them at the sizes of issue 14 and prints what they cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import attrs

CUSTOMER = b'{"email": "normal@example.com"}'


@attrs.frozen
class Answer:
    """What a connection got back: the bytes read until the server closed it (or the wait
    ended), and after how many seconds."""

    data: bytes
    seconds: float
    closed: bool

    @property
    def status(self) -> int:
        """The status code of the first answer, 0 if there is none."""
        parts = self.data.split(b" ", 2)
        return int(parts[1]) if len(parts) > 2 and parts[1].isdigit() else 0

    @property
    def statuses(self) -> list[int]:
        """The status codes of every answer read, in order."""
        return statuses_in(self.data)

    @property
    def body(self) -> bytes:
        return self.data.partition(b"\r\n\r\n")[2]


def rss_mb(pid: int) -> float:
    """The resident memory of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise LookupError(pid)


async def send(
    host: str,
    port: int,
    *chunks: bytes,
    wait: float = 5.0,
    pause: float = 0.0,
    delay: float = 0.0,
) -> Answer:
    """Write `chunks` (`delay` seconds after connecting, `pause` seconds between them), then
    read until the server closes the connection or `wait` seconds have passed since
    connecting."""
    started = time.monotonic()
    reader, writer = await asyncio.open_connection(host, port)
    received = bytearray()
    closed = False

    async def write() -> None:
        await asyncio.sleep(delay)
        with contextlib.suppress(ConnectionError):
            for chunk in chunks:
                writer.write(chunk)
                await writer.drain()
                await asyncio.sleep(pause)

    writing = asyncio.create_task(write())
    try:
        async with asyncio.timeout(wait):
            while data := await reader.read(65536):
                received += data
            closed = True
    except TimeoutError:
        pass
    except ConnectionError:
        closed = True
    finally:
        writing.cancel()
        writer.transport.abort()
    return Answer(bytes(received), time.monotonic() - started, closed)


def request(method: str, path: str, body: bytes = b"", close: bool = True) -> bytes:
    """A well-formed HTTP/1.1 request."""
    head = f"{method} {path} HTTP/1.1\r\nHost: payflow.test\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    if close:
        head += "Connection: close\r\n"
    return head.encode() + b"\r\n" + body


async def normal_requests(host: str, port: int, count: int) -> list[int]:
    """`count` ordinary requests, alternately GET /health and a new customer, one at a time:
    the status of each (0: no answer within 10 s)."""
    statuses = []
    for n in range(count):
        customer = request("POST", "/api/customers", CUSTOMER)
        raw = request("GET", "/health") if n % 2 == 0 else customer
        try:
            answer = await send(host, port, raw, wait=10)
        except OSError:
            statuses.append(0)
        else:
            statuses.append(answer.status)
    return statuses


@contextlib.asynccontextmanager
async def connections(
    host: str, port: int, count: int, first_bytes: bytes = b""
) -> AsyncIterator[list[asyncio.StreamWriter]]:
    """`count` connections held open, each having sent `first_bytes`; closed on exit."""
    writers: list[asyncio.StreamWriter] = []
    try:
        for _ in range(count):
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection(host, port)
                writer.write(first_bytes)
                writers.append(writer)
        yield writers
    finally:
        for writer in writers:
            writer.transport.abort()


async def pipeline_without_reading(
    host: str, port: int, *, clients: int = 20, size: int = 256 * 1024, hold: float = 2.0
) -> None:
    """`clients` connections each write `size` bytes of back-to-back GET /openapi.json and
    never read the answers; they close after `hold` seconds."""
    one = request("GET", "/openapi.json", close=False)
    async with connections(host, port, clients) as writers:
        for writer in writers:
            writer.write(one * (size // len(one)))
        await asyncio.sleep(hold)


async def pipelined_in_order(host: str, port: int, count: int) -> list[int]:
    """`count` pipelined GET /health written at once and read back: the statuses, in order."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request("GET", "/health", close=False) * (count - 1))
        writer.write(request("GET", "/health"))
        async with asyncio.timeout(60):
            data = await reader.read()
    finally:
        writer.transport.abort()
    return statuses_in(data)


def statuses_in(data: bytes) -> list[int]:
    """The status codes of the HTTP/1.1 answers in `data`, in order."""
    return [int(status) for status in re.findall(rb"HTTP/1\.1 (\d{3}) ", data)]
