"""Compatibility layer: make localstripe 1.15.10 answer like real Stripe where payflow relies on it.

This module runs only inside the sandbox process (``python -m payflow_sandbox``); the ``payflow``
library never imports it, nor localstripe (GPL). It does not fork localstripe: it wraps a few
localstripe class methods and adds two aiohttp middlewares in front of localstripe's ``app``.

Each gap below names the localstripe behaviour, the real Stripe behaviour reproduced (with the
Stripe documentation it comes from) and the test in ``tests/payflow_sandbox/test_stripe_compat.py``.

a. Refund ``reason``.
   localstripe: ``POST /v1/refunds`` with ``reason`` -> ``400 Unexpected reason``.
   Stripe (API reference, "Create a refund", ``reason``): accepts ``duplicate``, ``fraudulent``
   or ``requested_by_customer`` and returns it as ``reason`` on the refund, on creation and on
   retrieval (``null`` when not given); any other value is a 400 ``invalid_request_error`` with
   ``param: "reason"``.
   Fix: wrapper around ``Refund._api_create``.

b. Refund amounts.
   localstripe: a refund may exceed the charge, a fully refunded charge can be refunded again,
   and a refund without ``amount`` refunds the whole charge amount again.
   Stripe (API reference, "Create a refund" / docs "Refunds"): without ``amount`` it refunds what
   remains unrefunded; an amount above that is a 400 ``invalid_request_error`` with
   ``param: "amount"`` and message ``Refund amount (€60.00) is greater than unrefunded amount on
   charge (€50.00)``; refunding a fully refunded charge is a 400 ``invalid_request_error`` with
   ``code: "charge_already_refunded"`` and message ``Charge ch_x has already been refunded.``.
   The charge's ``amount_refunded`` and ``refunded`` (computed by localstripe from its refunds)
   therefore stay consistent.
   Fix: the same wrapper around ``Refund._api_create``.

c. Idempotent requests.
   localstripe: ignores the ``Idempotency-Key`` header.
   Stripe (API reference, "Idempotent requests"): a POST retried with the same key (per API key)
   returns the saved result of the first one (same status and body) with the header
   ``Idempotent-Replayed: true``; the same key with different parameters is a 400 with error type
   ``idempotency_error`` (the SDK raises ``stripe.IdempotencyError``); keys expire after 24 hours;
   results are saved only once the endpoint started executing (we save 2xx and 402 answers:
   localstripe's other 4xx are parameter validation failures, which Stripe does not save).
   Requests with the same key are serialised, so a concurrent retry never executes twice.
   Fix: ``idempotency_middleware``.

d. Card declines.
   localstripe: declines with HTTP 402 but error type ``invalid_request_error``, always
   ``code: "card_declined"``, no ``decline_code``; it declines the cards 4000000000000002,
   ...9995, ...9987, ...9979, ...0069, ...0127, ...0119 and 4242424242424241 when they are
   attached to a customer (``POST /v1/customers/{id}/sources``, payment method attach), but
   charges them successfully when they are used without being attached (e.g. a PaymentIntent
   with ``payment_method=pm_card_visa_chargeDeclined``); it declines 4000000000000341 on charge.
   Stripe (docs "Testing" -> "Declined payments", docs "Error codes", "Decline codes"): HTTP 402,
   ``type: "card_error"``, the card's error code (``card_declined``, ``expired_card``,
   ``incorrect_cvc``, ``processing_error``, ``incorrect_number``), its ``decline_code``
   (``generic_decline``, ``insufficient_funds``, ``lost_card``, ``stolen_card``) and message
   (``Your card was declined.``, ``Your card has insufficient funds.``...); errors from a
   PaymentIntent also carry the ``payment_intent``, whose ``last_payment_error`` has the same
   type, code and decline code. The SDK raises ``stripe.CardError``.
   Fix: wrappers around ``PaymentMethod._attaching_is_declined``/``_charging_is_declined`` (a
   card that is declined on attach is declined on charge too, and the declined card number is
   remembered for the request) and ``Charge._set_auth_failure``; ``card_error_middleware``
   rewrites the 402 body.

e. ``latest_charge`` expansion.
   localstripe: always returns the PaymentIntent's ``latest_charge`` as a full charge object.
   Stripe (API reference, "Expanding responses"): ``latest_charge`` is the charge id unless the
   request asked for ``expand[]=latest_charge``.
   Fix: wrapper around ``PaymentIntent._export``.

f. Unknown ids.
   localstripe: ``404 {"error": {"message": "Not Found", "type": "invalid_request_error"}}``.
   Stripe (docs "Error codes", ``resource_missing``): 404 ``invalid_request_error`` with
   ``code: "resource_missing"`` and message ``No such customer: 'cus_x'``.
   Fix: wrapper around ``StripeObject._api_retrieve``.

g. Confirming a PaymentIntent in the wrong state.
   localstripe: ``400 {"error": {"message": "Bad request", ...}}`` with no code.
   Stripe (docs "Error codes", ``payment_intent_unexpected_state``): 400
   ``invalid_request_error`` with ``code: "payment_intent_unexpected_state"`` and a message
   naming the status, e.g. confirming a PaymentIntent that already succeeded.
   Fix: ``confirm_state_middleware``.

h. Request ids.
   localstripe: no ``Request-Id`` header.
   Stripe (API reference, "Request IDs"): every answer, success or error, carries a unique
   ``Request-Id: req_...`` header (the SDK's ``request_id``; payflow logs it).
   Fix: ``request_id_middleware``.

i. Which id was not found.
   localstripe: an unknown id, in the URL or in a parameter, is a 404 without ``param``.
   Stripe (API reference, "Errors": ``param`` names "the parameter the error relates to"; docs
   "Error codes", ``resource_missing``): an unknown id in the URL is a 404 with ``param: "id"``;
   an unknown id given as a parameter (``source``, ``customer``, ``payment_method``,
   ``charge``) is a 400 ``resource_missing`` naming that parameter.
   Fix: ``missing_param_middleware``.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import json
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final
from urllib.parse import parse_qsl

from aiohttp import web
from localstripe import resources, server
from localstripe.errors import UserError

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_Json = dict[str, Any]

# --------------------------------------------------------------------------------------------
# a + b. Refunds
# --------------------------------------------------------------------------------------------

REFUND_REASONS: Final = ("duplicate", "fraudulent", "requested_by_customer")

# Stripe's zero-decimal currencies (docs "Supported currencies" -> "Zero-decimal currencies").
_ZERO_DECIMAL: Final = frozenset(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()
)
_SYMBOLS: Final = {"eur": "€", "usd": "$", "gbp": "£", "jpy": "¥", "inr": "₹", "krw": "₩"}


def format_amount(amount: int, currency: str) -> str:
    """Format a minor-unit amount as Stripe does in refund errors: ``€60.00``, ``$0.50``."""
    code = currency.lower()
    value = str(amount) if code in _ZERO_DECIMAL else f"{Decimal(amount) / 100:.2f}"
    symbol = _SYMBOLS.get(code)
    return f"{symbol}{value}" if symbol else f"{value} {code.upper()}"


def _charge_to_refund(data: _Json) -> Any:
    """The charge a refund request targets, or None to let localstripe report the error."""
    charge_id = data.get("charge")
    if isinstance(charge_id, str):
        return resources.store.get("charge:" + charge_id)
    intent_id = data.get("payment_intent")
    if isinstance(intent_id, str):
        intent = resources.store.get("payment_intent:" + intent_id)
        return None if intent is None else intent.latest_charge
    return None


def _create_refund(cls: Any, /, reason: Any = None, **data: Any) -> Any:
    if reason is not None and reason not in REFUND_REASONS:
        raise UserError(
            400,
            "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer",
            {"param": "reason"},
        )
    charge = _charge_to_refund(data)
    if charge is not None and charge.status == "succeeded":
        unrefunded = charge.amount - charge.amount_refunded
        if unrefunded <= 0:
            raise UserError(
                400,
                f"Charge {charge.id} has already been refunded.",
                {"code": "charge_already_refunded"},
            )
        amount = resources.try_convert_to_int(data.get("amount"))
        if amount is None:
            data["amount"] = unrefunded
        elif isinstance(amount, int) and amount > unrefunded:
            raise UserError(
                400,
                f"Refund amount ({format_amount(amount, charge.currency)}) is greater than "
                f"unrefunded amount on charge ({format_amount(unrefunded, charge.currency)})",
                {"param": "amount"},
            )
    refund = cls(**data)
    refund.reason = reason
    return refund


# --------------------------------------------------------------------------------------------
# g. Confirming in the wrong state
# --------------------------------------------------------------------------------------------

_CONFIRMABLE: Final = frozenset(
    {"requires_payment_method", "requires_confirmation", "requires_action"}
)
_CONFIRM_PATH: Final = re.compile(r"/v1/payment_intents/(pi_\w+)/confirm")


@web.middleware
async def confirm_state_middleware(request: web.Request, handler: _Handler) -> web.StreamResponse:
    # localstripe binds its confirm handler at import, so the check sits in front of it.
    match = _CONFIRM_PATH.fullmatch(request.path)
    if request.method == "POST" and match:
        try:
            status = resources.PaymentIntent._api_retrieve(match[1]).status
        except UserError:
            return await handler(request)  # unknown id: localstripe answers the 404
        if status not in _CONFIRMABLE:
            error = UserError(
                400,
                f"You cannot confirm this PaymentIntent because it has a status of {status}.",
                {"code": "payment_intent_unexpected_state"},
            )
            response: web.StreamResponse = error.to_response()
            return response
    return await handler(request)


# --------------------------------------------------------------------------------------------
# d. Declines
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decline:
    """How Stripe reports a declined test card."""

    code: str
    decline_code: str | None
    message: str


_DECLINED: Final = "Your card was declined."
GENERIC_DECLINE: Final = Decline("card_declined", "generic_decline", _DECLINED)

# Stripe docs "Testing" -> "Declined payments", restricted to the cards localstripe declines.
DECLINES: Final[dict[str, Decline]] = {
    "4000000000000002": GENERIC_DECLINE,
    "4000000000009995": Decline(
        "card_declined", "insufficient_funds", "Your card has insufficient funds."
    ),
    "4000000000009987": Decline("card_declined", "lost_card", _DECLINED),
    "4000000000009979": Decline("card_declined", "stolen_card", _DECLINED),
    "4000000000000069": Decline("expired_card", None, "Your card has expired."),
    "4000000000000127": Decline("incorrect_cvc", None, "Your card's security code is incorrect."),
    "4000000000000119": Decline(
        "processing_error",
        None,
        "An error occurred while processing your card. Try again in a little bit.",
    ),
    "4242424242424241": Decline("incorrect_number", None, "Your card number is incorrect."),
    "4000000000000341": GENERIC_DECLINE,
    "4000008260003178": Decline(
        "card_declined", "insufficient_funds", "Your card has insufficient funds."
    ),
    "4000008400001629": GENERIC_DECLINE,
}

# The number of the card localstripe declined while handling the current request.
_declined_card: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "payflow_sandbox_declined_card", default=None
)


def _decline_for(payment_method: Any) -> Decline:
    number = getattr(payment_method, "_card_number", None)
    return DECLINES.get(number, GENERIC_DECLINE) if isinstance(number, str) else GENERIC_DECLINE


def _remember(payment_method: Any, declined: bool) -> bool:
    number = getattr(payment_method, "_card_number", None)
    if declined and isinstance(number, str):
        _declined_card.set(number)
    return declined


def _charge_decline(charge: Any) -> Decline:
    decline = getattr(charge, "_payflow_decline", None)
    return decline if isinstance(decline, Decline) else GENERIC_DECLINE


def _error_body(decline: Decline, charge_id: str | None) -> _Json:
    error: _Json = {
        "type": "card_error",
        "code": decline.code,
        "message": decline.message,
        "doc_url": "https://stripe.com/docs/error-codes/" + decline.code.replace("_", "-"),
    }
    if decline.decline_code is not None:
        error["decline_code"] = decline.decline_code
    if charge_id is not None:
        error["charge"] = charge_id
    return error


def _card_error(localstripe_error: _Json) -> _Json:
    """Rewrite a localstripe 402 error as the ``card_error`` Stripe returns."""
    charge_id = localstripe_error.get("charge")
    charge = resources.store.get("charge:" + charge_id) if isinstance(charge_id, str) else None
    if charge is not None:
        decline = _charge_decline(charge)
    else:
        decline = DECLINES.get(_declined_card.get() or "", GENERIC_DECLINE)
    error = _error_body(decline, charge_id if isinstance(charge_id, str) else None)
    intent_id = getattr(charge, "payment_intent", None)
    if isinstance(intent_id, str):
        intent = resources.store.get("payment_intent:" + intent_id)
        if intent is not None:
            error["payment_intent"] = intent._export()
    return error


# --------------------------------------------------------------------------------------------
# e. latest_charge; d. last_payment_error
# --------------------------------------------------------------------------------------------


def _expands(expand: Any, field: str) -> bool:
    return isinstance(expand, list) and any(
        isinstance(path, str) and (path == field or path.startswith(field + ".")) for path in expand
    )


def _export_payment_intent(original: Callable[..., _Json]) -> Callable[..., _Json]:
    def _export(self: Any, expand: Any = None) -> _Json:
        obj = original(self, expand=expand)
        latest = obj.get("latest_charge")
        if isinstance(latest, dict) and not _expands(expand, "latest_charge"):
            obj["latest_charge"] = latest["id"]
        error = obj.get("last_payment_error")
        if isinstance(error, dict) and isinstance(error.get("charge"), str):
            charge = resources.store.get("charge:" + error["charge"])
            error.update(_error_body(_charge_decline(charge), error["charge"]))
        return obj

    return _export


# --------------------------------------------------------------------------------------------
# f. Unknown ids
# --------------------------------------------------------------------------------------------


def _retrieve(original: Callable[[Any, str], Any]) -> Callable[[Any, str], Any]:
    def _api_retrieve(cls: Any, id: str) -> Any:
        try:
            return original(cls, id)
        except UserError as e:
            error = e.body["error"]
            if e.code == 404 and "code" not in error:
                error["code"] = "resource_missing"
                error["message"] = f"No such {cls.object}: '{id}'"
            raise

    return _api_retrieve


# --------------------------------------------------------------------------------------------
# c. Idempotency
# --------------------------------------------------------------------------------------------

IDEMPOTENCY_KEY_TTL: Final = 24 * 60 * 60.0


@dataclass(frozen=True)
class _Saved:
    fingerprint: str
    status: int
    body: bytes
    content_type: str
    saved_at: float


class _Idempotency:
    """Saved results and per-key locks, keyed by (API key, Idempotency-Key)."""

    def __init__(self) -> None:
        self.saved: dict[tuple[str, str], _Saved] = {}
        self._locks: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def lock(self, key: tuple[str, str]) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def get(self, key: tuple[str, str]) -> _Saved | None:
        saved = self.saved.get(key)
        if saved is not None and time.monotonic() - saved.saved_at > IDEMPOTENCY_KEY_TTL:
            del self.saved[key]
            return None
        return saved


_idempotency = _Idempotency()


def _api_key(request: web.Request) -> str:
    try:
        key = server.get_api_key(request)
    except Exception:  # localstripe fails on unknown Authorization schemes
        key = None
    return key if isinstance(key, str) else request.headers.get("Authorization", "")


async def _fingerprint(request: web.Request) -> str:
    body = await request.read()
    params: Any
    if request.content_type == "application/json" and body:
        try:
            params = json.loads(body)
        except ValueError:
            params = body.decode("utf-8", "replace")
    else:
        params = sorted(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    canonical = json.dumps(
        [request.method, request.path, sorted(request.query.items()), params], sort_keys=True
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _idempotency_error(idempotency_key: str) -> web.Response:
    message = (
        "Keys for idempotent requests can only be used with the same parameters they were "
        f"first used with. Try using a key other than '{idempotency_key}' if you meant to "
        "execute a different request."
    )
    response: web.Response = server.json_response(
        {"error": {"type": "idempotency_error", "message": message}}, status=400
    )
    return response


@web.middleware
async def idempotency_middleware(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """Gap c: replay POSTs retried with the same ``Idempotency-Key``."""
    if request.method == "DELETE" and request.path == "/_config/data":
        _idempotency.saved.clear()
    idempotency_key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or not idempotency_key:
        return await handler(request)

    key = (_api_key(request), idempotency_key)
    fingerprint = await _fingerprint(request)
    async with _idempotency.lock(key):
        saved = _idempotency.get(key)
        if saved is not None:
            if saved.fingerprint != fingerprint:
                return _idempotency_error(idempotency_key)
            replay = web.Response(
                status=saved.status, body=saved.body, content_type=saved.content_type
            )
            replay.headers["Idempotency-Key"] = idempotency_key
            replay.headers["Idempotent-Replayed"] = "true"
            return replay

        response = await handler(request)
        response.headers["Idempotency-Key"] = idempotency_key
        if (
            isinstance(response, web.Response)
            and isinstance(response.body, bytes)
            and (response.status < 300 or response.status == 402)
        ):
            _idempotency.saved[key] = _Saved(
                fingerprint,
                response.status,
                response.body,
                response.content_type,
                time.monotonic(),
            )
        return response


# --------------------------------------------------------------------------------------------
# d. Declines: the error body
# --------------------------------------------------------------------------------------------


@web.middleware
async def card_error_middleware(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """Gap d: turn localstripe's 402 ``invalid_request_error`` into Stripe's ``card_error``."""
    token = _declined_card.set(None)
    try:
        response = await handler(request)
        if response.status != 402 or not isinstance(response, web.Response):
            return response
        if not isinstance(response.body, bytes):
            return response
        body = json.loads(response.body)
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict) or error.get("type") != "invalid_request_error":
            return response
        rewritten: web.Response = server.json_response({"error": _card_error(error)}, status=402)
        return rewritten
    finally:
        _declined_card.reset(token)


# --------------------------------------------------------------------------------------------
# i. Which id was not found
# --------------------------------------------------------------------------------------------

_NO_SUCH: Final = re.compile(r"No such [a-z_]+: '([^']*)'")


@web.middleware
async def missing_param_middleware(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """Gap i: name the parameter (or the URL's ``id``) whose object does not exist."""
    response = await handler(request)
    if response.status != 404 or not isinstance(response, web.Response):
        return response
    body = json.loads(response.body) if isinstance(response.body, bytes) else None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or error.get("code") != "resource_missing":
        return response
    match = _NO_SUCH.fullmatch(str(error.get("message")))
    if match is None or "param" in error:
        return response
    missing = match.group(1)
    form = parse_qsl((await request.read()).decode("utf-8", "replace"))
    param = next((name for name, value in form if value == missing), None)
    if param is None and missing not in request.path.split("/"):
        return response
    # Stripe: a parameter's unknown id is a 400 naming it; the URL's is a 404 naming "id".
    status = 404 if param is None else 400
    named: web.Response = server.json_response(
        {"error": {**error, "param": param or "id"}}, status=status
    )
    return named


# --------------------------------------------------------------------------------------------
# h. Request ids
# --------------------------------------------------------------------------------------------


@web.middleware
async def request_id_middleware(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """Gap h: a unique ``Request-Id`` on every answer, replays included."""
    response = await handler(request)
    response.headers["Request-Id"] = f"req_{secrets.token_urlsafe(10)}"
    return response


# --------------------------------------------------------------------------------------------
# Installation
# --------------------------------------------------------------------------------------------

_installed = False


def install(app: web.Application) -> None:
    """Patch localstripe's classes and put the middlewares in front of localstripe's own."""
    global _installed
    if _installed:
        return
    _installed = True

    stripe_object = resources.StripeObject
    stripe_object._api_retrieve = classmethod(
        _retrieve(stripe_object.__dict__["_api_retrieve"].__func__)
    )

    resources.Refund._api_create = classmethod(_create_refund)

    payment_method = resources.PaymentMethod
    attaching_is_declined = payment_method._attaching_is_declined
    charging_is_declined = payment_method._charging_is_declined

    def _attaching(self: Any) -> bool:
        return _remember(self, bool(attaching_is_declined(self)))

    def _charging(self: Any) -> bool:
        # Stripe declines these test cards on charge too, not only when they are attached.
        declined = bool(charging_is_declined(self)) or bool(attaching_is_declined(self))
        return _remember(self, declined)

    payment_method._attaching_is_declined = _attaching
    payment_method._charging_is_declined = _charging

    charge = resources.Charge
    set_auth_failure = charge._set_auth_failure

    def _set_auth_failure(self: Any) -> None:
        set_auth_failure(self)
        decline = _decline_for(resources.PaymentMethod._api_retrieve(self.payment_method))
        self._payflow_decline = decline
        self.failure_code = decline.code
        self.failure_message = decline.message

    charge._set_auth_failure = _set_auth_failure

    intent = resources.PaymentIntent
    intent._export = _export_payment_intent(intent._export)

    # Outermost first: idempotency saves the already rewritten card errors.
    app.middlewares.insert(0, confirm_state_middleware)
    app.middlewares.insert(0, missing_param_middleware)
    app.middlewares.insert(0, card_error_middleware)
    app.middlewares.insert(0, idempotency_middleware)
    app.middlewares.insert(0, request_id_middleware)
