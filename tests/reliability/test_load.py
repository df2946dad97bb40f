"""Load: 1,000 concurrent payment flows through a real `payflow serve` process over real HTTP.

The module starts its own sandbox and runs `payflow serve` without `--sandbox`, pointed at it
through STRIPE_API_BASE and STRIPE_SECRET_KEY: the sandbox then holds this module's objects
alone, and they can be counted exactly. The flows run once (the `flows` fixture); each test
states one thing about them.

The gateway makes no retries (PAYFLOW_STRIPE_MAX_RETRIES=0), so no failure is hidden by one, and
has a timeout long enough for the sandbox, single-threaded, to work through its queue; the
server's time limits on each request are as long, for this test's client lags (`server`).
"""

from __future__ import annotations

import asyncio
import os
import re
import resource
import ssl
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import attrs
import httpx
import pytest

from payflow_sandbox import Sandbox
from tests.payflow_asgi.asgi_support import (
    EXP_YEAR,
    VISA,
    closed_port,
    start_serve,
    stop_serve,
    wait_until_serving,
)

FLOWS: Final = 1_000
KEY: Final = "sk_test_load"


@pytest.fixture(scope="module", autouse=True)
def enough_file_descriptors() -> Iterator[None]:
    """Room for 1,000 client sockets here, and 1,000 + 512 in `payflow serve` (which inherits
    the limit): many systems start processes with a soft limit of 1,024 open files."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 4 * FLOWS if hard == resource.RLIM_INFINITY else min(hard, 4 * FLOWS)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture(scope="module")
def sandbox_alone(enough_file_descriptors: None) -> Iterator[Sandbox]:
    with Sandbox() as started:
        yield started


@attrs.frozen
class Served:
    """A running `payflow serve`: where it listens, and where its stderr goes."""

    url: str
    stderr: Path


@pytest.fixture(scope="module")
def server(sandbox_alone: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A `payflow serve` process using `sandbox_alone` as its Stripe."""
    stderr = tmp_path_factory.mktemp("serve") / "stderr.txt"
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("STRIPE_", "PAYFLOW_"))
    }
    env |= {
        "STRIPE_SECRET_KEY": KEY,
        "STRIPE_API_BASE": sandbox_alone.url,
        "PAYFLOW_STRIPE_MAX_RETRIES": "0",
        "PAYFLOW_STRIPE_TIMEOUT": "300",
        # This test's one event loop, behind 1,000 flows, can lag seconds between a request's
        # head and its body (httpx writes them apart): at the default 10 s the server answered
        # such a request 408. The time limits have their own tests (test_hostile_clients.py).
        "PAYFLOW_HEAD_TIMEOUT": "300",
        "PAYFLOW_BODY_TIMEOUT": "300",
    }
    with stderr.open("w") as stderr_file:
        # With its access log: when a flow fails, what the server answered on each route.
        process = start_serve(
            "--port", str(closed_port()), "--access-log", env=env, stderr=stderr_file
        )
    try:
        yield Served(wait_until_serving(process), stderr)
    finally:
        stop_serve(process, timeout=30)


@attrs.frozen
class Paid:
    """What one flow sent and what its confirmation answered."""

    cents: int
    payment: dict[str, Any]
    confirmed: dict[str, Any]


@attrs.frozen
class Run:
    """The outcome of all the flows: the paid ones and the failures."""

    paid: list[Paid]
    errors: list[str]


async def _step(http: httpx.AsyncClient, path: str, body: str) -> dict[str, Any]:
    try:
        response = await http.post(path, content=body, headers={"Content-Type": "application/json"})
    except httpx.HTTPError as exc:
        raise AssertionError(f"{path}: {exc!r}") from exc
    if response.status_code != 200:
        raise AssertionError(f"{path}: {response.status_code} {response.text}")
    data: dict[str, Any] = response.json()["data"]
    return data


async def _flow(http: httpx.AsyncClient, n: int) -> Paid:
    """Create a customer, tokenize, assign, create a payment of its own amount, confirm."""
    cents = 1_000 + n  # 10.00 EUR and up: each flow its own amount
    customer = await _step(http, "/api/customers", f'{{"email": "load{n}@example.com"}}')
    card = f'{{"number": "{VISA}", "exp_month": 12, "exp_year": {EXP_YEAR}, "cvc": "123"}}'
    token = await _step(http, "/api/cards", card)
    assign = f'{{"userId": "{customer["id"]}", "source": "{token["token_id"]}"}}'
    card_id = (await _step(http, "/api/cards/assign", assign))["cardId"]
    # Written as the spec's curl does: a JSON number in euros, read exactly.
    amount = f"{cents // 100}.{cents % 100:02d}"
    pay = (
        f'{{"customer_id": "{customer["id"]}", "amount": {amount}, "payment_method": "{card_id}"}}'
    )
    payment = await _step(http, "/api/payments", pay)
    confirmed = await _step(http, "/api/payments/confirm", f'{{"paymentId": "{payment["id"]}"}}')
    return Paid(cents, payment, confirmed)


async def _run(url: str) -> Run:
    # Each flow its own client, so its own connection: the flows are concurrent at the socket
    # too, and no two of them share a pool. A shared pool, with this one event loop lagging
    # behind 1,000 flows, can close a connection it has handed to a request that has not yet
    # started (encode/httpcore#1110): that request was a ReadError. One TLS context for all
    # (httpx builds one per client otherwise, 35 ms each), though the URL is plain HTTP.
    context = ssl.create_default_context()

    async def flow(n: int) -> Paid:
        async with httpx.AsyncClient(base_url=url, timeout=600, verify=context) as http:
            return await _flow(http, n)

    outcomes = await asyncio.gather(*(flow(n) for n in range(FLOWS)), return_exceptions=True)
    paid = [outcome for outcome in outcomes if isinstance(outcome, Paid)]
    errors = [repr(outcome) for outcome in outcomes if not isinstance(outcome, Paid)]
    return Run(paid, errors)


def _count_in_sandbox(sandbox: Sandbox, path: str) -> int:
    """How many objects the sandbox holds at `path`: its lists' `total_count`.

    Counted, not listed: the sandbox takes ~27 ms to render each PaymentIntent of a list, so
    listing the 1,000 would add half a minute.
    """
    with httpx.Client(base_url=sandbox.url, auth=(KEY, ""), timeout=60) as http:
        count: int = http.get(path, params={"limit": 1}).raise_for_status().json()["total_count"]
    return count


@pytest.fixture(scope="module")
def flows(server: Served) -> Run:
    return asyncio.run(_run(server.url))


_ACCESS: Final = re.compile(r"route=(\S+) status=(\d+)")


def _answered(stderr: str) -> Counter[str]:
    """How many answers of each route and status the access log shows, and its other lines."""
    return Counter(
        match.expand(r"\1 \2") if (match := _ACCESS.search(line)) else "other"
        for line in stderr.splitlines()
    )


def test_a_thousand_concurrent_flows_end_without_an_error(flows: Run, server: Served) -> None:
    """1,000 concurrent flows of five requests each all answer 200."""
    stderr = server.stderr.read_text()
    # A string, which pytest shows whole: the server's answers per route and status first.
    answered = "\n".join(f"{count:6} {what}" for what, count in sorted(_answered(stderr).items()))
    assert ([], FLOWS) == (flows.errors[:5], len(flows.paid)), f"{answered}\n{stderr[-3000:]}"


def test_every_flow_gets_its_own_payment_and_charge(flows: Run) -> None:
    """The 1,000 flows made 1,000 distinct payments and 1,000 distinct charges."""
    payments = {paid.payment["id"] for paid in flows.paid}
    charges = {charge["id"] for paid in flows.paid for charge in paid.confirmed["charges"]["data"]}

    assert (FLOWS, FLOWS) == (len(payments), len(charges))


def test_every_payment_succeeded_for_its_own_amount(flows: Run) -> None:
    """Each payment was made for its flow's amount, and confirmed and charged for exactly that."""
    expected = [
        (p.payment["id"], p.cents, "succeeded", p.cents, [(p.cents, True)]) for p in flows.paid
    ]
    actual = [
        (
            p.confirmed["id"],
            p.payment["amount"],
            p.confirmed["status"],
            p.confirmed["amount"],
            [(c["amount"], c["paid"]) for c in p.confirmed["charges"]["data"]],
        )
        for p in flows.paid
    ]

    assert expected == actual


def test_the_sandbox_holds_exactly_one_payment_intent_per_flow(
    flows: Run, sandbox_alone: Sandbox
) -> None:
    """Stripe's side agrees: the sandbox holds exactly 1,000 PaymentIntents, no duplicate."""
    assert FLOWS == _count_in_sandbox(sandbox_alone, "/v1/payment_intents")


def test_the_sandbox_holds_exactly_one_charge_per_flow(flows: Run, sandbox_alone: Sandbox) -> None:
    """The sandbox holds exactly 1,000 charges: no confirmation charged twice."""
    assert FLOWS == _count_in_sandbox(sandbox_alone, "/v1/charges")
