"""`payflow serve`: the app under uvicorn, against Stripe or a local sandbox."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib.util
import logging
import signal
import socket
import sys
from collections.abc import Generator
from typing import Final

import uvicorn

import payflow
from payflow import _sdk

from ._app import create_app
from ._logs import logger as access_logger
from ._settings import Settings

__all__ = ["SANDBOX_API_KEY", "run"]

SANDBOX_API_KEY: Final = "sk_test_payflow_sandbox"
KEEP_ALIVE_SECONDS: Final = 75


class _Server(uvicorn.Server):
    """uvicorn's server, announcing itself once listening and ending without re-raising signals."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            host, port = self.servers[0].sockets[0].getsockname()[:2]
            address = f"[{host}]" if ":" in host else host
            # Tests and scripts wait for this line.
            print(f"payflow serving on http://{address}:{port}", flush=True)

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # uvicorn re-raises a captured SIGINT/SIGTERM after shutting down, which would cancel
        # the closing of the gateway; the shutdown is complete, so `run` just returns.
        handlers = {sig: signal.signal(sig, self.handle_exit) for sig in _SIGNALS}
        try:
            yield
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)


_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)


async def _serve(server: _Server, gateway: payflow.Gateway) -> None:
    async with gateway:
        server.config.load()
        # Measured (shared/notes/performance-findings.md): the SDK's ~36,000 long-lived objects
        # made full collections cost ~15% of a core under load. Freeze them once everything is
        # imported and built, and collect the young generation less often.
        gc.collect()
        gc.freeze()
        gc.set_threshold(10_000, 50, 100)
        await server.serve()


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _refuse(message: str) -> SystemExit:
    print(f"payflow serve: {message}", file=sys.stderr, flush=True)
    return SystemExit(2)


def _settings() -> Settings:
    # STRIPE_LOG=debug makes the SDK print every request body to stderr, bypassing logging
    # (stripe/_util.py `log_debug`): card numbers and CVCs would end up in the server's output.
    if _sdk.console_log_level() == "debug":
        raise _refuse(
            "STRIPE_LOG=debug makes the Stripe SDK print request bodies, card numbers and CVCs"
            " included, to stderr; unset it (STRIPE_LOG=info prints only methods, URLs and"
            " statuses)"
        )
    try:
        return Settings.from_env()
    except payflow.ConfigurationError as exc:
        raise _refuse(exc.message) from None


def _gateway(stack: contextlib.ExitStack, sandbox: bool) -> payflow.Gateway:
    if sandbox:
        from payflow_sandbox import Sandbox

        started = stack.enter_context(Sandbox(port=0))
        return payflow.Gateway(SANDBOX_API_KEY, api_base=started.url)
    try:
        return payflow.Gateway.from_env()
    except payflow.ConfigurationError as exc:
        raise _refuse(exc.message) from None


def _write_access_log() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    access_logger.addHandler(handler)
    access_logger.setLevel(logging.INFO)


def run(
    *,
    host: str = "127.0.0.1",
    port: int = 3000,
    sandbox: bool = False,
    access_log: bool = False,
) -> None:
    """Serve the HTTP API until SIGINT or SIGTERM; with `sandbox`, against a local sandbox; with
    `access_log`, one line per request on stderr.

    Settings come from the environment (`Settings.from_env`: PAYFLOW_API_TOKEN).
    """
    settings = _settings()
    if access_log:
        _write_access_log()
    _sdk.tune_for_server()
    # Until uvicorn takes over the signals, SIGTERM unwinds like Ctrl-C so the sandbox stops.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with contextlib.suppress(KeyboardInterrupt), contextlib.ExitStack() as stack:
        gateway = _gateway(stack, sandbox)
        config = uvicorn.Config(
            create_app(gateway, settings=settings),
            host=host,
            port=port,
            loop="uvloop" if _installed("uvloop") else "asyncio",
            http="httptools" if _installed("httptools") else "h11",
            log_level="warning",
            lifespan="off",
            # Longer than clients keep idle connections (httpx 5 s, aiohttp 15 s, nginx 60 s
            # upstream): at uvicorn's default of 5 s a client reusing a connection just as the
            # server closes it gets a ReadError on a POST it cannot safely retry.
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
        )
        with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
            runner.run(_serve(_Server(config), gateway))
