"""A sandbox of the test's own behind a fault-injecting proxy: its object counts are the test's."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

import payflow
from payflow_asgi import Settings, create_app
from payflow_sandbox import Sandbox
from tests.payflow_asgi.asgi_support import client_for
from tests.reliability.faultproxy import FaultProxy
from tests.reliability.sandbox_objects import KEY


@pytest.fixture
def sandbox_alone() -> Iterator[Sandbox]:
    with Sandbox() as started:
        yield started


@pytest.fixture
def proxy(sandbox_alone: Sandbox) -> Iterator[FaultProxy]:
    with FaultProxy(sandbox_alone.url).running() as running:
        yield running


@pytest.fixture
async def gw(proxy: FaultProxy) -> AsyncIterator[payflow.Gateway]:
    """A gateway through the proxy that retries, as configured by default."""
    async with payflow.Gateway(KEY, api_base=proxy.url, max_network_retries=2) as gateway:
        yield gateway


@pytest.fixture
async def api_client(gw: payflow.Gateway) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the HTTP API in process, whose gateway is `gw`."""
    async with client_for(create_app(gw, settings=Settings())) as http:
        yield http
