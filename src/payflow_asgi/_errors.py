"""Every failure as the error envelope: one table from error to HTTP status and message.

Starlette looks a handler up along `type(exc).__mro__`, so one handler serves the whole
`payflow.PayflowError` tree, and `STATUS` is searched along the MRO the same way. Messages come
from the catalog (`_messages`), in the language the client asked for, with the library's field
names turned into the spec's by the route's description. They never carry a value the client
sent, so a card number or CVC cannot be echoed back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol

from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import ExceptionHandler

import payflow
from payflow import webhooks

from ._messages import CATALOG, Language, negotiate, render
from ._present import Data, failure

__all__ = ["CODES", "STATUS", "Problem", "handlers", "language_of"]

logger = logging.getLogger("payflow_asgi")


class Problem(Exception):
    """A request the adapter refuses before the library sees it: its status, its stable code,
    and the catalog key of its message (the code, unless said otherwise)."""

    def __init__(
        self,
        status: int,
        code: str,
        key: str | None = None,
        *,
        field: str | None = None,
        params: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.key = key or code
        self.field = field
        self.params = params or {}


# The one table: error class -> (HTTP status, the message when nothing more precise applies).
STATUS: Final[Mapping[type[payflow.PayflowError], tuple[int, str]]] = {
    payflow.InvalidRequest: (400, "error.invalid_request"),
    payflow.InvalidAmount: (400, "error.invalid_amount"),
    payflow.StripeRejected: (400, "error.stripe_rejected"),
    payflow.CardDeclined: (402, "error.card_declined"),
    payflow.NotFound: (404, "error.not_found"),
    payflow.Conflict: (409, "error.conflict"),
    payflow.IdempotencyConflict: (409, "error.idempotency_conflict"),
    payflow.ConfigurationError: (502, "error.configuration_error"),
    payflow.RawCardDataRefused: (403, "error.raw_card_data_refused"),
    payflow.AuthenticationFailed: (502, "error.configuration_error"),
    payflow.RateLimited: (503, "error.rate_limited"),
    payflow.StripeUnavailable: (503, "error.stripe_unavailable"),
    payflow.StripeTimeout: (504, "error.stripe_timeout"),
    payflow.StripeServerError: (502, "error.stripe_error"),
    payflow.StripeFailure: (502, "error.stripe_error"),
    webhooks.SignatureMissing: (400, "error.signature_missing"),
    webhooks.SignatureInvalid: (400, "error.signature_invalid"),
    webhooks.SignatureExpired: (400, "error.signature_expired"),
    webhooks.NotAnEvent: (400, "error.not_an_event"),
    webhooks.EventInProgress: (409, "error.event_in_progress"),
    webhooks.HandlerFailed: (500, "error.handler_failed"),
    # Every error payflow raises is one of the above; this is a last resort.
    payflow.PayflowError: (500, "error.internal_error"),
}

# Starlette's own refusals: no route for the path, or not this method.
_HTTP: Final[Mapping[int, str]] = {404: "route_not_found", 405: "method_not_allowed"}

# Every error code an answer can carry (the OpenAPI document lists them).
CODES: Final = (
    *dict.fromkeys(cls.code for cls in STATUS),
    "invalid_json",
    "payload_too_large",
    "unsupported_media_type",
    "client_disconnected",
    "unauthorized",
    "webhooks_disabled",
    *_HTTP.values(),
    "http_error",
    "internal_error",
    # What `payflow serve` refuses before the app sees a request.
    *(key.removeprefix("refusal.") for key in CATALOG if key.startswith("refusal.")),
)


class RouteFields(Protocol):
    """What the route that failed says of its fields (`_routes.Route`)."""

    def spec_name(self, name: str) -> str: ...

    def argument(self, name: str) -> str | None: ...

    @property
    def rejected(self) -> Mapping[str, str]: ...


def language_of(connection: HTTPConnection, default: Language) -> Language:
    """The language of the answer, from the request's Accept-Language headers."""
    return negotiate(", ".join(connection.headers.getlist("accept-language")), default)


def status_of(exc: payflow.PayflowError) -> tuple[int, str]:
    """The HTTP status and default message key of a payflow error, found along its MRO."""
    return next(STATUS[cls] for cls in type(exc).__mro__ if cls in STATUS)


def _route_fields(request: Request) -> RouteFields | None:
    """The description of the API route that failed (None on /health, or without a route)."""
    spec = getattr(request.scope.get("route"), "spec", None)
    return spec if hasattr(spec, "spec_name") else None


def _message(
    exc: payflow.PayflowError,
    default: str,
    field: str | None,
    argument: str | None,
    rejected: Mapping[str, str],
    language: Language,
) -> tuple[str, dict[str, Any]]:
    """The catalog key and parameters of the message for `exc`."""
    params: dict[str, Any] = {"field": field}
    if isinstance(exc, payflow.Conflict) and not isinstance(exc, payflow.IdempotencyConflict):
        key = f"conflict.{exc.stripe_code}"
        return (key if key in CATALOG else default), params
    if isinstance(exc, payflow.NotFound) and field is not None:
        example = payflow.rules.ID_EXAMPLES.get(argument or "")
        if example is not None:
            kind = render(f"object.{example.split('_', 1)[0]}", language)
            return "error.not_found_field", {**params, "object": kind}
        return default, params
    if field is None:
        return default, params
    if isinstance(exc, payflow.StripeRejected):
        return rejected.get(field, "error.stripe_rejected_field"), params
    if isinstance(exc, payflow.InvalidRequest) and exc.rule is not None:
        return f"rule.{exc.rule}", {**exc.params, **params}
    return default, params


def handlers(default: Language) -> Mapping[type[Exception], ExceptionHandler]:
    """The app's exception handlers, answering in `default` unless the client asks otherwise."""

    async def payflow_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, payflow.PayflowError)
        language = language_of(request, default)
        status, default_key = status_of(exc)
        fields = _route_fields(request)
        field = exc.field if fields is None or exc.field is None else fields.spec_name(exc.field)
        argument = None if fields is None or field is None else fields.argument(field)
        error: Data = {"code": exc.code}
        if field is not None:
            error["field"] = field
        if isinstance(exc, payflow.CardDeclined) and exc.decline_code:
            error["decline_code"] = exc.decline_code
        if isinstance(exc, payflow.StripeFailure) and exc.request_id:
            error["request_id"] = exc.request_id
        if isinstance(exc, webhooks.HandlerFailed):
            # The embedding app's bug or outage: its traceback is what the operator needs.
            logger.error("%s on %s", exc, request.url.path, exc_info=exc.__cause__)
        elif status >= 500:
            logger.warning("%s on %s: %r", type(exc).__name__, request.url.path, exc)
        rejected = {} if fields is None else fields.rejected
        key, params = _message(exc, default_key, field, argument, rejected, language)
        return failure(status, render(key, language, params), error, language)

    async def problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        language = language_of(request, default)
        error: Data = {"code": exc.code}
        if exc.field is not None:
            error["field"] = exc.field
        message = render(exc.key, language, {**exc.params, "field": exc.field})
        return failure(exc.status, message, error, language)

    async def http_exception(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        language = language_of(request, default)
        code = _HTTP.get(exc.status_code, "http_error")
        allow = (exc.headers or {}).get("Allow")
        key = code if code != "method_not_allowed" or allow else "http_error"
        message = render(key, language, {"allow": allow})
        return failure(exc.status_code, message, {"code": code}, language, exc.headers)

    async def unexpected(request: Request, exc: Exception) -> Response:
        # A bug, never the client's doing (the tests show no client input gets here). Starlette
        # re-raises the exception after this response, so the server logs its traceback too.
        logger.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        language = language_of(request, default)
        message = render("error.internal_error", language)
        return failure(500, message, {"code": "internal_error"}, language)

    table: dict[type[Exception], Callable[[Request, Exception], Any]] = {
        payflow.PayflowError: payflow_error,
        Problem: problem,
        HTTPException: http_exception,
        Exception: unexpected,
    }
    return table
