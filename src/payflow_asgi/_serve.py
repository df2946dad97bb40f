"""`payflow serve`: the app under uvicorn, against Stripe or a local sandbox."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib.util
import ipaddress
import logging
import os
import secrets
import signal
import socket
import sys
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Generator
from typing import TYPE_CHECKING, Final

import attrs
import orjson
import uvicorn

import payflow
from payflow import _sdk, webhooks

from ._app import create_app, webhooks_from
from ._limits import RESERVED_DESCRIPTORS, Limits, raise_open_file_limit
from ._logs import logger as access_logger
from ._protocol import BoundedProtocol, protocol_for
from ._settings import Settings

if TYPE_CHECKING:
    from payflow_sandbox import Sandbox

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

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn gives requests in the app `timeout_graceful_shutdown` seconds, then cancels
        # them and returns, leaving their connections open. Before the cancelled tasks run (and
        # would answer a text/plain 500), answer what is left a 503 envelope and close.
        await super().shutdown(sockets)
        self._give_up()

    def _give_up(self) -> None:
        for connection in list(self.server_state.connections):
            if isinstance(connection, BoundedProtocol):
                connection.give_up()

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


async def _serve(
    server: _Server,
    gateway: payflow.Gateway,
    events: webhooks.Webhooks | None,
    sock: socket.socket,
) -> None:
    async with gateway, contextlib.AsyncExitStack() as stack:
        if events is not None:
            stack.push_async_callback(events.store.aclose)
        server.config.load()
        # Measured (docs/performance.md): the SDK's ~36,000 long-lived objects made full
        # collections cost ~15% of a core under load. Freeze them once everything is imported
        # and built, and collect the young generation less often; the older generations keep
        # Python's thresholds, so garbage that outlives a young collection is still collected
        # (at (10_000, 50, 100) a pipelining client piled up a million objects of it).
        gc.collect()
        gc.freeze()
        gc.set_threshold(10_000, 10, 10)
        await server.serve(sockets=[sock])


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _refuse(message: str, status: int = 2) -> SystemExit:
    print(f"payflow serve: {message}", file=sys.stderr, flush=True)
    return SystemExit(status)


# The exit status when the address cannot be listened on (docs/http-api.md).
CANNOT_LISTEN: Final = 3


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, or one line saying why there cannot be one."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise _refuse(f"cannot listen on {host}:{port}: {reason}", CANNOT_LISTEN) from None


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


def _gateway(stack: contextlib.ExitStack, sandbox: Sandbox | None) -> payflow.Gateway:
    if sandbox is not None:
        return payflow.Gateway(SANDBOX_API_KEY, api_base=sandbox.url)
    try:
        return payflow.Gateway.from_env()
    except payflow.ConfigurationError as exc:
        raise _refuse(exc.message) from None


def _sandbox(stack: contextlib.ExitStack) -> Sandbox:
    from payflow_sandbox import Sandbox

    started = stack.enter_context(Sandbox(port=0))
    # The sandbox is on loopback: a proxy from the environment (HTTP_PROXY, ...) would send
    # its requests, card numbers included, away from this machine, or nowhere.
    no_proxy = os.environ.get("NO_PROXY") or os.environ.get("no_proxy")
    os.environ["NO_PROXY"] = ",".join(filter(None, [no_proxy, started.host]))
    return started


def _sandbox_events(
    stack: contextlib.ExitStack, sandbox: Sandbox, settings: Settings, sock: socket.socket
) -> Settings:
    """Have the sandbox deliver its events, signed with a secret made now, to this server's
    /api/webhooks; recorded in a temporary SQLite file unless PAYFLOW_DATABASE_URL says where."""
    secret = "whsec_" + secrets.token_hex(24)
    host, port = sock.getsockname()[:2]
    if ipaddress.ip_address(host).is_unspecified:
        host = "::1" if ":" in host else "127.0.0.1"
    address = f"[{host}]" if ":" in host else host
    form = {"url": f"http://{address}:{port}/api/webhooks", "secret": secret}
    request = urllib.request.Request(  # noqa: S310  (the sandbox's own http:// URL)
        f"{sandbox.url}/_config/webhooks/payflow", urllib.parse.urlencode(form).encode()
    )
    # Straight to the sandbox on loopback, never through a proxy of the environment.
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=10):
        pass
    database_url = settings.database_url
    if not os.environ.get("PAYFLOW_DATABASE_URL", "").strip():
        directory = stack.enter_context(tempfile.TemporaryDirectory(prefix="payflow-events-"))
        database_url = f"sqlite:///{directory}/events.db"
    return attrs.evolve(
        settings,
        webhook_secrets=(secret, *settings.webhook_secrets),
        database_url=database_url,
    )


def _write_access_log() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    access_logger.addHandler(handler)
    access_logger.setLevel(logging.INFO)


def _limits() -> Limits:
    soft, hard = raise_open_file_limit()
    try:
        limits = Limits.from_env(soft)
    except payflow.ConfigurationError as exc:
        raise _refuse(exc.message) from None
    if soft < hard or soft < RESERVED_DESCRIPTORS + 1_024:
        print(
            f"payflow serve: open files limited to {soft} (hard limit {hard}):"
            f" {limits.max_connections} client connections, {RESERVED_DESCRIPTORS} descriptors"
            " kept for Stripe; raise the hard limit (ulimit -Hn, LimitNOFILE= in systemd) to"
            " serve more",
            file=sys.stderr,
            flush=True,
        )
    return limits


def _schedule_as_batch() -> None:
    """Ask Linux not to preempt the event loop's thread each time pyreqwest's I/O thread wakes.

    Measured (docs/performance.md): with two threads sharing a core, every answer from Stripe
    woke the I/O thread, which preempted the event loop only to wait for the GIL it held: 2.6 to
    2.9 context switches per request; as SCHED_BATCH (the kernel's policy for "non-interactive"
    work: same priority, no wakeup preemption), 0.2, and about 10% less CPU per request. Applied
    before any thread starts, so every thread inherits it; elsewhere than Linux, nothing."""
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))


def run(
    *,
    host: str = "127.0.0.1",
    port: int = 3000,
    sandbox: bool = False,
    access_log: bool = False,
) -> None:
    """Serve the HTTP API until SIGINT or SIGTERM; with `sandbox`, against a local sandbox; with
    `access_log`, one line per request on stderr.

    Settings come from the environment (`Settings.from_env`: PAYFLOW_API_TOKEN), and so do the
    limits on each client (`Limits.from_env`: PAYFLOW_HEAD_TIMEOUT, ...).
    """
    _schedule_as_batch()
    settings = _settings()
    limits = _limits()
    sock = _listen(host, port)
    if access_log:
        _write_access_log()
    _sdk.tune_for_server(orjson.loads)
    # Until uvicorn takes over the signals, SIGTERM unwinds like Ctrl-C so the sandbox stops.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with contextlib.suppress(KeyboardInterrupt), contextlib.ExitStack() as stack:
        started = _sandbox(stack) if sandbox else None
        gateway = _gateway(stack, started)
        if started is not None:
            settings = _sandbox_events(stack, started, settings, sock)
        try:
            events = webhooks_from(settings, {})
        except payflow.ConfigurationError as exc:
            raise _refuse(exc.message) from None
        app = create_app(gateway, settings=settings, events=events)
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            loop="uvloop" if _installed("uvloop") else "asyncio",
            # uvicorn's httptools protocol, with limits on what each client holds.
            http=protocol_for(limits, settings.language),
            ws="none",
            # The app reads neither the client's address nor the scheme, which X-Forwarded-*
            # headers would rewrite: uvicorn's middleware for them would only cost each request.
            proxy_headers=False,
            log_level="warning",
            # uvicorn's access log would never be written at "warning", yet it formats each
            # request's line arguments (client address, quoted path); payflow's own access log is
            # `--access-log`.
            access_log=False,
            # `_serve` closes the gateway and the event store, after the requests in flight.
            lifespan="off",
            # Longer than clients keep idle connections (httpx 5 s, aiohttp 15 s, nginx 60 s
            # upstream): at uvicorn's default of 5 s a client reusing a connection just as the
            # server closes it gets a ReadError on a POST it cannot safely retry.
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
            timeout_graceful_shutdown=limits.shutdown_grace,
        )
        with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
            runner.run(_serve(_Server(config), gateway, events, sock))
