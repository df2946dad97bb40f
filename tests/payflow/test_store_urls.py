"""`open_store`: which URLs name which store, and what a wrong one is told, never its password."""

from __future__ import annotations

import subprocess
import sys
import traceback
from pathlib import Path

import psycopg
import pytest

import payflow
from payflow._store import open_store, sqlite_path
from tests.payflow.test_store import event

PASSWORD = "s3cret-Passw0rd"


@pytest.mark.parametrize(
    "url",
    [
        "",
        "events.db",
        f"mysql://payflow:{PASSWORD}@db.example/payflow",
        "sqlite:",
        "sqlite://events.db",
        "sqlite:///",
        "sqlite:////",
        "sqlite:///:memory:",
        "sqlite:///data/",
        "sqlite:///events.db?mode=ro",
        f"postgresql://payflow:{PASSWORD}@db.example/payflow?no_such_option=1",
        f"postgres://payflow:{PASSWORD}@db.example:5432/payflow?sslmode",
        f"postgresql://payflow:{PASSWORD}%zz@db.example/payflow",  # libpq quotes the password
    ],
)
def test_a_url_of_no_known_form_is_refused_with_the_forms(url: str) -> None:
    """A URL that names no store is a ConfigurationError listing the forms, without the URL."""
    with pytest.raises(payflow.ConfigurationError) as raised:
        open_store(url)

    logged = "".join(traceback.format_exception(raised.value))  # with any chained error

    assert (True, False) == (
        "PAYFLOW_DATABASE_URL must be sqlite:///" in str(raised.value),
        PASSWORD in f"{logged} {raised.value!r}",
    )


@pytest.mark.parametrize(
    ("rest", "path"),
    [
        ("/events.db", "events.db"),
        ("/var/payflow/events.db", "var/payflow/events.db"),
        ("//var/payflow/events.db", "/var/payflow/events.db"),
    ],
)
def test_sqlite_urls_are_relative_with_three_slashes_absolute_with_four(
    rest: str, path: str
) -> None:
    """As in SQLAlchemy: ``sqlite:///x.db`` is relative, ``sqlite:////x.db`` absolute."""
    assert path == sqlite_path(rest)


async def test_a_relative_sqlite_file_is_made_in_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``sqlite:///events.db`` makes events.db in the working folder, at the first call."""
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///events.db")
    made_before = (tmp_path / "events.db").exists()
    await store.claim(event(1))
    await store.aclose()

    assert (False, True) == (made_before, (tmp_path / "events.db").exists())


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_postgres_urls_open_without_connecting(scheme: str) -> None:
    """Both schemes name PostgreSQL; opening connects nothing (this host does not exist)."""
    store = open_store(f"{scheme}://payflow:{PASSWORD}@db.invalid/payflow")

    assert "PostgresStore('db.invalid/payflow')" == repr(store)


async def test_a_refused_connection_does_not_say_the_password(tmp_path: Path) -> None:
    """The first call's error when PostgreSQL cannot be reached does not quote the password."""
    store = open_store(f"postgresql://payflow:{PASSWORD}@/payflow?host={tmp_path}")

    with pytest.raises(psycopg.OperationalError) as raised:
        await store.claim(event(1))
    await store.aclose()

    assert ("connection" in str(raised.value), False) == (True, PASSWORD in str(raised.value))


def test_without_psycopg_a_postgres_url_names_the_extra_to_install() -> None:
    """Where psycopg is not installed (the `server` extra alone), the error says what to add."""
    code = (
        "import sys; sys.modules['psycopg'] = None\n"  # as if not installed: import fails
        "from payflow._store import open_store\n"
        f"open_store('postgresql://payflow:{PASSWORD}@db.example/payflow')\n"
    )

    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)

    assert (1, True, False) == (
        ran.returncode,
        "ConfigurationError: a postgresql:// database needs psycopg: "
        "pip install 'payflow-stripe[server,postgres]'" in ran.stderr,
        PASSWORD in ran.stderr,
    )
