"""`payflow serve`: the app under uvicorn, against Stripe or a local sandbox."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib.util
import signal
import socket
import sys
from collections.abc import Generator
from typing import Final

import stripe
import uvicorn

import payflow

from ._app import create_app

__all__ = ["SANDBOX_API_KEY", "run"]

SANDBOX_API_KEY: Final = "sk_test_payflow_sandbox"


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


def _gateway(stack: contextlib.ExitStack, sandbox: bool) -> payflow.Gateway:
    if sandbox:
        from payflow_sandbox import Sandbox

        started = stack.enter_context(Sandbox(port=0))
        return payflow.Gateway(SANDBOX_API_KEY, api_base=started.url)
    try:
        return payflow.Gateway.from_env()
    except payflow.ConfigurationError as exc:
        print(f"payflow serve: {exc.message}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None


def run(*, host: str = "127.0.0.1", port: int = 3000, sandbox: bool = False) -> None:
    """Serve the HTTP API until SIGINT or SIGTERM; with `sandbox`, against a local sandbox."""
    # Telemetry headers cost ~3% of the CPU of a request, and tell Stripe nothing we need.
    stripe.enable_telemetry = False
    # Until uvicorn takes over the signals, SIGTERM unwinds like Ctrl-C so the sandbox stops.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with contextlib.suppress(KeyboardInterrupt), contextlib.ExitStack() as stack:
        gateway = _gateway(stack, sandbox)
        config = uvicorn.Config(
            create_app(gateway),
            host=host,
            port=port,
            loop="uvloop" if _installed("uvloop") else "asyncio",
            http="httptools" if _installed("httptools") else "h11",
            log_level="warning",
            lifespan="off",
        )
        with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
            runner.run(_serve(_Server(config), gateway))
