"""Helpers for the HTTP adapter's tests: in-process clients, JSON posts, a Stripe that fails,
and `payflow serve` as a real process."""

from __future__ import annotations

import asyncio
import datetime as dt
import resource
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson

import payflow
from payflow_asgi import Settings, create_app

API_KEY = "sk_test_payflow_asgi"
VISA = "4242424242424242"
DECLINED = "4000000000000002"
EXP_YEAR = dt.date.today().year + 2

# The spec's six routes.
ROUTES = (
    "/api/customers",
    "/api/cards",
    "/api/cards/assign",
    "/api/payments",
    "/api/payments/confirm",
    "/api/payments/refund",
)
SERVE_STARTUP_TIMEOUT = 30.0
SERVING = "payflow serving on "

Post = Callable[..., Awaitable[httpx.Response]]


def client_for(app: Any) -> httpx.AsyncClient:
    """An HTTP client that calls the ASGI app in process."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://payflow.test")


async def post_json(
    client: httpx.AsyncClient, path: str, body: object, headers: dict[str, str] | None = None
) -> httpx.Response:
    """POST a body as JSON; a str body is sent as written (so 8.20 stays 8.20)."""
    content = body if isinstance(body, str | bytes) else orjson.dumps(body)
    return await client.post(
        path, content=content, headers={"Content-Type": "application/json", **(headers or {})}
    )


def data_of(response: httpx.Response) -> dict[str, Any]:
    assert 200 == response.status_code, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def new_token(post: Post, number: str = VISA) -> str:
    body = {"number": number, "exp_month": 12, "exp_year": EXP_YEAR, "cvc": "123"}
    return str((data_of(await post("/api/cards", body)))["token_id"])


async def new_payment(post: Post, customer_id: str, card_id: str, amount: str = "50.00") -> str:
    body = f'{{"customer_id": "{customer_id}", "amount": {amount}, "payment_method": "{card_id}"}}'
    return str((data_of(await post("/api/payments", body)))["id"])


# A Stripe that fails: only for the failures the sandbox cannot produce (issue 4 brings a
# fault-injecting proxy in front of the sandbox).


@asynccontextmanager
async def failing_stripe(
    status: int | None, error: dict[str, Any] | None = None
) -> AsyncIterator[str]:
    """A loopback server answering every request with `status` and `error`, or never (None)."""
    writers: set[asyncio.StreamWriter] = set()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.add(writer)
        await reader.readuntil(b"\r\n\r\n")
        if status is None:
            await asyncio.Event().wait()  # until the server closes this connection
        body = orjson.dumps({"error": error or {}})
        writer.write(
            f"HTTP/1.1 {status} Failure\r\nContent-Type: application/json\r\n"
            f"Request-Id: req_failing\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        for writer in writers:
            writer.close()
        await server.wait_closed()


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@asynccontextmanager
async def app_client(
    api_base: str, *, stripe_timeout: float = 5.0, settings: Settings | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app whose gateway reaches Stripe at `api_base`, without retries."""
    async with (
        payflow.Gateway(
            API_KEY, api_base=api_base, timeout=stripe_timeout, max_network_retries=0
        ) as gw,
        client_for(create_app(gw, settings=settings)) as http,
    ):
        yield http


def connects(family: socket.AddressFamily, host: str, port: int) -> bool:
    """Whether something accepts a TCP connection at host:port."""
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(2)
        try:
            sock.connect((host, port))
        except OSError:
            return False
        return True


def start_serve(
    *args: str,
    env: dict[str, str] | None = None,
    stderr: Any = subprocess.PIPE,
    open_files: tuple[int, int] | None = None,
) -> subprocess.Popen[str]:
    """`payflow serve *args` as a real process, its stdout piped; with `open_files`, started
    with that (soft, hard) limit of open files."""

    def limit_open_files() -> None:
        assert open_files is not None
        resource.setrlimit(resource.RLIMIT_NOFILE, open_files)

    return subprocess.Popen(
        [sys.executable, "-m", "payflow_cli", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        env=env,
        preexec_fn=None if open_files is None else limit_open_files,
    )


def wait_until_serving(process: subprocess.Popen[str]) -> str:
    """The URL the server prints once it listens."""
    assert process.stdout is not None
    deadline = time.monotonic() + SERVE_STARTUP_TIMEOUT
    while (remaining := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([process.stdout], [], [], remaining)
        line = process.stdout.readline() if ready else ""
        if line.startswith(SERVING):
            return line.removeprefix(SERVING).strip()
        if not line and process.poll() is not None:
            break
    process.kill()
    _, stderr = process.communicate()
    raise AssertionError(f"payflow serve did not start: {stderr or '(stderr not piped)'}")


def stop_serve(process: subprocess.Popen[str], timeout: float = 15) -> int:
    """SIGTERM, as a service manager would; its exit status."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
