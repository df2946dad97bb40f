"""A sandbox of the test's own behind a fault-injecting proxy: its object counts are the test's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from payflow_sandbox import Sandbox
from tests.reliability.faultproxy import FaultProxy


@pytest.fixture
def sandbox_alone() -> Iterator[Sandbox]:
    with Sandbox() as started:
        yield started


@pytest.fixture
def proxy(sandbox_alone: Sandbox) -> Iterator[FaultProxy]:
    with FaultProxy(sandbox_alone.url).running() as running:
        yield running
