"""The distribution as users get it: the wheel and the sdist built, the wheel installed into a
fresh virtual environment with the `server` and `sandbox` extras, and `payflow serve --sandbox`
from that environment answering the spec's six requests, far from the source tree."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tomllib
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.payflow_asgi.asgi_support import EXP_YEAR, stop_serve, wait_until_serving
from tests.payflow_asgi.test_serve import ASSIGN, CARD, CONFIRM, CUSTOMER, PARTIAL_REFUND, PAYMENT

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
PACKAGES = ("payflow", "payflow_asgi", "payflow_cli", "payflow_sandbox")
TYPED = ("payflow", "payflow_asgi", "payflow_sandbox")


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder holding the wheel and the sdist, built as `python -m build` builds them."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    return out


def only(folder: Path, pattern: str) -> Path:
    (found,) = folder.glob(pattern)
    return found


@pytest.fixture(scope="module")
def installed(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ folder of a fresh virtual environment with the wheel and both extras."""
    home = tmp_path_factory.mktemp("venv")
    venv.create(home, with_pip=True)
    wheel = only(dist, "*.whl")
    subprocess.run(
        [home / "bin" / "python", "-m", "pip", "install", "-q", f"{wheel}[server,sandbox]"],
        check=True,
        capture_output=True,
        cwd=home,
    )
    return home / "bin"


def test_the_distribution_is_named_ours() -> None:
    """The distribution's name is not "payflow", an unrelated project on PyPI."""
    assert "payflow-stripe" == PROJECT["name"]


def test_the_wheel_holds_every_package_and_its_py_typed(dist: Path) -> None:
    """Each import package is in the wheel, and each typed one says so (py.typed)."""
    names = set(zipfile.ZipFile(only(dist, "*.whl")).namelist())

    assert ([], []) == (
        [p for p in PACKAGES if f"{p}/__init__.py" not in names],
        [p for p in TYPED if f"{p}/py.typed" not in names],
    )


def test_the_sdist_holds_the_sources_and_the_tests(dist: Path) -> None:
    """The sdist can rebuild the wheel and run the tests: sources, py.typed, tests, pyproject."""
    with tarfile.open(only(dist, "*.tar.gz")) as sdist:
        names = {name.partition("/")[2] for name in sdist.getnames()}

    wanted = ["pyproject.toml", "README.md", "src/payflow/py.typed", "tests/conftest.py"]
    assert [] == [name for name in wanted if name not in names]


@pytest.fixture(scope="module")
def served(installed: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`payflow serve --sandbox` from the installed wheel, run away from the source tree."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    process = subprocess.Popen(
        [installed / "payflow", "serve", "--sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path_factory.mktemp("elsewhere"),
    )
    url = wait_until_serving(process)
    yield url
    stop_serve(process)


def test_the_installed_wheel_serves_the_spec_s_six_requests(served: str) -> None:
    """The six requests of the spec, in order, each answered with its success status."""
    with httpx.Client(base_url=served, timeout=15) as http:

        def post(path: str, body: str) -> dict[str, Any]:
            response = http.post(path, content=body, headers={"Content-Type": "application/json"})
            assert 200 == response.status_code, response.text
            data: dict[str, Any] = response.json()["data"]
            return data

        cus = post("/api/customers", CUSTOMER)["id"]
        token = post("/api/cards", CARD % EXP_YEAR)
        post("/api/cards/assign", ASSIGN % (cus, token["token_id"]))
        pi = post("/api/payments", PAYMENT % (cus, "50.00", token["card_id"]))["id"]
        charge = post("/api/payments/confirm", CONFIRM % pi)["charges"]["data"][0]["id"]
        refund = post("/api/payments/refund", PARTIAL_REFUND % charge)

    assert (2500, "succeeded") == (refund["amount"], refund["status"])


def test_the_installed_wheel_is_the_one_imported(installed: Path, tmp_path: Path) -> None:
    """The installed environment imports payflow from itself, not from the source tree."""
    where = subprocess.run(
        [installed / "python", "-c", "import payflow; print(payflow.__file__)"],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    ).stdout

    assert (True, False) == ("site-packages" in where, str(ROOT / "src") in where)
