"""The one place payflow talks to Stripe: a configured SDK client, and its errors translated.

Requests go through the official SDK's `raw_request` / `raw_request_async`, which keep the SDK's
authentication, idempotency keys, retries with backoff and error classes, and return plain JSON
that `payflow._stripe_api` turns into payflow values. The transport is payflow's own
`stripe.HTTPClient`: httpx for sync calls, a small HTTP/1.1 client of its own (`_http`) for async
ones (measured: docs/performance.md).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any, Final, Self, TypeVar

import httpx
import stripe

from ._errors import (
    AuthenticationFailed,
    CardDeclined,
    ConfigurationError,
    Conflict,
    IdempotencyConflict,
    NotFound,
    RateLimited,
    StripeFailure,
    StripeRejected,
    StripeServerError,
    StripeTimeout,
    StripeUnavailable,
)
from ._http import Pool
from ._stripe_api import Call, Json

__all__ = ["Gateway", "last_stripe_request_id"]

T = TypeVar("T")

DEFAULT_TIMEOUT: Final = 30.0
DEFAULT_MAX_RETRIES: Final = 2
DEFAULT_MAX_CONNECTIONS: Final = 512

# Stripe error codes that mean "the object is in the wrong state for this", not "bad input".
# https://docs.stripe.com/error-codes
_CONFLICT_CODES: Final = frozenset(
    {
        "charge_already_refunded",
        "charge_disputed",
        "idempotency_key_in_use",
        "payment_intent_unexpected_state",
        "token_already_used",
    }
)
_SECRET: Final = re.compile(r"\d(?:[ -]?\d){11,18}|\b[sr]k_(?:test|live)_\w+")


def _redact(message: str) -> str:
    """Stripe's message with anything shaped like a card number or an API key blanked out."""
    return _SECRET.sub("[redacted]", message)


class _StripeLogFilter(logging.Filter):
    """On the SDK's `stripe` logger: drop DEBUG records, which hold whole request bodies (card
    numbers and CVCs), and blank card numbers and keys in the others (URLs, Stripe's messages)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno <= logging.DEBUG:
            return False
        message = record.getMessage()
        redacted = _redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


_STRIPE_LOG_FILTER: Final = _StripeLogFilter()


def _guard_stripe_logger() -> None:
    """Install the filter once; the SDK logs every request whatever STRIPE_LOG says."""
    stripe_logger = logging.getLogger("stripe")
    if _STRIPE_LOG_FILTER not in stripe_logger.filters:
        stripe_logger.addFilter(_STRIPE_LOG_FILTER)


def _timed_out(exc: BaseException) -> bool:
    cause = exc.__cause__
    return isinstance(cause, TimeoutError | httpx.TimeoutException)


def translate(exc: stripe.StripeError) -> StripeFailure:
    """The payflow error for an SDK error: the one table from Stripe's errors to ours."""
    request_id = exc.request_id
    code = exc.code
    message = _redact(exc.user_message or "Stripe refused the request")
    if isinstance(exc, stripe.CardError):
        decline_code = getattr(exc.error, "decline_code", None) or code
        return CardDeclined(message, decline_code=decline_code, request_id=request_id,
                            stripe_code=code)  # fmt: skip
    if isinstance(exc, stripe.IdempotencyError):
        return IdempotencyConflict(message, request_id=request_id, stripe_code=code)
    if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
        return AuthenticationFailed(message, request_id=request_id, stripe_code=code)
    if isinstance(exc, stripe.RateLimitError):
        return RateLimited(message, request_id=request_id, stripe_code=code)
    if isinstance(exc, stripe.APIConnectionError):
        if _timed_out(exc):
            return StripeTimeout("Stripe did not answer in time", request_id=request_id)
        return StripeUnavailable("Stripe could not be reached", request_id=request_id)
    if isinstance(exc, stripe.InvalidRequestError):
        field = getattr(exc, "param", None)
        if exc.http_status == 404 or code == "resource_missing":
            return NotFound(message, field=field, request_id=request_id, stripe_code=code)
        if code in _CONFLICT_CODES:
            return Conflict(message, field=field, request_id=request_id, stripe_code=code)
        return StripeRejected(message, field=field, request_id=request_id, stripe_code=code)
    # The SDK makes a plain APIError of a 409 (e.g. idempotency_key_in_use).
    if exc.http_status == 409 or code in _CONFLICT_CODES:
        return Conflict(message, request_id=request_id, stripe_code=code)
    if exc.http_status == 503:
        return StripeUnavailable("Stripe is unavailable", request_id=request_id, stripe_code=code)
    return StripeServerError("Stripe failed to answer the request", request_id=request_id,
                             stripe_code=code)  # fmt: skip


def _failed(exc: stripe.StripeError) -> StripeFailure:
    """The payflow error for a failed call, noting its request id (a plain function, not a
    context manager: one less generator per call on the hot path)."""
    _request_id.set(exc.request_id)
    return translate(exc)


# Per context: each asyncio task (so each request an ASGI server handles) and each thread.
_request_id: Final[ContextVar[str | None]] = ContextVar("payflow_stripe_request_id", default=None)


def last_stripe_request_id() -> str | None:
    """Stripe's request id (`req_...`) of the latest call made in this context (this asyncio task,
    or this thread), answered or refused; None before any, or when Stripe never answered."""
    return _request_id.get()


def _parsed(parse: Callable[[Json], T], data: object) -> T:
    try:
        if not isinstance(data, Mapping):
            raise TypeError("not a JSON object")
        return parse(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise StripeServerError("Stripe answered with an unexpected response") from exc


class _Transport(stripe.HTTPClient):
    """Sync requests over one httpx.Client, async ones over payflow's own `_http.Pool` per loop.

    Both keep connections across requests: a new connection per request is what made the SDK's
    default async client slow under load (encode/httpx#3215).
    """

    name = "payflow"

    def __init__(self, *, timeout: float, max_connections: int) -> None:
        super().__init__()
        self._timeout = timeout
        self._max_connections = max_connections
        self._sync: httpx.Client | None = None
        self._pool: Pool | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @staticmethod
    def _connection_error(exc: Exception) -> stripe.APIConnectionError:
        message = f"Network error talking to Stripe: {type(exc).__name__}"
        return stripe.APIConnectionError(message, should_retry=True)  # type: ignore[no-untyped-call]

    def request(  # type: ignore[override]  # the SDK's own clients loosen it the same way
        self, method: str, url: str, headers: Mapping[str, str] | None, post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        if self._sync is None:
            limits = httpx.Limits(max_connections=self._max_connections)
            self._sync = httpx.Client(timeout=self._timeout, limits=limits)
        try:
            response = self._sync.request(method, url, headers=headers, content=post_data)
        except httpx.HTTPError as exc:
            raise self._connection_error(exc) from exc
        return response.content, response.status_code, response.headers

    def _async_pool(self) -> Pool:
        loop = asyncio.get_running_loop()
        if self._pool is None or self._loop is not loop:
            # Connections belong to one event loop; a gateway may outlive a loop (tests, scripts).
            self._pool = Pool(max_connections=self._max_connections, timeout=self._timeout)
            self._loop = loop
        return self._pool

    async def request_async(
        self, method: str, url: str, headers: Mapping[str, str] | None, post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        body = post_data.encode() if isinstance(post_data, str) else post_data or b""
        try:
            return await self._async_pool().request(method, url, headers or {}, body)
        except OSError as exc:  # TimeoutError and ConnectionError included
            raise self._connection_error(exc) from exc

    def _should_retry(
        self,
        response: tuple[Any, int, Mapping[str, str] | None] | None,
        api_connection_error: stripe.APIConnectionError | None,
        num_retries: int,
        max_network_retries: int | None,
    ) -> bool:
        # The SDK retries a 429 only when Stripe adds `Stripe-Should-Retry: true` (lock
        # timeouts). Rate limits are worth a retry too, with the same backoff and idempotency
        # key: https://docs.stripe.com/rate-limits#handling-limiting-gracefully
        if response is not None and response[1] == 429 and num_retries < (max_network_retries or 0):
            headers = response[2] or {}
            return headers.get("stripe-should-retry") != "false"
        return bool(
            super()._should_retry(response, api_connection_error, num_retries, max_network_retries)
        )

    def sleep_async(self, secs: float) -> Any:
        return asyncio.sleep(secs)

    def close(self) -> None:
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    async def close_async(self) -> None:
        if self._pool is not None and self._loop is asyncio.get_running_loop():
            self._pool.close()
        self._pool = None


class Gateway:
    """One Stripe account, reached through one `stripe.StripeClient`.

    Use it as a context manager (`with` or `async with`), or call `close()` / `aclose()`.
    """

    def __init__(
        self,
        api_key: str,
        *,
        api_base: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_network_retries: int = DEFAULT_MAX_RETRIES,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        allow_raw_card_data: bool = False,
    ) -> None:
        if not isinstance(api_key, str) or not api_key.startswith(("sk_", "rk_")):
            raise ConfigurationError(
                "api_key must be a Stripe secret key (sk_test_... or sk_live_...);"
                " find it in the Stripe dashboard under Developers > API keys"
            )
        if not timeout > 0:
            raise ConfigurationError("timeout must be a positive number of seconds")
        if max_network_retries < 0:
            raise ConfigurationError("max_network_retries must not be negative")
        _guard_stripe_logger()
        self._key_kind = api_key[:8]  # "sk_test_" / "sk_live_": safe to show
        self.live = "_live_" in api_key[:8]
        self.allow_raw_card_data = allow_raw_card_data
        self.api_base = api_base
        self.timeout = timeout
        self.max_network_retries = max_network_retries
        self._transport = _Transport(timeout=timeout, max_connections=max_connections)
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base} if api_base else None,
            max_network_retries=max_network_retries,
            http_client=self._transport,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Gateway:
        """A gateway from STRIPE_SECRET_KEY, STRIPE_API_BASE, PAYFLOW_STRIPE_TIMEOUT,
        PAYFLOW_STRIPE_MAX_RETRIES and PAYFLOW_ALLOW_RAW_CARD_DATA (docs/library.md)."""
        env = os.environ if environ is None else environ
        api_key = env.get("STRIPE_SECRET_KEY")
        if not api_key:
            raise ConfigurationError(
                "STRIPE_SECRET_KEY is not set: export your Stripe secret key"
                " (sk_test_...), or run a local sandbox with `payflow sandbox` and set"
                " STRIPE_API_BASE to the URL it prints"
            )
        try:
            timeout = float(env.get("PAYFLOW_STRIPE_TIMEOUT", DEFAULT_TIMEOUT))
            retries = int(env.get("PAYFLOW_STRIPE_MAX_RETRIES", DEFAULT_MAX_RETRIES))
        except ValueError as exc:
            raise ConfigurationError(
                "PAYFLOW_STRIPE_TIMEOUT must be a number of seconds and"
                " PAYFLOW_STRIPE_MAX_RETRIES a whole number"
            ) from exc
        return cls(
            api_key,
            api_base=env.get("STRIPE_API_BASE") or None,
            timeout=timeout,
            max_network_retries=retries,
            allow_raw_card_data=env.get("PAYFLOW_ALLOW_RAW_CARD_DATA", "").lower()
            in {"1", "true", "yes"},
        )

    def __repr__(self) -> str:
        return f"Gateway(api_key='{self._key_kind}…', api_base={self.api_base!r})"

    @staticmethod
    def _options(call: Call) -> dict[str, Any]:
        options = dict(call.params)
        if call.idempotency_key is not None:
            options["idempotency_key"] = call.idempotency_key
        return options

    def send(self, call: Call, parse: Callable[[Json], T]) -> T:
        """Make one request to Stripe and parse its answer."""
        try:
            response = self._client.raw_request(call.method, call.path, **self._options(call))
        except stripe.StripeError as exc:
            raise _failed(exc) from exc
        _request_id.set(response.request_id)
        return _parsed(parse, response.data)

    async def send_async(self, call: Call, parse: Callable[[Json], T]) -> T:
        """Make one request to Stripe, without blocking the event loop, and parse its answer."""
        try:
            response = await self._client.raw_request_async(
                call.method, call.path, **self._options(call)
            )
        except stripe.StripeError as exc:
            raise _failed(exc) from exc
        _request_id.set(response.request_id)
        return _parsed(parse, response.data)

    def close(self) -> None:
        self._transport.close()

    async def aclose(self) -> None:
        self._transport.close()
        await self._transport.close_async()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
