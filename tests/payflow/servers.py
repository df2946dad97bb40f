"""Real local servers for the transport's tests: a scripted Stripe on its own thread (so the sync
twin can block on it), and proxy.py, a maintained forward proxy, as a process."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

# Reads a request and answers it (or not), as the test scripts.
Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

CUSTOMER = b'{"id": "cus_1", "object": "customer", "email": "a@example.com"}'


def answer(status: int, body: bytes = CUSTOMER, *, headers: str = "") -> bytes:
    return (
        f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nRequest-Id: req_1\r\n"
        f"{headers}Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return head + await reader.readexactly(length)


def reset(writer: asyncio.StreamWriter) -> None:
    """Close the connection with a TCP reset rather than a goodbye."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@contextlib.contextmanager
def scripted(script: Script, tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """The URL of a loopback server running `script` per connection, on its own thread."""
    loop = asyncio.new_event_loop()
    servers: list[asyncio.Server] = []
    writers: set[asyncio.StreamWriter] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.add(writer)
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            await script(reader, writer)
        writer.close()

    async def start() -> None:
        servers.append(await asyncio.start_server(handle, "127.0.0.1", 0, ssl=tls))

    async def stop() -> None:
        servers[0].close()
        for writer in writers:
            writer.transport.abort()
        tasks = asyncio.all_tasks() - {asyncio.current_task()}
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await servers[0].wait_closed()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    port = servers[0].sockets[0].getsockname()[1]
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


class ForwardProxy:
    """proxy.py listening on a loopback port it chose; `seen` is its access log."""

    def __init__(self, folder: Path) -> None:
        self._port_file = folder / "port"
        self._log = folder / "access.log"
        self.url = ""
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ForwardProxy:
        command = [
            sys.executable, "-m", "proxy", "--hostname", "127.0.0.1", "--port", "0",
            "--port-file", str(self._port_file), "--num-workers", "1", "--num-acceptors", "1",
            "--threaded", "--log-file", str(self._log),
        ]  # fmt: skip
        self._process = subprocess.Popen(command, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while not (self._port_file.exists() and self._port_file.read_text().strip()):
            if time.monotonic() > deadline or self._process.poll() is not None:
                raise RuntimeError("proxy.py did not start")
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{int(self._port_file.read_text())}"
        _wait_listening(self.url)
        return self

    def seen(self) -> str:
        return self._log.read_text() if self._log.exists() else ""

    def __exit__(self, *exc: object) -> None:
        assert self._process is not None
        self._process.terminate()
        self._process.wait(15)


def _wait_listening(url: str) -> None:
    host, _, port = url.removeprefix("http://").partition(":")
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextlib.contextmanager
def forward_proxy() -> Iterator[ForwardProxy]:
    with tempfile.TemporaryDirectory() as folder, ForwardProxy(Path(folder)) as proxy:
        yield proxy
