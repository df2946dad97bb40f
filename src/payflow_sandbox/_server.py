"""The sandbox process: localstripe's aiohttp app, in memory, behind the compatibility layer.

Only ``python -m payflow_sandbox`` imports this module: localstripe (GPL) never runs inside the
process of an application that uses ``payflow``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from payflow_sandbox import _index, port_number

READY_PREFIX = "payflow sandbox listening on "
# Where the 3-D Secure challenge pages are (`_three_d_secure`); their paths hold secrets.
CHALLENGE_PATH = "/_payflow/3ds"
# The exit status when the address cannot be listened on (as `payflow serve`'s).
CANNOT_LISTEN = 3
DEFAULT_HOST = "127.0.0.1"


def _no_disk(*_args: Any, **_kwargs: Any) -> None:
    """Replaces localstripe's pickling of its store to /tmp/localstripe.pickle."""


def build_app() -> web.Application:
    """localstripe's app with an in-memory store and the compatibility layer installed."""
    # Neutralise persistence before anything is stored: localstripe pickles the whole store
    # to /tmp/localstripe.pickle on every write (Store.__setitem__) and after every
    # POST/PUT/DELETE (save_store_middleware), and reloads it at startup.
    from localstripe import resources

    resources.Store.dump_to_disk = _no_disk
    resources.Store.try_load_from_disk = _no_disk
    # Listing a type (a customer's subscriptions, a charge's refunds) reads that type only.
    _index.install(resources)

    from localstripe import server

    from payflow_sandbox import _compat, _events, _three_d_secure

    app: web.Application = server.app
    if server.save_store_middleware in app.middlewares:
        app.middlewares.remove(server.save_store_middleware)
    _compat.install(app)
    _events.install()
    _three_d_secure.install(app)
    return app


class _AccessLogger(AbstractAccessLogger):
    """Method, path and status only: bodies carry card numbers, queries may carry secrets, and
    a 3-D Secure challenge's path holds the token that opens it."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        path = request.path
        if path.startswith(CHALLENGE_PATH + "/"):
            path = CHALLENGE_PATH + "/…"
        self.logger.info('"%s %s" %d', request.method, path, response.status)


def url_for(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def serve(
    host: str, port: int, *, access_log: bool = False, exit_on_stdin_eof: bool = False
) -> int:
    """Serve until SIGINT, SIGTERM (or end of stdin if asked); return the exit status."""
    # Handle signals before announcing readiness: a launcher may stop us right away.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop.set)
        except NotImplementedError:  # pragma: no cover - Windows
            signal.signal(signum, lambda *_: loop.call_soon_threadsafe(stop.set))
    app = build_app()
    runner = web.AppRunner(
        app,
        handle_signals=False,
        access_log=logging.getLogger("payflow_sandbox.access") if access_log else None,
        access_log_class=_AccessLogger,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as e:
            print(
                f"payflow sandbox: cannot listen on {host}:{port}: {e.strerror or e}",
                file=sys.stderr,
                flush=True,
            )
            return CANNOT_LISTEN
        url = url_for(host, runner.addresses[0][1])
        print(READY_PREFIX + url, flush=True)
        # For a person at a terminal; launchers read only stdout's line.
        print(f"  export STRIPE_API_BASE={url} STRIPE_SECRET_KEY=sk_test_sandbox", file=sys.stderr)
        if exit_on_stdin_eof:
            # The launcher holds our stdin open: if it dies without stopping us, we stop too.
            loop.add_reader(sys.stdin.fileno(), _stop_on_eof, stop)
        await stop.wait()
        return 0
    finally:
        await runner.cleanup()


def _stop_on_eof(stop: asyncio.Event) -> None:
    if not os.read(sys.stdin.fileno(), 4096):
        asyncio.get_running_loop().remove_reader(sys.stdin.fileno())
        stop.set()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m payflow_sandbox",
        description="A local, in-memory Stripe sandbox (localstripe + payflow compatibility).",
    )
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help="interface to listen on (default: %(default)s, loopback only)",
    )
    parser.add_argument(
        "--port", default="0", help="port to listen on (default: %(default)s, any free port)"
    )
    parser.add_argument(
        "--access-log",
        action="store_true",
        help="log one line per request (method, path, status) to stderr",
    )
    parser.add_argument("--exit-on-stdin-eof", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        port = port_number(args.port)
    except ValueError as exc:
        parser.error(str(exc))

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(message)s")
    if args.access_log:
        logging.getLogger("payflow_sandbox.access").setLevel(logging.INFO)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(
            serve(
                args.host,
                port,
                access_log=args.access_log,
                exit_on_stdin_eof=args.exit_on_stdin_eof,
            )
        )
    return 130
