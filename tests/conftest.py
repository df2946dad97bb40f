"""Shared fixtures: one sandbox process for the whole test session."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import stripe

from payflow_sandbox import Sandbox

# The databases of the event store's tests: postgres_url, sqlite_url, store_url.
pytest_plugins = ["tests.databases"]

SANDBOX_API_KEY = "sk_test_sandbox"


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """A started sandbox (``sandbox.url``), shared by the whole session; stopped at the end."""
    with Sandbox() as started:
        yield started


@pytest.fixture
def stripe_client(sandbox: Sandbox) -> Iterator[stripe.StripeClient]:
    """A real StripeClient talking to the sandbox over HTTP; its connections are closed after."""
    http_client = stripe.RequestsClient()
    yield stripe.StripeClient(
        SANDBOX_API_KEY,
        base_addresses={"api": sandbox.url},
        http_client=http_client,
        max_network_retries=0,
    )
    close: Callable[[], None] = http_client.close
    close()
