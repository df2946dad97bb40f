"""`payflow serve` with only the async transport to Stripe swapped for another HTTP library: the
candidates payflow's own transport (pyreqwest) was chosen against (docs/performance.md).

    python benchmarks/contenders/payflow_with.py aiohttp --port 8000

Each candidate is set up the way it is meant to be used under load: one client per event loop,
keep-alive connections, up to 512 of them, no decompression, no cookies. A benchmark, not a
transport: it replaces `_Transport.request_async` in this process only.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from payflow import _gateway
from payflow_asgi._serve import run

Answer = tuple[bytes, int, Mapping[str, str]]
Send = Callable[[str, str, Mapping[str, str], bytes], Awaitable[Answer]]
LIMIT = 512


def aiohttp_send() -> Send:
    import aiohttp

    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=LIMIT),
        cookie_jar=aiohttp.DummyCookieJar(),
        auto_decompress=False,
    )

    async def send(method: str, url: str, headers: Mapping[str, str], body: bytes) -> Answer:
        async with session.request(method, url, headers=headers, data=body) as response:
            return await response.read(), response.status, response.headers

    return send


def niquests_send() -> Send:
    import niquests

    session = niquests.AsyncSession(pool_maxsize=LIMIT)

    async def send(method: str, url: str, headers: Mapping[str, str], body: bytes) -> Answer:
        response = await session.request(method, url, headers=dict(headers), data=body)
        return response.content or b"", response.status_code or 0, response.headers

    return send


def httpx2_send() -> Send:
    import httpx2

    client = httpx2.AsyncClient(limits=httpx2.Limits(max_connections=LIMIT))

    async def send(method: str, url: str, headers: Mapping[str, str], body: bytes) -> Answer:
        response = await client.request(method, url, headers=headers, content=body)
        return response.content, response.status_code, response.headers

    return send


CANDIDATES: dict[str, Callable[[], Send]] = {
    "aiohttp": aiohttp_send,
    "niquests": niquests_send,
    "httpx2": httpx2_send,
}


def swap(make: Callable[[], Send]) -> None:
    sends: dict[asyncio.AbstractEventLoop, Send] = {}

    async def request_async(
        self: Any, method: str, url: str, headers: Mapping[str, str] | None, post_data: Any = None
    ) -> Answer:
        loop = asyncio.get_running_loop()
        send = sends.get(loop) or sends.setdefault(loop, make())
        try:
            return await send(method.upper(), url, headers or {}, _gateway._body(post_data))
        except Exception as exc:
            raise self._connection_error(exc) from exc

    _gateway._Transport.request_async = request_async  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("library", choices=sorted(CANDIDATES))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    swap(CANDIDATES[args.library])
    run(host=args.host, port=args.port)


if __name__ == "__main__":
    main()
