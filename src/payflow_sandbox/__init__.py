"""payflow_sandbox: a local, in-memory Stripe for development and tests.

The sandbox is localstripe (GPL) behind a small compatibility layer, always run in its own
process (``python -m payflow_sandbox``). This module only launches that process: it imports
neither localstripe nor aiohttp.

    with Sandbox() as sandbox:
        client = stripe.StripeClient("sk_test_sandbox", base_addresses={"api": sandbox.url})
"""

from __future__ import annotations

import os
import re
import selectors
import subprocess
import sys
import tempfile
import time
from types import TracebackType
from typing import IO, Final, Self

__all__ = ["SANDBOX_DEFAULT_PORT", "Sandbox", "SandboxError", "port_number"]

_READY: Final = re.compile(rb"payflow sandbox listening on (http://\S+)\r?\n")

# The port `payflow sandbox` listens on unless told otherwise (a `Sandbox` takes any free one).
SANDBOX_DEFAULT_PORT: Final = 8420


def port_number(value: object) -> int:
    """A TCP port to listen on: a whole number from 0 (any free port) to 65535."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise ValueError(f"the port must be a whole number from 0 to 65535, not {value!r}")
    return value


class SandboxError(RuntimeError):
    """The sandbox process could not be started or is not running."""


class Sandbox:
    """A sandbox process listening on ``host:port``; port 0 lets the OS choose a free port.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self, port: int = 0, host: str = "127.0.0.1", *, startup_timeout: float = 30.0
    ) -> None:
        port_number(port)
        if not host or any(c.isspace() for c in host):
            raise ValueError(f"Sandbox host must be a host name or address, not {host!r}")
        self.host: Final = host
        self.requested_port: Final = port
        self.startup_timeout: Final = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        """Base URL of the running sandbox, e.g. ``http://127.0.0.1:54321``."""
        if self._url is None:
            raise SandboxError("the sandbox is not running: call start() first")
        return self._url

    @property
    def port(self) -> int:
        """The port the running sandbox listens on (never 0)."""
        return int(self.url.rsplit(":", 1)[1])

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> Self:
        """Spawn the sandbox and wait until it listens; raise SandboxError if it cannot."""
        if self._process is not None:
            raise SandboxError("the sandbox is already started")
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        command = [sys.executable, "-m", "payflow_sandbox", "--host", self.host]
        command += ["--port", str(self.requested_port), "--exit-on-stdin-eof"]
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            command,
            # Held open until stop(): if this process dies, the sandbox sees EOF and exits.
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        try:
            self._url = self._wait_until_ready(self._process)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the sandbox (SIGTERM, then SIGKILL after ``timeout`` seconds)."""
        process, self._process, self._url = self._process, None, None
        if process is not None:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            for pipe in (process.stdin, process.stdout):
                if pipe is not None:
                    pipe.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self._url or f"{self.host}:{self.requested_port}"
        return f"<Sandbox {where} {'running' if self.running else 'stopped'}>"

    def _wait_until_ready(self, process: subprocess.Popen[bytes]) -> str:
        assert process.stdout is not None
        fd = process.stdout.fileno()
        deadline = time.monotonic() + self.startup_timeout
        output = b""
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while b"\n" not in output:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise SandboxError(
                        f"the sandbox did not start listening on {self.host}:"
                        f"{self.requested_port} within {self.startup_timeout:g} s"
                        + self._stderr_tail()
                    )
                if not selector.select(remaining):
                    continue
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                output += chunk
        match = _READY.match(output)
        if match is None:
            try:
                status = process.wait(5)
            except subprocess.TimeoutExpired:
                status = None
            raise SandboxError(
                f"the sandbox failed to start on {self.host}:{self.requested_port}"
                + (f" (exit status {status})" if status is not None else "")
                + (f"; it printed {output!r}" if output else "")
                + self._stderr_tail()
            )
        return match.group(1).decode("ascii")

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        text = self._stderr.read()[-2000:].decode("utf-8", "replace").strip()
        return f": {text}" if text else ""
