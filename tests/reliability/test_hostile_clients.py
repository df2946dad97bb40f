"""Hostile clients against a real `payflow serve` process over loopback: each attack of issue 14,
bounded, and what the server must do about it.

The attacks are in `attacks.py` (shared with `benchmarks/attacks.py`, which runs them at full
size). The module's server has short time limits (1 and 2 s), so the tests stay quick.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import attrs
import pytest

import payflow
from payflow_asgi._limits import DEFAULT_MAX_CONNECTIONS, RESERVED_DESCRIPTORS, VARIABLES, Limits
from payflow_asgi._protocol import REFUSALS
from tests.payflow_asgi.asgi_support import start_serve, stop_serve, wait_until_serving
from tests.reliability import attacks
from tests.reliability.attacks import Answer, request, rss_mb

HOST: Final = "127.0.0.1"
TIMEOUT: Final = 1.0
BODY_TIMEOUT: Final = 2.0
MAX_HEAD: Final = 16_384
ENV: Final = {
    "PAYFLOW_HEAD_TIMEOUT": str(TIMEOUT),
    "PAYFLOW_BODY_TIMEOUT": str(BODY_TIMEOUT),
    "PAYFLOW_MAX_HEAD_BYTES": str(MAX_HEAD),
}


@attrs.frozen
class Server:
    """A running `payflow serve`: its process and its port."""

    process: subprocess.Popen[str]
    port: int

    def send(
        self, *chunks: bytes, wait: float = 5.0, pause: float = 0.0, delay: float = 0
    ) -> Answer:
        return asyncio.run(
            attacks.send(HOST, self.port, *chunks, wait=wait, pause=pause, delay=delay)
        )


@attrs.frozen
class Started:
    """How a `payflow serve` is started for a test."""

    env: dict[str, str]
    args: tuple[str, ...] = ("--sandbox",)
    open_files: tuple[int, int] | None = None

    @classmethod
    def with_env(cls, **env: str) -> Started:
        return cls({**os.environ, **ENV, **env})


@pytest.fixture(scope="module")
def enough_open_files() -> Iterator[None]:
    """Room here for the 1,100 connections of the descriptor attack."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2_048:
        pytest.skip(f"the hard limit of open files ({hard}) leaves no room for the attack")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2_048), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _start(how: Started) -> Server:
    process = start_serve(*how.args, "--port", "0", env=how.env, open_files=how.open_files)
    return Server(process, int(wait_until_serving(process).rsplit(":", 1)[1]))


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """`payflow serve --sandbox` with time limits of 1 s (head) and 2 s (body)."""
    started = _start(Started.with_env())
    yield started
    stop_serve(started.process)


def _refusal(answer: Answer, code: str) -> None:
    """The answer is `code`'s status and envelope, and the server closed the connection."""
    status = REFUSALS[code]
    assert (status, code) == (answer.status, json.loads(answer.body)["error"]["code"])
    assert b"content-type: application/json" in answer.data
    assert answer.closed


# Pipelining.


def test_pipelined_requests_are_all_answered_in_order(server: Server) -> None:
    """2,000 pipelined requests, written at once, are each answered 200, in order."""
    statuses = asyncio.run(attacks.pipelined_in_order(HOST, server.port, 2_000))
    assert [200] * 2_000 == statuses


def test_a_pipelined_request_whose_body_is_still_arriving_is_answered(server: Server) -> None:
    """A body, then the next request's head and half its body in the same write: the first is
    answered, then the second once its body is whole."""
    first = request("POST", "/api/customers", b'{"email": "first@example.com"}', close=False)
    second = request("POST", "/api/customers", b'{"email": "second@example.com"}')
    answer = server.send(first + second[:-5], second[-5:], pause=0.3)
    assert [200, 200] == answer.statuses


def test_pipelining_without_reading_keeps_memory_flat(server: Server) -> None:
    """Three rounds of 20 clients pipelining 256 KiB of requests each, reading nothing: resident
    memory stays within 100 MB of where it started, during and after; normal clients are served
    meanwhile (before: 45 -> 1,199 MB)."""

    async def rounds() -> tuple[list[float], list[int]]:
        sizes, statuses = [], []
        for _ in range(3):
            attack = asyncio.create_task(
                attacks.pipeline_without_reading(HOST, server.port, hold=1.5)
            )
            statuses += await attacks.normal_requests(HOST, server.port, 2)
            await asyncio.sleep(1)
            sizes.append(rss_mb(server.process.pid))
            await attack
        return sizes, statuses

    start = rss_mb(server.process.pid)
    sizes, statuses = asyncio.run(rounds())
    sizes.append(rss_mb(server.process.pid))
    assert max(sizes) - start < 100, (start, sizes)
    assert [200] * 6 == statuses


# Time limits.


def test_a_silent_new_connection_is_idle_not_late(server: Server) -> None:
    """A new connection that sends nothing past the head timeout is idle, as a kept-alive one
    is between requests (a client may connect ahead): its first request is served."""
    answer = server.send(request("GET", "/health"), wait=TIMEOUT + 3, delay=TIMEOUT + 0.5)
    assert [200] == answer.statuses


def test_a_half_sent_head_is_answered_408_at_the_head_timeout(server: Server) -> None:
    """Half a request head: a 408 envelope once the head timeout is over, then closed."""
    answer = server.send(b"GET /health HTTP/1.1\r\nHost: pay", wait=TIMEOUT + 3)
    _refusal(answer, "request_timeout")
    assert TIMEOUT - 0.1 < answer.seconds < TIMEOUT + 1


def test_a_head_trickled_byte_by_byte_is_cut_at_the_head_timeout(server: Server) -> None:
    """A head sent one byte every 0.1 s: the time limit counts from its first byte, not from the
    last, so it is refused at the head timeout all the same."""
    head = request("GET", "/health")
    chunks = [head[n : n + 1] for n in range(len(head))]
    answer = server.send(*chunks, pause=0.1, wait=TIMEOUT + 3)
    _refusal(answer, "request_timeout")
    assert answer.seconds < TIMEOUT + 1


def test_a_half_sent_body_is_answered_408_at_the_body_timeout(server: Server) -> None:
    """A body one byte short of its Content-Length: a 408 envelope at the body timeout."""
    raw = request("POST", "/api/customers", b'{"email": "a@example.com"}')
    answer = server.send(raw[:-1], wait=BODY_TIMEOUT + 3)
    _refusal(answer, "request_timeout")
    assert BODY_TIMEOUT - 0.1 < answer.seconds < BODY_TIMEOUT + 1


def test_an_idle_kept_alive_connection_is_not_cut_by_the_head_timeout(server: Server) -> None:
    """Between two requests a connection is idle, not late: the head timeout does not apply."""
    one = request("GET", "/health", close=False)
    answer = server.send(one, one, pause=TIMEOUT + 0.5, wait=TIMEOUT * 2 + 1)
    assert [200, 200] == answer.statuses


# Size limits.


def test_an_8_mib_header_is_refused_431_in_under_a_second(server: Server) -> None:
    """An 8 MiB header: 431 in the envelope, in under a second (before: 200)."""
    raw = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (8 << 20) + b"\r\n\r\n"
    answer = server.send(raw)
    _refusal(answer, "request_header_fields_too_large")
    assert answer.seconds < 1


def test_100_000_headers_are_refused_431(server: Server) -> None:
    """100,000 small headers: 431 (before: 200)."""
    many = b"".join(b"X-%d: 1\r\n" % n for n in range(100_000))
    _refusal(
        server.send(b"GET /health HTTP/1.1\r\n" + many + b"\r\n"), "request_header_fields_too_large"
    )


def _head_of(size: int) -> bytes:
    start = b"GET /health HTTP/1.1\r\nConnection: close\r\nX-Pad: "
    return start + b"a" * (size - len(start) - 4) + b"\r\n\r\n"


def test_a_head_of_the_limit_is_answered_and_one_byte_more_is_refused(server: Server) -> None:
    """A request line and headers of exactly PAYFLOW_MAX_HEAD_BYTES pass; one byte more is 431."""
    assert 200 == server.send(_head_of(MAX_HEAD)).status
    _refusal(server.send(_head_of(MAX_HEAD + 1)), "request_header_fields_too_large")


def test_a_413_closes_the_connection(server: Server) -> None:
    """A body declared too large is answered 413 and the connection closed: the server does not
    go on reading it (before: 1 GiB read and dropped in 4 s)."""
    head = b"POST /api/customers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    head += b"Content-Length: 1073741824\r\n\r\n"
    answer = server.send(head, *[b" " * (1 << 20)] * 16, wait=5)
    assert ([413], True) == (answer.statuses, answer.closed)
    assert answer.seconds < BODY_TIMEOUT


# Refusals below Starlette.


@pytest.mark.parametrize(
    "line",
    [b"FOO / HTTP/1.1", b"GET / HTTP/1.2", b"GET /\xff HTTP/1.1", b"GET / HTTP/1.1 extra"],
)
def test_what_the_parser_refuses_is_a_400_envelope(server: Server, line: bytes) -> None:
    """Request lines the HTTP parser refuses: 400 `invalid_http` in the envelope (before:
    text/plain "Invalid HTTP request received.")."""
    _refusal(server.send(line + b"\r\nHost: x\r\n\r\n"), "invalid_http")


def test_an_http_2_0_request_line_is_refused_505(server: Server) -> None:
    """`HTTP/2.0` in an HTTP/1 request line: 505 in the envelope (before: served as 200)."""
    _refusal(server.send(b"GET /health HTTP/2.0\r\nHost: x\r\n\r\n"), "http_version_not_supported")


# Descriptors.


def test_1_100_idle_connections_under_1_024_open_files_leave_room(enough_open_files: None) -> None:
    """With 1,024 open files (soft and hard) and 1,100 idle connections held, normal requests
    (health and a new customer) are answered: idle connections make room for new ones. The head
    timeout is long, so it is not what frees them (before: every request reset or empty)."""
    started = _start(
        attrs.evolve(Started.with_env(PAYFLOW_HEAD_TIMEOUT="60"), open_files=(1_024, 1_024))
    )

    async def attack() -> list[int]:
        async with attacks.connections(HOST, started.port, 1_100):
            await asyncio.sleep(0.5)
            return await attacks.normal_requests(HOST, started.port, 10)

    try:
        statuses = asyncio.run(attack())
    finally:
        stop_serve(started.process)
    assert sum(status == 200 for status in statuses) >= 9, statuses


def _open_files_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise LookupError(pid)


def test_serve_raises_its_soft_open_file_limit_to_the_hard_limit() -> None:
    """Started with a soft limit of 1,024 open files under a higher hard limit, `payflow serve`
    raises its soft limit to the hard one."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 1_024:
        pytest.skip("the hard limit is 1,024 or less")
    hard = 1_048_576 if hard == resource.RLIM_INFINITY else hard
    started = _start(attrs.evolve(Started.with_env(), open_files=(1_024, hard)))
    try:
        assert hard == _open_files_of(started.process.pid)
    finally:
        stop_serve(started.process)


def test_serve_says_when_the_open_file_limit_leaves_little_room() -> None:
    """Under a hard limit of 1,024 open files `payflow serve` says how many connections it
    takes and what to raise."""
    started = _start(attrs.evolve(Started.with_env(), open_files=(1_024, 1_024)))
    started.process.terminate()
    _, stderr = started.process.communicate(timeout=30)
    connections = 1_024 - RESERVED_DESCRIPTORS
    assert f"open files limited to 1024 (hard limit 1024): {connections} client" in stderr
    assert "LimitNOFILE=" in stderr


@pytest.fixture
def hanging_stripe() -> Iterator[str]:
    """A Stripe that takes connections and never answers."""
    with socket.socket() as listener:
        listener.bind((HOST, 0))
        listener.listen(64)
        yield f"http://{HOST}:{listener.getsockname()[1]}"


def _against(stripe: str, **env: str) -> Started:
    stripe_env = {"STRIPE_SECRET_KEY": "sk_test_hang", "STRIPE_API_BASE": stripe}
    return attrs.evolve(
        Started.with_env(PAYFLOW_STRIPE_MAX_RETRIES="0", **stripe_env, **env), args=()
    )


CUSTOMER: Final = request("POST", "/api/customers", b'{"email": "a@example.com"}')


def test_beyond_max_connections_with_none_idle_a_new_one_gets_503(hanging_stripe: str) -> None:
    """With every allowed connection waiting for Stripe, a new one is answered a 503 envelope
    and closed."""
    started = _start(
        _against(hanging_stripe, PAYFLOW_MAX_CONNECTIONS="2", PAYFLOW_SHUTDOWN_GRACE="1")
    )

    async def third() -> Answer:
        async with attacks.connections(HOST, started.port, 2, CUSTOMER):
            await asyncio.sleep(0.5)
            return await attacks.send(HOST, started.port, request("GET", "/health"))

    try:
        answer = asyncio.run(third())
    finally:
        stop_serve(started.process)
    _refusal(answer, "server_busy")


# Shutdown.


def _seconds_to_exit_after_sigterm(started: Server, *chunks: bytes) -> tuple[float, Answer]:
    async def stop() -> tuple[float, Answer]:
        waiting = asyncio.create_task(attacks.send(HOST, started.port, *chunks, wait=20))
        await asyncio.sleep(0.5)
        began = time.monotonic()
        started.process.terminate()
        await asyncio.to_thread(started.process.wait, 20)
        return time.monotonic() - began, await waiting

    try:
        return asyncio.run(stop())
    finally:
        stop_serve(started.process)


def test_sigterm_with_a_stalled_upload_ends_the_server_at_once() -> None:
    """SIGTERM with an upload stalled halfway: the upload is answered a 503 envelope and the
    server exits within a second (before: it ran until the client went away)."""
    started = _start(Started.with_env(PAYFLOW_BODY_TIMEOUT="60"))
    seconds, answer = _seconds_to_exit_after_sigterm(started, CUSTOMER[:-5])
    _refusal(answer, "shutting_down")
    assert seconds < 2


def test_sigterm_gives_requests_waiting_for_stripe_the_grace_period(hanging_stripe: str) -> None:
    """SIGTERM while a request waits for a Stripe that never answers: the server waits the
    grace period (2 s), answers it a 503 envelope and exits."""
    started = _start(_against(hanging_stripe, PAYFLOW_SHUTDOWN_GRACE="2"))
    seconds, answer = _seconds_to_exit_after_sigterm(started, CUSTOMER)
    _refusal(answer, "shutting_down")
    assert 1.9 < seconds < 4


# The settings.


def test_limits_default_to_the_documented_values() -> None:
    """Without variables: the defaults of the table, and connections from the open files."""
    limits = Limits.from_env(4_096, {})
    assert (5, 10, 16_384, 4_096 - RESERVED_DESCRIPTORS, 10) == attrs.astuple(limits)
    assert [5, 10, 16_384, None, 10] == [default for default, _, _ in VARIABLES.values()]


def test_connections_default_to_what_the_open_files_leave_within_bounds() -> None:
    """Unset, the connection limit is what the open files leave after the reserve, at least 16
    and at most DEFAULT_MAX_CONNECTIONS; set, it is what it says."""
    connections = [Limits.from_env(files, {}).max_connections for files in (100, 1_024, 1_048_576)]
    assert [16, 1_024 - RESERVED_DESCRIPTORS, DEFAULT_MAX_CONNECTIONS] == connections
    assert 50_000 == Limits.from_env(1_024, {"PAYFLOW_MAX_CONNECTIONS": "50000"}).max_connections


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1e99", "nan", "inf"])
@pytest.mark.parametrize("name", list(VARIABLES))
def test_a_limit_that_is_not_a_positive_number_is_refused(name: str, value: str) -> None:
    """Zero, negative, non-numeric or absurd values are a ConfigurationError naming the variable."""
    with pytest.raises(payflow.ConfigurationError, match=name):
        Limits.from_env(4_096, {name: value})


def test_serve_exits_2_on_a_bad_limit() -> None:
    """`payflow serve` with PAYFLOW_HEAD_TIMEOUT=abc exits 2 saying which variable."""
    process = start_serve("--sandbox", env={**os.environ, "PAYFLOW_HEAD_TIMEOUT": "abc"})
    _, stderr = process.communicate(timeout=30)
    assert 2 == process.returncode
    assert "PAYFLOW_HEAD_TIMEOUT" in stderr
