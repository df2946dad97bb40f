"""The Stripe SDK's private names, in one place: the changes payflow makes to how the SDK works.

Nowhere else in payflow names a private part of `stripe`. Each change is applied only if the
installed SDK is one it was written for (`WRITTEN_FOR`) and still has, on its request path, the
name it changes; otherwise the SDK is left alone and one warning says why. The tests
(tests/payflow/test_sdk.py) fail when a change stops being on the request path.

- `HTTPClient`: the SDK's transport base, also retrying rate limits (429), for every gateway.
- `tune_for_server()`: for `payflow serve` only, measured in docs/performance.md: no telemetry
  headers, log lines formatted only when something will read them, the environment read once to
  name an "AI agent" in the User-Agent, answers decoded into plain dicts.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Callable, Mapping
from typing import Any, Final

import stripe
from stripe import _api_requestor, _stripe_response, _util

__all__ = ["WRITTEN_FOR", "HTTPClient", "console_log_level", "incompatibility", "tune_for_server"]

# The stripe versions these changes were checked against: >= 16.1, < 17.
WRITTEN_FOR: Final = ((16, 1), (17, 0))

_logger = logging.getLogger("payflow")


def _calls(function: object, name: str) -> bool:
    """Whether `function`'s own code looks `name` up (a global, an attribute or a method)."""
    code = getattr(function, "__code__", None)
    return code is not None and name in code.co_names


def _incompatibility(version: str) -> str | None:
    major, minor = (int(part) for part in version.split(".")[:2])
    low, high = WRITTEN_FOR
    if not low <= (major, minor) < high:
        return f"stripe {version} is outside the versions payflow's changes were written for"
    requestor = _api_requestor._APIRequestor
    # (the function on the request path, the name it must still look up)
    on_path = [
        (stripe.HTTPClient._request_with_retries_internal, "_should_retry"),
        (stripe.HTTPClient._request_with_retries_internal_async, "_should_retry"),
        (requestor.request_raw, "log_info"),
        (requestor.request_raw, "log_debug"),
        (requestor.request_raw_async, "log_info"),
        (requestor.request_raw_async, "log_debug"),
        (requestor.request_headers, "_detect_ai_agent"),
        (requestor._interpret_response, "StripeResponse"),
    ]
    for function, name in on_path:
        if not _calls(function, name):
            return f"stripe {version} no longer calls {name} from {function.__qualname__}"
    if not callable(getattr(requestor, "_detect_ai_agent", None)):
        return f"stripe {version} has no _APIRequestor._detect_ai_agent"
    built = getattr(_api_requestor, "StripeResponse", None)
    if not (isinstance(built, type) and issubclass(built, _stripe_response.StripeResponse)):
        return f"stripe {version} builds its answers from another StripeResponse"
    return None


@functools.cache
def incompatibility() -> str | None:
    """Why payflow leaves the installed SDK alone (warned once), or None when its changes apply."""
    reason = _incompatibility(stripe.VERSION)
    if reason is not None:
        _logger.warning(
            "%s: payflow leaves the SDK as it is (429s are not retried unless Stripe asks,"
            " payflow serve does more work per request)",
            reason,
        )
    return reason


def console_log_level() -> str | None:
    """ "debug" or "info" when the SDK prints its log lines to stderr, decided as the SDK does
    (`stripe.log` first, then the STRIPE_LOG environment variable), else None."""
    for level in (stripe.log, os.environ.get("STRIPE_LOG")):
        if level in {"debug", "info"}:
            return level
    return None


class HTTPClient(stripe.HTTPClient):
    """`stripe.HTTPClient`, retrying a 429 like a lock timeout: with the SDK's backoff, the same
    idempotency key and the same limit on retries, unless Stripe says `Stripe-Should-Retry:
    false`. The SDK itself retries a 429 only when Stripe adds `Stripe-Should-Retry: true`;
    https://docs.stripe.com/rate-limits#handling-limiting-gracefully says rate limits are worth
    retrying too."""

    def _should_retry(
        self,
        response: tuple[Any, int, Mapping[str, str] | None] | None,
        api_connection_error: stripe.APIConnectionError | None,
        num_retries: int,
        max_network_retries: int | None,
    ) -> bool:
        if (
            response is not None
            and response[1] == 429
            and num_retries < (max_network_retries or 0)
            and incompatibility() is None
        ):
            return (response[2] or {}).get("stripe-should-retry") != "false"
        return bool(
            super()._should_retry(response, api_connection_error, num_retries, max_network_retries)
        )


def _when_read(log: Callable[..., None], level: int) -> Callable[..., None]:
    stripe_logger = logging.getLogger("stripe")
    # Decided once: reading the environment on every line cost ~4% of a request (profiled).
    console = console_log_level() is not None

    def log_when_read(message: str, **params: object) -> None:
        if console or stripe_logger.isEnabledFor(level):
            log(message, **params)

    return log_when_read


def _decoded_by(loads: Callable[[str], object]) -> type[_stripe_response.StripeResponse]:
    class DecodedResponse(_stripe_response.StripeResponse):
        """The SDK's `StripeResponse`, its body decoded by `loads` into plain dicts rather than
        `OrderedDict`s (dicts keep their order too)."""

        def __init__(self, body: str, code: int, headers: Mapping[str, str]) -> None:
            _stripe_response.StripeResponseBase.__init__(self, code, headers)
            self.body = body
            self.data = loads(body)

    return DecodedResponse


def tune_for_server(loads: Callable[[str], object] = json.loads) -> None:
    """Make the SDK do, per request, only the work a server reads the result of; its answers
    are decoded by `loads` (a faster decoder than `json`'s, if the server has one).

    Measured (docs/performance.md): telemetry headers cost ~3% of a request's CPU; formatting log
    lines that no handler writes, whole response bodies included, 9-12%; reading ~20 environment
    variables to name an "AI agent" in the User-Agent, 2-3%; decoding each answer into
    `OrderedDict`s with `json` rather than into dicts with orjson, 12-22 µs of a payment's
    creation and 20-33 µs of its confirmation (benchmarks/app_cpu.py). Lines are still formatted
    when `STRIPE_LOG` or `stripe.log` (as they are now) or a handler of the `stripe` logger (at
    any time) will see them.
    """
    stripe.enable_telemetry = False
    if incompatibility() is not None:
        return
    _api_requestor.log_info = _when_read(_util.log_info, logging.INFO)  # type: ignore[attr-defined]
    _api_requestor.log_debug = _when_read(_util.log_debug, logging.DEBUG)  # type: ignore[attr-defined]
    requestor = _api_requestor._APIRequestor
    agent = requestor._detect_ai_agent(os.environ)
    requestor._detect_ai_agent = staticmethod(lambda environ: agent)  # type: ignore[method-assign]
    _api_requestor.StripeResponse = _decoded_by(loads)  # type: ignore[attr-defined]
