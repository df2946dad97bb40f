"""The `payflow` command as a newcomer meets it: --version, ports, addresses it cannot listen on,
and the environment variables it reads, each answered in one line without a traceback."""

from __future__ import annotations

import ast
import re
import socket
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from payflow_asgi._settings import ENVIRONMENT

ROOT = Path(__file__).parents[1]


def payflow(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "payflow_cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def busy_port() -> Iterator[int]:
    """A loopback port something already listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_version() -> None:
    """`payflow --version` prints the version the project declares (pyproject.toml)."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["version"]

    result = payflow("--version")

    assert (0, f"payflow {declared}\n") == (result.returncode, result.stdout)


@pytest.mark.parametrize("command", ["serve", "sandbox"])
@pytest.mark.parametrize("port", ["70000", "99999", "-1", "65536", "http"])
def test_a_port_outside_0_to_65535_is_refused(command: str, port: str) -> None:
    """The argument parser refuses the port (70000 used to serve on 4464): status 2, one error
    line, no traceback."""
    result = payflow(command, "--port", port)

    assert 2 == result.returncode
    assert [f"payflow {command}: error: argument --port: the port must be a whole number from 0"
            f" to 65535, not {port if port.isdigit() else repr(port)}"] == [
        line for line in result.stderr.splitlines() if "error" in line
    ]  # fmt: skip


@pytest.mark.parametrize("command", [("serve", "--sandbox"), ("sandbox",)])
def test_a_port_in_use_is_one_line_and_status_3(command: tuple[str, ...], busy_port: int) -> None:
    """Listening on a busy port fails with one line naming host and port, status 3."""
    result = payflow(*command, "--port", str(busy_port))

    assert 3 == result.returncode
    assert [f"payflow {command[0]}: cannot listen on 127.0.0.1:{busy_port}"] == [
        line.split(": Address")[0].split(": error while")[0] for line in result.stderr.splitlines()
    ]


@pytest.mark.parametrize("command", [("serve", "--sandbox"), ("sandbox",)])
def test_a_host_that_does_not_resolve_is_one_line_and_status_3(command: tuple[str, ...]) -> None:
    """A host name that does not resolve (.invalid never does, RFC 6761) fails the same way."""
    result = payflow(*command, "--host", "nope.invalid", "--port", "0")

    assert 3 == result.returncode
    assert 1 == len(result.stderr.splitlines())
    assert result.stderr.startswith(f"payflow {command[0]}: cannot listen on nope.invalid:0: ")


def test_serve_help_lists_every_environment_variable_with_its_default() -> None:
    """`payflow serve --help` shows each variable the server reads, and its default."""
    help_text = payflow("serve", "--help").stdout

    assert [] == [
        name for name, default, _ in ENVIRONMENT if not re.search(
            rf"{name}\s.*\(default: {re.escape(default)}\)", help_text)
    ]  # fmt: skip


def test_the_docs_table_is_the_servers() -> None:
    """docs/http-api.md's table of environment variables has the same names and defaults."""
    docs = (ROOT / "docs" / "http-api.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([A-Z_]+)` \| (.+?) \| .+ \|$", docs, re.MULTILINE)

    assert [(name, f"{default}") for name, default, _ in ENVIRONMENT] == [
        (name, default.strip("`")) for name, default in rows
    ]


def _environment_names_read_in_src() -> set[str]:
    """Names of environment variables src/ reads: string constants like PAYFLOW_X or STRIPE_X
    passed to a `.get(...)` or a subscript of an environment mapping."""
    names: set[str] = set()
    for path in (ROOT / "src").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and re.fullmatch(r"(PAYFLOW|STRIPE)_[A-Z_]+", node.value)
            ):
                names.add(node.value)
    return names


def test_every_variable_read_is_in_the_table() -> None:
    """No variable is read that the table (so --help and the docs) leaves out."""
    listed = {name for name, _, _ in ENVIRONMENT}

    assert set() == _environment_names_read_in_src() - listed


def test_the_sandbox_runs_as_docs_sandbox_md_shows() -> None:
    """`payflow sandbox` prints the documented ready line on stdout and the export line on
    stderr, takes --access-log, and --help shows its default port."""
    docs = (ROOT / "docs" / "sandbox.md").read_text(encoding="utf-8")
    ready, export = re.search(r"\$ payflow sandbox\n(.+)\n(.+)\n```", docs).groups()  # type: ignore[union-attr]
    process = subprocess.Popen(
        [sys.executable, "-m", "payflow_cli", "sandbox", "--port", "0", "--access-log"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stderr is not None
        printed, exported = process.stdout.readline(), process.stderr.readline()
    finally:
        process.terminate()
        process.communicate(timeout=30)
    port = printed.rsplit(":", 1)[1].strip()

    assert ready.replace("8420", port) == printed.rstrip("\n")
    assert export.replace("8420", port) == exported.rstrip("\n")
    assert "(default: 8420)" in payflow("sandbox", "--help").stdout
