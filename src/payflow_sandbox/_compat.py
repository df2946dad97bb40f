"""Compatibility layer: make localstripe 1.15.10 answer like real Stripe where payflow relies on it.

This module runs only inside the sandbox process (``python -m payflow_sandbox``); the ``payflow``
library never imports it, nor localstripe (GPL). It does not fork localstripe: it wraps a few
localstripe class methods and adds aiohttp middlewares in front of localstripe's ``app``.

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
   A request whose key is still in use by another one is refused (gap m), so a concurrent retry
   never executes twice.
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

j. Token reuse.
   localstripe: a card token can be attached again and again (``POST /v1/customers/{id}/sources``
   with the same ``source=tok_...``), each time as the same card.
   Stripe (API reference, "Tokens", https://docs.stripe.com/api/tokens: "You can't store or use
   tokens more than once"; "The Token object", ``used``; docs "Error codes",
   https://docs.stripe.com/error-codes, ``token_already_used``: "The token provided has already
   been used"): a token's second use is a 400 ``invalid_request_error`` with
   ``code: "token_already_used"`` and message ``You cannot use a Stripe token more than once:
   tok_x.``; ``used`` is false until the first use, then true. A use is a request given the
   token as ``source`` that succeeds (a card declined on attach does not use it up).
   Fix: ``token_middleware`` (localstripe binds its sources handler at import) and a wrapper
   around ``Token._api_create``.

k. Minimum and maximum amounts.
   localstripe: any PaymentIntent amount above 0: one cent, or a billion euros.
   Stripe (docs "Supported currencies" -> "Minimum and maximum charge amounts",
   https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts; docs "Error codes",
   ``amount_too_small``, ``amount_too_large``): an amount below ``MINIMUM_CHARGE`` is a 400
   ``invalid_request_error`` with ``code: "amount_too_small"``, ``param: "amount"`` and message
   ``Amount must be at least €0.50 eur``; above ``MAXIMUM_CHARGE`` (8 digits in minor units,
   99999999; 12 for IDR, 9 for INR) it is ``amount_too_large``, ``Amount must be no more than
   €999,999.99``. Stripe's minimum is the settlement currency's, after conversion; the sandbox
   has no exchange rates and settles every charge in its own currency, as an account with a
   bank account in each currency would: a listed currency's minimum applies to charges in that
   currency, any other currency's minimum is one minor unit. The larger maxima Stripe allows
   for card payments in LBP, COP, HUF and JPY are not reproduced (its page gives digit counts
   and examples that disagree). Checked where an amount is set: PaymentIntent create and update
   (confirming takes no amount).
   Fix: wrappers around ``PaymentIntent._api_create`` and ``PaymentIntent._api_update``.

l. Three-decimal currencies.
   localstripe: any amount.
   Stripe (docs "Supported currencies" -> "Three-decimal currencies",
   https://docs.stripe.com/currencies#three-decimal): Payment Intents and Refunds in BHD, JOD,
   KWD, OMR and TND "require the least-significant (last) digit to be 0" (5.124 KWD is sent as
   5120 or 5130). The page does not give the refusal's code; the sandbox answers a 400
   ``invalid_request_error`` with ``param: "amount"`` and ``code: "invalid_charge_amount"``
   (docs "Error codes": "The specified amount is invalid").
   Fix: the wrappers of gap k, and ``Refund._api_create``'s (gaps a + b).

m. Concurrent requests with one idempotency key.
   localstripe: no idempotency (gap c first queued same-key requests one after the other).
   Stripe (API reference, "Idempotent requests", https://docs.stripe.com/api/idempotent_requests:
   no result is saved when "the request conflicts with another request that's executing
   concurrently"; docs "Error codes", ``idempotency_key_in_use``: "The idempotency key provided
   is currently being used in another request"): while a request with a key executes, another
   with the same key (and API key) is a 409 ``invalid_request_error`` with
   ``code: "idempotency_key_in_use"``; nothing is saved for it, and once the first is done a
   retry gets the first's answer replayed. (stripe-python retries a 409 with its backoff when
   ``max_network_retries`` allows: ``HTTPClient._should_retry``.)
   Fix: ``idempotency_middleware`` keeps the keys in flight; ``_hold`` lets a test keep a
   request in flight.

n. API keys.
   localstripe: any key that starts with ``sk_`` (a live ``sk_live_...`` too), no restricted
   key, and ``401 Unauthorized`` without Stripe's message.
   Stripe (API reference, "Authentication", https://docs.stripe.com/api/authentication: "Test
   mode secret keys have the prefix sk_test_ and live mode secret keys have the prefix sk_live_.
   Alternatively, you can use restricted API keys", given as the Basic auth user name or as a
   Bearer token; docs "API keys", https://docs.stripe.com/keys: "If a request doesn't include a
   valid key, Stripe returns an invalid request error"; API reference, "Errors",
   https://docs.stripe.com/api/errors: 401 "No valid API key provided"): the sandbox is test
   mode only. It takes a test secret key (``sk_test_...``) or a test restricted key
   (``rk_test_...``, all permissions) as Bearer (or Basic, as ``curl -u``) credentials, and
   answers any other key with a 401 ``invalid_request_error``, ``Invalid API Key provided:
   sk_test_****`` (only the kind of key: Stripe shows its last four characters, the sandbox
   none); a live key with a message saying so; a request with no key with Stripe's ``You did
   not provide an API key...``. Token creation with a publishable key in the body
   (``key=pk_...``, as Stripe.js sends) stays as localstripe has it.
   Fix: ``auth_middleware`` and ``server.get_api_key``.
"""

from __future__ import annotations

import base64
import contextvars
import hashlib
import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final
from urllib.parse import parse_qsl

from aiohttp import web
from localstripe import resources, server
from localstripe.errors import UserError

from ._hold import hold_middleware

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_Json = dict[str, Any]

# --------------------------------------------------------------------------------------------
# Amounts in errors
# --------------------------------------------------------------------------------------------

# Stripe's zero-decimal currencies (docs "Supported currencies" -> "Zero-decimal currencies").
_ZERO_DECIMAL: Final = frozenset(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()
)
# https://docs.stripe.com/currencies#three-decimal
THREE_DECIMAL: Final = frozenset("bhd jod kwd omr tnd".split())
_SYMBOLS: Final = {"eur": "€", "usd": "$", "gbp": "£", "jpy": "¥", "inr": "₹", "krw": "₩"}


def _value(amount: int, code: str) -> str:
    if code in _ZERO_DECIMAL:
        return f"{amount:,}"
    if code in THREE_DECIMAL:
        return f"{Decimal(amount) / 1000:,.3f}"
    return f"{Decimal(amount) / 100:,.2f}"


def format_amount(amount: int, currency: str) -> str:
    """Format a minor-unit amount as Stripe does in its errors: ``€60.00``, ``$999,999.99``."""
    code = currency.lower()
    symbol = _SYMBOLS.get(code)
    value = _value(amount, code)
    return f"{symbol}{value}" if symbol else f"{value} {code.upper()}"


# --------------------------------------------------------------------------------------------
# k + l. Minimum and maximum amounts; three-decimal currencies
# --------------------------------------------------------------------------------------------

# Stripe's minimum charge per settlement currency, in minor units, copied from the table at
# https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts (never from payflow: the
# sandbox is the oracle payflow is tested against). Any other currency: one minor unit.
MINIMUM_CHARGE: Final[dict[str, int]] = {
    "usd": 50,     # $0.50
    "aed": 200,    # 2.00 د.إ
    "aud": 50,     # $0.50
    "bgn": 100,    # лв1.00
    "brl": 50,     # R$0.50
    "cad": 50,     # $0.50
    "chf": 50,     # 0.50 Fr
    "czk": 1500,   # 15.00Kč
    "dkk": 250,    # 2.50-kr.
    "eur": 50,     # €0.50
    "gbp": 30,     # £0.30
    "hkd": 400,    # $4.00
    "huf": 17500,  # 175.00 Ft
    "inr": 50,     # ₹0.50
    "jpy": 50,     # ¥50 (zero-decimal)
    "mxn": 1000,   # $10
    "myr": 200,    # RM 2
    "nok": 300,    # 3.00-kr.
    "nzd": 50,     # $0.50
    "pln": 200,    # 2.00 zł
    "ron": 200,    # lei2.00
    "sek": 300,    # 3.00-kr.
    "sgd": 50,     # $0.50
    "thb": 1000,   # ฿10
}  # fmt: skip
# The same page: "8 digits for all other currencies", 12 for IDR, 9 for INR.
MAXIMUM_CHARGE: Final[dict[str, int]] = {"idr": 999_999_999_999, "inr": 999_999_999}
DEFAULT_MAXIMUM_CHARGE: Final = 99_999_999


def check_amount(amount: int, currency: str) -> None:
    """Refuse, as Stripe does, a charge amount outside the currency's limits or digits."""
    code = currency.lower()
    minimum = MINIMUM_CHARGE.get(code, 1)
    if amount < minimum:
        symbol = _SYMBOLS.get(code, "")
        raise UserError(
            400,
            f"Amount must be at least {symbol}{_value(minimum, code)} {code}",
            {"code": "amount_too_small", "param": "amount"},
        )
    maximum = MAXIMUM_CHARGE.get(code, DEFAULT_MAXIMUM_CHARGE)
    if amount > maximum:
        raise UserError(
            400,
            f"Amount must be no more than {format_amount(maximum, code)}",
            {"code": "amount_too_large", "param": "amount"},
        )
    check_last_digit(amount, code)


def check_last_digit(amount: int, currency: str) -> None:
    """Refuse a three-decimal amount whose last digit is not 0."""
    code = currency.lower()
    if code in THREE_DECIMAL and amount % 10:
        raise UserError(
            400,
            f"Invalid amount: {code.upper()} amounts must end in 0 (the last of the three"
            f" decimals is not supported), so {amount} must be rounded to the nearest ten.",
            {"code": "invalid_charge_amount", "param": "amount"},
        )


def _checked_amount(data: dict[str, Any], currency: object) -> None:
    """Check ``data``'s amount if it has one localstripe would take; convert it to an int."""
    amount = resources.try_convert_to_int(data.get("amount"))
    if type(amount) is int and isinstance(currency, str) and currency:
        check_amount(amount, currency)
        data["amount"] = amount


def _create_payment_intent(original: Callable[..., Any]) -> Callable[..., Any]:
    def _api_create(cls: Any, /, **data: Any) -> Any:
        _checked_amount(data, data.get("currency"))
        return original(cls, **data)

    return _api_create


def _update_payment_intent(original: Callable[..., Any]) -> Callable[..., Any]:
    def _api_update(cls: Any, id: str, /, **data: Any) -> Any:
        if "amount" in data:
            intent = cls._api_retrieve(id)
            _checked_amount(data, data.get("currency", intent.currency))
        return original(cls, id, **data)

    return _api_update


# --------------------------------------------------------------------------------------------
# a + b. Refunds
# --------------------------------------------------------------------------------------------

REFUND_REASONS: Final = ("duplicate", "fraudulent", "requested_by_customer")


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
        if isinstance(amount, int):
            check_last_digit(amount, charge.currency)
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
    """Saved results, and the keys of the requests executing now, per (API key, Idempotency-Key)."""

    def __init__(self) -> None:
        self.saved: dict[tuple[str, str], _Saved] = {}
        self.in_flight: set[tuple[str, str]] = set()

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


def _key_in_use(idempotency_key: str) -> web.Response:
    """Gap m: Stripe's 409 for a key whose first request is still executing."""
    message = (
        "There is currently another in-progress request using this Idempotent Key (that "
        "probably means you submitted twice, and the other request is still going through): "
        f"'{idempotency_key}'. Please try again later."
    )
    error = {"type": "invalid_request_error", "code": "idempotency_key_in_use", "message": message}
    response: web.Response = server.json_response({"error": error}, status=409)
    return response


@web.middleware
async def idempotency_middleware(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """Gaps c and m: replay POSTs retried with the same ``Idempotency-Key``; refuse one whose
    key is in use by a request still executing."""
    if request.method == "DELETE" and request.path == "/_config/data":
        _idempotency.saved.clear()
    idempotency_key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or not idempotency_key:
        return await handler(request)

    key = (_api_key(request), idempotency_key)
    fingerprint = await _fingerprint(request)
    # No await from here to the in-flight mark: a request is either replayed, refused as
    # concurrent (gap m), or the one that executes.
    saved = _idempotency.get(key)
    if saved is not None:
        if saved.fingerprint != fingerprint:
            return _idempotency_error(idempotency_key)
        replay = web.Response(status=saved.status, body=saved.body, content_type=saved.content_type)
        replay.headers["Idempotency-Key"] = idempotency_key
        replay.headers["Idempotent-Replayed"] = "true"
        return replay
    if key in _idempotency.in_flight:
        return _key_in_use(idempotency_key)

    _idempotency.in_flight.add(key)
    try:
        response = await handler(request)
    finally:
        _idempotency.in_flight.discard(key)
    response.headers["Idempotency-Key"] = idempotency_key
    if (
        isinstance(response, web.Response)
        and isinstance(response.body, bytes)
        and (response.status < 300 or response.status == 402)
    ):
        _idempotency.saved[key] = _Saved(
            fingerprint, response.status, response.body, response.content_type, time.monotonic()
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
# j. Token reuse
# --------------------------------------------------------------------------------------------


def _create_token(original: Callable[..., Any]) -> Callable[..., Any]:
    def _api_create(cls: Any, /, **data: Any) -> Any:
        token = original(cls, **data)
        token.used = False
        return token

    return _api_create


async def _params(request: web.Request) -> dict[str, str]:
    """The request's top-level string parameters, form-encoded or JSON."""
    body = await request.read()
    if request.content_type == "application/json":
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            return {}
        if not isinstance(data, dict):
            return {}
        return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}
    return dict(parse_qsl(body.decode("utf-8", "replace")))


@web.middleware
async def token_middleware(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """Gap j: a token given as ``source`` is used once; its second use is refused."""
    if request.method != "POST" or not request.path.startswith("/v1/"):
        return await handler(request)
    source = (await _params(request)).get("source", "")
    token = resources.store.get("token:" + source) if source.startswith("tok_") else None
    if token is None:
        return await handler(request)
    if getattr(token, "used", False):
        refused: web.Response = UserError(
            400,
            f"You cannot use a Stripe token more than once: {source}.",
            {"code": "token_already_used"},
        ).to_response()
        return refused
    response = await handler(request)
    if response.status < 300:
        token.used = True
    return response


# --------------------------------------------------------------------------------------------
# n. API keys
# --------------------------------------------------------------------------------------------

_TEST_KEY: Final = re.compile(r"(?:sk|rk)_test_\S+")
_LIVE_KEY: Final = re.compile(r"(?:sk|rk|pk)_live_")
_KEY_KIND: Final = re.compile(r"(?:sk|rk|pk)_(?:test|live)_")


def _presented_key(request: web.Request) -> str | None:
    """The API key in the Authorization header (Bearer, or Basic with the key as user name)."""
    scheme, _, credentials = request.headers.get("Authorization", "").strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer":
        return credentials
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(credentials, validate=True).decode().partition(":")[0]
        except ValueError:
            return ""
    return None if not scheme else ""


def _test_key(request: web.Request) -> str | None:
    """Replaces localstripe's ``get_api_key``: a test secret or restricted key, or None."""
    key = _presented_key(request)
    return key if key is not None and _TEST_KEY.fullmatch(key) else None


def _unauthorized(message: str) -> web.Response:
    response: web.Response = server.json_response(
        {"error": {"type": "invalid_request_error", "message": message}}, status=401
    )
    return response


_NO_KEY: Final = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY')."
)


@web.middleware
async def auth_middleware(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """Gap n: only test keys; Stripe's 401 for any other key, or none."""
    if not request.path.startswith("/v1/"):
        return await handler(request)
    key = _presented_key(request)
    if key is None:
        # No Authorization: localstripe decides (a publishable key in a token request's body).
        response = await handler(request)
        return _unauthorized(_NO_KEY) if response.status == 401 else response
    if _TEST_KEY.fullmatch(key):
        return await handler(request)
    if _LIVE_KEY.match(key):
        return _unauthorized(
            "The payflow sandbox is test mode only and refuses live mode keys (sk_live_...):"
            " use a test key such as sk_test_sandbox. A live key belongs to api.stripe.com"
            " alone; if this one was sent here by mistake, consider rolling it."
        )
    kind = _KEY_KIND.match(key)
    shown = (kind[0] if kind else "") + "****"
    return _unauthorized(f"Invalid API Key provided: {shown}")


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

    intent = resources.PaymentIntent
    intent._api_create = classmethod(
        _create_payment_intent(intent.__dict__["_api_create"].__func__)
    )
    intent._api_update = classmethod(
        _update_payment_intent(stripe_object.__dict__["_api_update"].__func__)
    )

    token = resources.Token
    token._api_create = classmethod(_create_token(stripe_object.__dict__["_api_create"].__func__))

    # localstripe's auth_middleware looks get_api_key up when it runs: test keys only (n).
    server.get_api_key = _test_key

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

    intent._export = _export_payment_intent(intent._export)

    # Outermost first: every answer gets a request id, keys are checked before anything else,
    # idempotency saves the already rewritten card errors, and a held request holds its key.
    app.middlewares.insert(0, confirm_state_middleware)
    app.middlewares.insert(0, token_middleware)
    app.middlewares.insert(0, missing_param_middleware)
    app.middlewares.insert(0, card_error_middleware)
    app.middlewares.insert(0, hold_middleware)
    app.middlewares.insert(0, idempotency_middleware)
    app.middlewares.insert(0, auth_middleware)
    app.middlewares.insert(0, request_id_middleware)
