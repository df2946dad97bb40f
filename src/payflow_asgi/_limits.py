"""What one client may hold of `payflow serve`: bytes, seconds and connections, from the
environment."""

from __future__ import annotations

import contextlib
import inspect
import os
import resource
from collections.abc import Mapping
from typing import Final

import attrs

import payflow

__all__ = [
    "DEFAULT_MAX_CONNECTIONS",
    "ENVIRONMENT",
    "RESERVED_DESCRIPTORS",
    "VARIABLES",
    "Limits",
    "raise_open_file_limit",
]

# Descriptors kept for what is not a client: the gateway's pool of connections to Stripe, and
# the process's own (listening socket, event loop, standard streams, a sandbox's pipes, logs).
_STRIPE_POOL: Final[int] = inspect.signature(payflow.Gateway).parameters["max_connections"].default
RESERVED_DESCRIPTORS: Final = _STRIPE_POOL + 64
# Connections beyond which one process serves no one better, and the bound on memory they may
# hold: each at most one read waiting (256 KiB) and a body twice (2 x 64 KiB).
DEFAULT_MAX_CONNECTIONS: Final = 4_096
# Linux refuses an RLIM_INFINITY soft limit for open files (fs.nr_open, 1,048,576 by default).
_NO_LIMIT: Final = 1_048_576

# The one table: variable -> (default, whole number?, what it bounds).
VARIABLES: Final[Mapping[str, tuple[float | None, bool, str]]] = {
    "PAYFLOW_HEAD_TIMEOUT": (5, False, "seconds for a request head to arrive, from its first byte"),
    "PAYFLOW_BODY_TIMEOUT": (10, False, "seconds for a request body to arrive, after its head"),
    "PAYFLOW_MAX_HEAD_BYTES": (16_384, True, "the largest request line and headers"),
    "PAYFLOW_MAX_CONNECTIONS": (None, True, "client connections at once"),
    "PAYFLOW_SHUTDOWN_GRACE": (10, True, "seconds requests in flight get after SIGTERM"),
}  # fmt: skip
# The same, as `payflow serve --help` and docs/http-api.md show it: name, default, meaning.
ENVIRONMENT: Final = tuple(
    (
        name,
        f"open files - {RESERVED_DESCRIPTORS}, at most {DEFAULT_MAX_CONNECTIONS}"
        if default is None
        else str(default),
        meaning,
    )
    for name, (default, _, meaning) in VARIABLES.items()
)


def _number(env: Mapping[str, str], name: str) -> float | None:
    default, whole, meaning = VARIABLES[name]
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text) if whole else float(text)
    except ValueError:
        value = 0
    if not 0 < value < 1e9:
        what = "a whole number" if whole else "a number"
        raise payflow.ConfigurationError(f"{name} ({meaning}) must be {what} above 0")
    return value


def _default_connections(open_files: int) -> int:
    return min(DEFAULT_MAX_CONNECTIONS, max(16, open_files - RESERVED_DESCRIPTORS))


@attrs.frozen(kw_only=True)
class Limits:
    """How long and how much one connection may take, how many there may be, and how long
    shutting down may last."""

    head_timeout: float
    body_timeout: float
    max_head_bytes: int
    max_connections: int
    shutdown_grace: int

    @classmethod
    def from_env(cls, open_files: int, environ: Mapping[str, str] | None = None) -> Limits:
        """The limits the PAYFLOW_... variables set (`VARIABLES`); connections default to what
        `open_files` leaves after the descriptors reserved for Stripe, at least 16 and at most
        `DEFAULT_MAX_CONNECTIONS`."""
        env = os.environ if environ is None else environ
        values = {name: _number(env, name) for name in VARIABLES}
        connections = values["PAYFLOW_MAX_CONNECTIONS"]
        return cls(
            head_timeout=values["PAYFLOW_HEAD_TIMEOUT"] or 0,
            body_timeout=values["PAYFLOW_BODY_TIMEOUT"] or 0,
            max_head_bytes=int(values["PAYFLOW_MAX_HEAD_BYTES"] or 0),
            max_connections=int(connections or _default_connections(open_files)),
            shutdown_grace=int(values["PAYFLOW_SHUTDOWN_GRACE"] or 0),
        )


def raise_open_file_limit() -> tuple[int, int]:
    """Raise this process's soft limit of open files to its hard limit, where allowed; the soft
    and hard limits in force afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = _NO_LIMIT if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)
