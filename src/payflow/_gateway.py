"""The one place payflow talks to Stripe: a configured SDK client, and its errors translated.

Requests go through the official SDK's `raw_request` / `raw_request_async`, which keep the SDK's
authentication, idempotency keys, retries with backoff and error classes, and return plain JSON
that `payflow._stripe_api` turns into payflow values. The transport is a `stripe.HTTPClient` over
pyreqwest, one HTTP library for both twins, configured once (measured: docs/performance.md).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import re
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from datetime import timedelta
from typing import Any, Final, Self, TypeVar
from urllib.parse import urlsplit

import attrs
import stripe
from pyreqwest.client import Client, ClientBuilder, SyncClient, SyncClientBuilder
from pyreqwest.exceptions import PyreqwestError, TransportError
from pyreqwest.proxy import ProxyBuilder

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
from ._sdk import HTTPClient
from ._stripe_api import Call, Json

__all__ = ["Gateway", "last_stripe_request_id"]

T = TypeVar("T")
N = TypeVar("N", int, float)
_Builder = TypeVar("_Builder", ClientBuilder, SyncClientBuilder)

DEFAULT_TIMEOUT: Final = 30.0
MAX_TIMEOUT: Final = 3600.0
# A connection that is not up within this long will not be (within the whole timeout).
CONNECT_TIMEOUT: Final = 10.0
DEFAULT_MAX_RETRIES: Final = 2
DEFAULT_MAX_CONNECTIONS: Final = 512
# Idle keep-alive connections older than this are closed rather than reused.
IDLE_SECONDS: Final = 15.0
API_BASE_EXAMPLE: Final = "https://api.stripe.com or http://127.0.0.1:8420"
PROXY_EXAMPLE: Final = "http://proxy.example:3128"

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
_SECRET: Final = re.compile(r"\d(?:[ -]?\d){11,18}|\b[sr]k_(?:test|live)_\w+|_secret_\w+")


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
    return isinstance(exc.__cause__, TimeoutError)


def translate(exc: stripe.StripeError) -> StripeFailure:
    """The payflow error for an SDK error: the one table from Stripe's errors to ours."""
    request_id = exc.request_id
    # The SDK fills `code` only on the error classes it makes for 4xx; a 409 is a plain
    # APIError whose code (idempotency_key_in_use) is only on `error`.
    code = exc.code or getattr(exc.error, "code", None)
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


class _Transport(HTTPClient):
    """Both twins' requests over pyreqwest, one Rust HTTP engine (reqwest, hyper) with a sync and
    an async client built from one configuration (`_configured`): the same roots, proxies,
    timeouts and limits; keep-alive connections reused across calls (measured:
    docs/performance.md). Each failure to get an answer becomes the SDK's `APIConnectionError`,
    which the SDK retries when it is a network one."""

    name = "payflow"

    def __init__(self, settings: _Settings) -> None:
        super().__init__()
        self._settings = settings
        # Built now, so that settings the library refuses (a malformed certificate) are a
        # ConfigurationError here rather than an error of the first call.
        try:
            self._sync: SyncClient | None = self._configured(SyncClientBuilder()).build()
            self._async: Client | None = self._configured(ClientBuilder()).build()
        except PyreqwestError as exc:
            details = getattr(exc, "details", None) or {}
            causes = [cause["message"] for cause in details.get("causes") or []][1:]
            raise ConfigurationError(
                "the HTTP client cannot use these settings"
                f" ({'; '.join(causes) or exc.message}): check stripe.ca_bundle_path"
            ) from None

    def _configured(self, builder: _Builder) -> _Builder:
        settings = self._settings
        builder = (
            builder.timeout(timedelta(seconds=settings.timeout))
            .connect_timeout(timedelta(seconds=min(settings.timeout, CONNECT_TIMEOUT)))
            .max_connections(settings.max_connections)
            # Servers close idle connections (uvicorn after 5 s, nginx 75 s): a request sent on
            # one as it closes gets no answer, so idle ones are dropped before that is likely.
            .pool_idle_timeout(timedelta(seconds=IDLE_SECONDS))
            # The SDK sends no Accept-Encoding, follows no redirect and keeps no cookie.
            .gzip(False)
            .brotli(False)
            .zstd(False)
            .deflate(False)
            .follow_redirects(False)
            .add_root_certificate_pem(settings.extra_roots)
        )
        if settings.proxy is not None:
            # An explicit proxy replaces the environment's HTTP(S)_PROXY/NO_PROXY.
            builder = builder.proxy(ProxyBuilder.all(settings.proxy))
        return builder

    @staticmethod
    def _connection_error(exc: Exception) -> stripe.APIConnectionError:
        network = isinstance(exc, TransportError)
        message = f"Network error talking to Stripe: {type(exc).__name__}"
        return stripe.APIConnectionError(message, should_retry=network)  # type: ignore[no-untyped-call]

    def request(  # type: ignore[override]  # the SDK's own clients loosen it the same way
        self, method: str, url: str, headers: Mapping[str, str] | None, post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        if self._sync is None:
            self._sync = self._configured(SyncClientBuilder()).build()
        try:
            request = self._sync.request(method.upper(), url).headers(headers or {})
            response = request.body_bytes(_body(post_data)).build().send()
            return bytes(response.bytes()), response.status, response.headers
        except (PyreqwestError, ValueError) as exc:
            raise self._connection_error(exc) from exc

    async def request_async(
        self, method: str, url: str, headers: Mapping[str, str] | None, post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        if self._async is None:
            self._async = self._configured(ClientBuilder()).build()
        try:
            request = self._async.request(method.upper(), url).headers(headers or {})
            response = await request.body_bytes(_body(post_data)).build().send()
            return bytes(await response.bytes()), response.status, response.headers
        except (PyreqwestError, ValueError) as exc:
            raise self._connection_error(exc) from exc

    def sleep_async(self, secs: float) -> Any:
        return asyncio.sleep(secs)

    def close(self) -> None:
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    async def close_async(self) -> None:
        if self._async is not None:
            await self._async.close()
            self._async = None


def _body(post_data: object) -> bytes:
    if isinstance(post_data, str):
        return post_data.encode()
    return post_data if isinstance(post_data, bytes) else b""


def _api_key(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.startswith(("sk_", "rk_")):
        raise ConfigurationError(
            f"{name} must be a Stripe secret key (sk_test_... or sk_live_...);"
            " find it in the Stripe dashboard under Developers > API keys"
        )
    return value


def _url(value: str | None, name: str, example: str) -> str | None:
    """An http(s) URL with a host, or None; refused here rather than at the first request."""
    if value is None:
        return None
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises ValueError for a port that is not a number
    except (TypeError, ValueError):  # or not a string at all
        parts = None
    credentials = parts is not None and (parts.username or parts.password)
    if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname or credentials:
        # The value itself is not repeated: a URL may hold a password.
        raise ConfigurationError(
            f"{name} must be an http:// or https:// URL with a host and no credentials,"
            f" such as {example}"
        )
    return value


def _number(value: object, kind: type[N]) -> N | None:
    """`value` as a `kind`, from a number or from the text of an environment variable."""
    if isinstance(value, str):
        try:
            return kind(value)
        except ValueError:
            return None
    if isinstance(value, int | float) and not isinstance(value, bool) and kind(value) == value:
        return kind(value)
    return None


def _timeout(value: object, name: str) -> float:
    seconds = _number(value, float)
    if seconds is None or not 0 < seconds <= MAX_TIMEOUT:
        raise ConfigurationError(
            f"{name} must be a number of seconds above 0 and at most {MAX_TIMEOUT:g}"
        )
    return seconds


def _count(value: object, name: str, *, least: int) -> int:
    count = _number(value, int)
    if count is None or count < least:
        raise ConfigurationError(f"{name} must be a whole number, at least {least}")
    return count


@functools.cache
def _pem(path: str) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read the CA certificates stripe.ca_bundle_path names ({exc.strerror})"
        ) from None


@attrs.frozen
class _Settings:
    """How the transport reaches Stripe: the same for both twins."""

    timeout: float
    max_connections: int
    proxy: str | None
    # PEM certificates trusted besides the system's: the SDK's bundle (stripe.ca_bundle_path).
    extra_roots: bytes


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
        proxy: str | None = None,
        allow_raw_card_data: bool = False,
    ) -> None:
        _api_key(api_key, "api_key")
        _url(api_base, "api_base", API_BASE_EXAMPLE)
        _timeout(timeout, "timeout")
        _count(max_network_retries, "max_network_retries", least=0)
        _count(max_connections, "max_connections", least=1)
        _url(proxy, "proxy", PROXY_EXAMPLE)
        settings = _Settings(
            timeout=timeout,
            max_connections=max_connections,
            proxy=proxy,
            extra_roots=_pem(stripe.ca_bundle_path),
        )
        _guard_stripe_logger()
        self._key_kind = api_key[:8]  # "sk_test_" / "sk_live_": safe to show
        self.live = "_live_" in api_key[:8]
        self.allow_raw_card_data = allow_raw_card_data
        self.api_base = api_base
        self.timeout = timeout
        self.max_network_retries = max_network_retries
        self._transport = _Transport(settings)
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base} if api_base else None,
            max_network_retries=max_network_retries,
            http_client=self._transport,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Gateway:
        """A gateway from STRIPE_SECRET_KEY, STRIPE_API_BASE, PAYFLOW_STRIPE_TIMEOUT,
        PAYFLOW_STRIPE_MAX_RETRIES and PAYFLOW_ALLOW_RAW_CARD_DATA (docs/library.md); proxies
        from HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY."""
        env = os.environ if environ is None else environ
        api_base = env.get("STRIPE_API_BASE") or None
        api_key = env.get("STRIPE_SECRET_KEY")
        if not api_key:
            where = (
                "the secret key of the Stripe at STRIPE_API_BASE (any sk_test_... for a"
                " `payflow sandbox`)"
                if api_base
                else "your Stripe secret key (sk_test_...), or run a local sandbox with"
                " `payflow sandbox` and set STRIPE_API_BASE to the URL it prints"
            )
            raise ConfigurationError(f"STRIPE_SECRET_KEY is not set: export {where}")
        timeout = env.get("PAYFLOW_STRIPE_TIMEOUT", DEFAULT_TIMEOUT)
        retries = env.get("PAYFLOW_STRIPE_MAX_RETRIES", DEFAULT_MAX_RETRIES)
        return cls(
            _api_key(api_key, "STRIPE_SECRET_KEY"),
            api_base=_url(api_base, "STRIPE_API_BASE", API_BASE_EXAMPLE),
            timeout=_timeout(timeout, "PAYFLOW_STRIPE_TIMEOUT"),
            max_network_retries=_count(retries, "PAYFLOW_STRIPE_MAX_RETRIES", least=0),
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
