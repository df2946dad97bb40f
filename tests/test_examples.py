"""The examples run as written, against the sandbox."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Protocol

import pytest

EXAMPLES = Path(__file__).parent.parent / "examples"


class HasUrl(Protocol):
    url: str


@pytest.mark.parametrize("name", ["six_steps.py", "six_steps_async.py", "three_d_secure.py"])
def test_example_runs(sandbox: HasUrl, name: str) -> None:
    """Each example runs against `payflow sandbox`, exits 0 and ends with a succeeded payment."""
    env = {**os.environ, "STRIPE_SECRET_KEY": "sk_test_sandbox", "STRIPE_API_BASE": sandbox.url}
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (0, "") == (result.returncode, result.stderr)
    assert "succeeded" in result.stdout
