"""The Sandbox launcher and the sandbox process: loopback only, in memory, clear failures."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import stripe

from payflow_sandbox import Sandbox, SandboxError
from tests.payflow_asgi.asgi_support import connects

PICKLE = Path("/tmp/localstripe.pickle")  # noqa: S108 - the path localstripe would write


@pytest.fixture
def listening_socket() -> Iterator[socket.socket]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock


def test_url_is_http_on_loopback_with_the_bound_port(sandbox: Sandbox) -> None:
    """The sandbox reports http://127.0.0.1:<real port>, never port 0."""
    assert sandbox.url == f"http://127.0.0.1:{sandbox.port}"
    assert sandbox.port > 0


def test_listens_on_127_0_0_1_only(sandbox: Sandbox) -> None:
    """Only 127.0.0.1 accepts connections: not 127.0.0.2 (so not 0.0.0.0), not IPv6."""
    assert connects(socket.AF_INET, "127.0.0.1", sandbox.port)
    if sys.platform == "linux":  # all of 127.0.0.0/8 is local on Linux
        assert not connects(socket.AF_INET, "127.0.0.2", sandbox.port)
    if socket.has_ipv6:
        assert not connects(socket.AF_INET6, "::1", sandbox.port)


def test_nothing_is_written_to_tmp_localstripe_pickle(
    stripe_client: stripe.StripeClient,
) -> None:
    """Writes stay in memory: localstripe's /tmp/localstripe.pickle is never written."""
    before = PICKLE.stat() if PICKLE.exists() else None
    stripe_client.v1.customers.create(params={"email": "pickle@example.com"})
    after = PICKLE.stat() if PICKLE.exists() else None
    assert after == before


def test_busy_port_is_a_clear_error(listening_socket: socket.socket) -> None:
    """Starting on a port already in use raises SandboxError naming the port and the cause."""
    port = listening_socket.getsockname()[1]
    with pytest.raises(SandboxError, match=rf"127\.0\.0\.1:{port}.*address already in use"):
        Sandbox(port=port).start()


@pytest.mark.parametrize("port", [-1, 65536, True])
def test_invalid_port_is_rejected(port: int) -> None:
    """A port outside 0..65535 (or not an int) is a ValueError before anything is spawned."""
    with pytest.raises(ValueError, match="port must be a whole number from 0 to 65535"):
        Sandbox(port=port)


def test_url_before_start_is_an_error() -> None:
    """Asking a sandbox that is not running for its URL raises SandboxError."""
    with pytest.raises(SandboxError, match="not running"):
        _ = Sandbox().url


def test_stop_ends_the_process() -> None:
    """After stop() (leaving the with block) the port no longer accepts connections."""
    with Sandbox() as sandbox:
        port = sandbox.port
        assert sandbox.running
    assert not sandbox.running
    assert not connects(socket.AF_INET, "127.0.0.1", port)


def test_ready_line_is_printed_once_on_stdout() -> None:
    """The process prints exactly 'payflow sandbox listening on http://HOST:PORT' on stdout, the
    export line for a person on stderr, and exits 0 on SIGTERM."""
    process = subprocess.Popen(
        [sys.executable, "-m", "payflow_sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().decode()
        assert line.startswith("payflow sandbox listening on http://127.0.0.1:")
        process.terminate()
        stdout, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    url = line.removeprefix("payflow sandbox listening on ").strip()
    export = f"  export STRIPE_API_BASE={url} STRIPE_SECRET_KEY=sk_test_sandbox\n"
    assert (stdout, stderr.decode(), process.returncode) == (b"", export, 0)


def test_importing_the_launcher_does_not_import_localstripe() -> None:
    """``import payflow_sandbox`` loads neither localstripe (GPL) nor aiohttp."""
    code = (
        "import sys, payflow_sandbox\n"
        "assert 'localstripe' not in sys.modules and 'aiohttp' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=os.environ.copy())


def test_the_access_log_shows_method_path_and_status_only() -> None:
    """--access-log writes method, path and status: no query (it may hold a secret) and no
    3-D Secure challenge token (it opens the page)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "payflow_sandbox", "--port", "0", "--access-log"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().decode().removeprefix("payflow sandbox listening on ")
        with httpx.Client(base_url=url.strip(), trust_env=False) as http:
            http.get("/v1/customers", params={"q": "query-secret"}, auth=("sk_test_x", ""))
            http.get("/_payflow/3ds/pi_1/token-secret")
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    log = stderr.decode()

    assert ['"GET /v1/customers" 400', '"GET /_payflow/3ds/…" 404'] == log.splitlines()[1:]
