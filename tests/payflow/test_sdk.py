"""payflow's changes to the Stripe SDK (`payflow._sdk`): each one on the request path of real
requests to the sandbox, and the SDK left alone, with one warning, when they no longer fit."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import stripe
from stripe import _api_requestor, _stripe_response, _util

import payflow
from payflow import _sdk
from payflow_sandbox import Sandbox
from tests.payflow.servers import answer, read_request, scripted

KEY = "sk_test_payflow"


@pytest.fixture
def untouched_sdk(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Whatever a test changes in the SDK is undone after it."""
    for name in ("log_info", "log_debug", "StripeResponse"):
        monkeypatch.setattr(_api_requestor, name, getattr(_api_requestor, name))
    requestor = _api_requestor._APIRequestor
    monkeypatch.setattr(requestor, "_detect_ai_agent", requestor.__dict__["_detect_ai_agent"])
    monkeypatch.setattr(stripe, "enable_telemetry", stripe.enable_telemetry)
    monkeypatch.delenv("STRIPE_LOG", raising=False)
    monkeypatch.setattr(stripe, "log", None)
    _sdk.incompatibility.cache_clear()
    yield
    _sdk.incompatibility.cache_clear()


def counted(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> list[int]:
    """Count the calls of `owner.name` from now on (calls[0])."""
    calls = [0]
    original: Callable[..., Any] = getattr(owner, name)

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(
        owner, name, staticmethod(counting) if isinstance(owner, type) else counting
    )
    return calls


def per_request(calls: list[int], sandbox: Sandbox, requests: int = 3) -> float:
    """Calls counted per request, over sync and async requests to the sandbox."""
    before = calls[0]
    with payflow.Gateway(KEY, api_base=sandbox.url, max_network_retries=0) as gw:
        for _ in range(requests):
            payflow.create_customer(gw, email="sdk@example.com")

        async def create() -> None:
            for _ in range(requests):
                await payflow.create_customer_async(gw, email="sdk@example.com")
            await gw.aclose()

        asyncio.run(create())
    return (calls[0] - before) / (2 * requests)


@pytest.mark.usefixtures("untouched_sdk")
def test_server_tuning_stops_log_formatting_on_the_request_path(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The SDK formats log lines for every request; tuned, none when nothing reads them."""
    caplog.set_level(logging.WARNING, logger="stripe")
    formatted = counted(monkeypatch, _util, "logfmt")
    untuned = per_request(formatted, sandbox)
    _sdk.tune_for_server()

    assert (True, 0) == (untuned >= 2, per_request(formatted, sandbox))


@pytest.mark.usefixtures("untouched_sdk")
def test_tuned_log_lines_are_still_written_when_read(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Tuned, a line the `stripe` logger takes is still formatted and written."""
    _sdk.tune_for_server()
    caplog.set_level(logging.INFO, logger="stripe")
    per_request([0], sandbox, requests=1)

    messages = [r.getMessage() for r in caplog.records if r.name == "stripe"]
    assert True is any("message='Request to Stripe api' method=post" in m for m in messages)


@pytest.mark.usefixtures("untouched_sdk")
def test_server_tuning_reads_the_ai_agent_environment_once(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SDK looks for an "AI agent" in the environment for every request; tuned, never."""
    detections = counted(monkeypatch, _api_requestor._APIRequestor, "_detect_ai_agent")
    untuned = per_request(detections, sandbox)
    _sdk.tune_for_server()
    detections_before = detections[0]
    per_request([0], sandbox)

    assert (True, 0) == (untuned >= 1, detections[0] - detections_before)


@pytest.mark.usefixtures("untouched_sdk")
def test_server_tuning_decodes_answers_without_ordered_dicts(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SDK decodes every answer into OrderedDicts; tuned, into plain dicts."""
    ordered = counted(monkeypatch, _stripe_response, "OrderedDict")
    untuned = per_request(ordered, sandbox)
    _sdk.tune_for_server()

    assert (True, 0) == (untuned >= 1, per_request(ordered, sandbox))


@pytest.mark.usefixtures("untouched_sdk")
def test_server_tuning_turns_telemetry_off() -> None:
    """Tuned, the SDK sends no telemetry headers."""
    _sdk.tune_for_server()

    assert False is stripe.enable_telemetry


async def rate_limited_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    writer.write(answer(429, b'{"error": {"type": "invalid_request_error"}}'))
    await read_request(reader)
    writer.write(answer(200))
    await writer.drain()


@pytest.mark.parametrize("twin", ["sync", "async"])
def test_a_429_is_retried(twin: str) -> None:
    """A rate limit without Stripe-Should-Retry is retried, on the request path of both twins
    (the SDK alone would give up at once)."""
    with scripted(rate_limited_once) as url:
        gw = payflow.Gateway(KEY, api_base=url, max_network_retries=1)
        if twin == "sync":
            with gw:
                customer = payflow.create_customer(gw, email="a@example.com")
        else:

            async def create() -> payflow.Customer:
                async with gw:
                    return await payflow.create_customer_async(gw, email="a@example.com")

            customer = asyncio.run(create())

    assert "cus_1" == customer.id


def test_written_for_the_installed_sdk() -> None:
    """The installed SDK is one the changes were written for: CI notices a new one."""
    assert None is _sdk._incompatibility(stripe.VERSION)


@pytest.mark.parametrize("version", ["16.0.9", "17.0.0", "18.2.1"])
def test_other_versions_are_left_alone(version: str) -> None:
    """Outside the range the changes were written for, they do not apply."""
    assert True is (version in str(_sdk._incompatibility(version)))


@pytest.mark.usefixtures("untouched_sdk")
def test_a_change_off_the_request_path_leaves_the_sdk_alone_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An SDK whose request path no longer calls a changed name: nothing is changed, and one
    warning says which name, however often the changes are asked for."""
    requestor = _api_requestor._APIRequestor
    monkeypatch.setattr(requestor, "request_headers", lambda *args, **kwargs: {})
    log_info = _api_requestor.log_info  # type: ignore[attr-defined]
    caplog.set_level(logging.WARNING, logger="payflow")
    _sdk.tune_for_server()
    _sdk.tune_for_server()

    warnings = [r.getMessage() for r in caplog.records if r.name == "payflow"]
    assert (True, 1, True) == (
        _api_requestor.log_info is log_info,  # type: ignore[attr-defined]
        len(warnings),
        "_detect_ai_agent" in warnings[0],
    )


@pytest.mark.parametrize(
    ("log", "environment", "expected"),
    [(None, None, None), (None, "info", "info"), ("debug", "info", "debug"), (None, "x", None)],
)
def test_console_log_level_is_decided_as_the_sdk_does(
    monkeypatch: pytest.MonkeyPatch, log: str | None, environment: str | None, expected: str | None
) -> None:
    """`stripe.log` first, then STRIPE_LOG; anything but debug and info is no console."""
    monkeypatch.setattr(stripe, "log", log)
    if environment is None:
        monkeypatch.delenv("STRIPE_LOG", raising=False)
    else:
        monkeypatch.setenv("STRIPE_LOG", environment)

    assert expected == _sdk.console_log_level()
