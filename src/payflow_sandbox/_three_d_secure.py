"""3-D Secure in the sandbox: the cards that ask for it, and a challenge page to click through.

Like ``_compat``, this runs only inside the sandbox process and patches localstripe 1.15.10 from
outside. What Stripe does, and how the sandbox does it (tests in
``tests/payflow_sandbox/test_three_d_secure.py``), point by point:

1. Cards that require authentication.
   Stripe (docs "Testing" -> "3D Secure authentication", https://docs.stripe.com/testing#regulatory-cards
   and #three-ds-cards): confirming a payment with one of ``AUTHENTICATION_REQUIRED`` answers
   ``status: "requires_action"``; every other card goes on without authentication.
   Fix: ``PaymentMethod._requires_authentication`` reads that table (localstripe's own list
   happens to agree today; the table keeps the sandbox tied to Stripe's page, not to it).

2. The next action.
   Stripe (API reference, "Confirm a PaymentIntent", ``return_url``; "The PaymentIntent object",
   ``next_action``; docs "3D Secure authentication" -> "Manually handle 3D Secure
   authentication"): with a ``return_url``, ``next_action`` is ``{"type": "redirect_to_url",
   "redirect_to_url": {"url": ..., "return_url": ...}}``, the url being Stripe's test page for the
   payment, with a button to complete and one to fail authentication; without one, it is
   ``{"type": "use_stripe_sdk", ...}`` for Stripe.js. Completing confirms the payment (it
   succeeds, with its charge, unless the card then declines); failing leaves it
   ``requires_payment_method`` with ``last_payment_error.code ==
   "payment_intent_authentication_failure"``. Either way the browser goes back to the
   ``return_url`` with ``payment_intent``, ``payment_intent_client_secret`` and
   ``redirect_status`` (``succeeded`` or ``failed``) added to its query.
   localstripe: refuses ``return_url`` (``400 Unexpected return_url``), always answers
   ``use_stripe_sdk``, and authenticates only through its Stripe.js stand-in.
   Fix: ``intent_middleware`` takes ``return_url`` and answers ``redirect_to_url`` to
   ``challenge_middleware``'s page, which finishes through ``PaymentIntent._api_authenticate``.

3. Confirming with another card.
   Stripe (API reference, "Confirm a PaymentIntent", ``payment_method``): a payment left
   ``requires_payment_method`` (failed authentication, a decline) is confirmed again with a
   new ``payment_method``. localstripe: ``500 Not implemented``.
   Fix: ``intent_middleware`` sets the payment method, then lets localstripe confirm.

4. Cancelling in the wrong state.
   Stripe (API reference, "Cancel a PaymentIntent"; docs "Error codes",
   ``payment_intent_unexpected_state``): only a PaymentIntent in one of ``CANCELABLE`` can be
   canceled; otherwise a 400 ``invalid_request_error`` with that code names the status.
   localstripe: ``400 Bad request`` without a code. Fix: ``intent_middleware``.
"""

from __future__ import annotations

import contextlib
import html
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, Final
from urllib.parse import urlencode, urlsplit

from aiohttp import web
from localstripe import resources, server
from localstripe.errors import UserError

from ._compat import format_amount
from ._server import CHALLENGE_PATH

__all__ = ["AUTHENTICATION_REQUIRED", "CANCELABLE", "CHALLENGE_PATH", "install"]

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# https://docs.stripe.com/testing#regulatory-cards and #three-ds-cards: the cards whose payments
# need authentication. ...3178 and ...1629 are then declined (insufficient_funds, card_declined).
AUTHENTICATION_REQUIRED: Final = frozenset(
    {
        "4000002500003155",  # authenticate unless set up
        "4000002760003184",  # always authenticate
        "4000008260003178",  # authenticate, then insufficient funds
        "4000000000003220",  # 3D Secure 2 required
        "4000000000003063",  # 3D Secure required
        "4000008400001629",  # 3D Secure required, then declined
    }
)

# https://docs.stripe.com/api/payment_intents/cancel
CANCELABLE: Final = (
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
    "processing",
)

_CHALLENGE: Final = re.compile(
    re.escape(CHALLENGE_PATH) + r"/(pi_\w+)/([\w-]+)(?:/(complete|fail))?"
)
_INTENT_ACTION: Final = re.compile(r"/v1/payment_intents/(pi_\w+)/(confirm|cancel)")
MERCHANT: Final = "payflow sandbox"


def _requires_authentication(self: Any) -> bool:
    return getattr(self, "_card_number", None) in AUTHENTICATION_REQUIRED


# --------------------------------------------------------------------------------------------
# 2, 3, 4. Confirm and cancel
# --------------------------------------------------------------------------------------------


def _return_url(value: object) -> str:
    if not isinstance(value, str) or urlsplit(value).scheme not in ("http", "https"):
        raise UserError(400, "Not a valid URL", {"param": "return_url"})
    return value


def _use_payment_method(intent: Any, payment_method: object) -> None:
    if not isinstance(payment_method, str):
        raise UserError(400, "Invalid payment_method", {"param": "payment_method"})
    resources.PaymentMethod._api_retrieve(payment_method)  # 404 resource_missing if unknown
    intent.payment_method = payment_method
    intent.next_action = None
    if intent.latest_charge is not None and intent.latest_charge.status == "failed":
        intent.latest_charge = None  # a new attempt: requires_confirmation again


def _redirect_to_url(request: web.Request, intent: Any, return_url: str) -> dict[str, Any]:
    # A fresh unguessable path per challenge; the client secret never goes into it.
    page = f"{CHALLENGE_PATH}/{intent.id}/{secrets.token_urlsafe(16)}"
    url = f"{request.url.origin()}{page}"
    return {"type": "redirect_to_url", "redirect_to_url": {"url": url, "return_url": return_url}}


async def _confirm(request: web.Request, intent_id: str) -> web.StreamResponse:
    # localstripe's own route, with return_url and payment_method taken out first.
    data = dict(await server.get_post_data(request) or {})
    data.update(server.unflatten_data(request.query) or {})
    expand = data.pop("expand", None)
    return_url = data.pop("return_url", None)
    if return_url is not None:
        return_url = _return_url(return_url)
    if "payment_method" in data:
        intent = resources.PaymentIntent._api_retrieve(intent_id)
        _use_payment_method(intent, data.pop("payment_method"))
    intent = resources.PaymentIntent._api_confirm(intent_id, **data)
    if return_url is not None and intent.next_action is not None:
        intent.next_action = _redirect_to_url(request, intent, return_url)
    response: web.StreamResponse = server.json_response(intent._export(expand=expand))
    return response


def _check_cancelable(intent_id: str) -> None:
    status = resources.PaymentIntent._api_retrieve(intent_id).status
    if status not in CANCELABLE:
        raise UserError(
            400,
            f"You cannot cancel this PaymentIntent because it has a status of {status}. Only a"
            " PaymentIntent with one of the following statuses may be canceled: "
            + ", ".join(CANCELABLE)
            + ".",
            {"code": "payment_intent_unexpected_state"},
        )


@web.middleware
async def intent_middleware(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """Points 2, 3, 4; innermost, so that localstripe's errors and the compat layer wrap it."""
    match = _INTENT_ACTION.fullmatch(request.path)
    if request.method != "POST" or match is None:
        return await handler(request)
    intent_id, action = match[1], match[2]
    if action == "confirm":
        return await _confirm(request, intent_id)
    _check_cancelable(intent_id)
    return await handler(request)


# --------------------------------------------------------------------------------------------
# 2. The challenge page
# --------------------------------------------------------------------------------------------

_PAGE: Final = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>3D Secure test payment</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 28rem; margin: 3rem auto; padding: 0 1rem; }}
dt {{ color: #555; }} dd {{ margin: 0 0 1rem; font-size: 1.3rem; }}
form {{ display: inline; }} button {{ font-size: 1rem; padding: .6rem 1rem; margin: .25rem 0; }}
</style>
</head>
<body>
<h1>3D Secure test payment</h1>
<p>This page of the payflow sandbox stands in for the card issuer's authentication page.
No real card is involved.</p>
<dl>
<dt>Merchant</dt><dd>{merchant}</dd>
<dt>Amount</dt><dd>{amount}</dd>
</dl>
<form method="post" action="{page}/complete">
<button type="submit">Complete authentication</button></form>
<form method="post" action="{page}/fail">
<button type="submit">Fail authentication</button></form>
</body>
</html>
"""

_GONE: Final = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>No authentication pending</title></head>
<body><h1>No authentication pending</h1>
<p>This payment is not waiting for 3D Secure authentication on this page.</p></body></html>
"""

# The page's URL is the challenge's secret and the redirect carries the client secret: neither
# is cached, nor sent on as a Referer.
_PAGE_HEADERS: Final = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _pending(intent_id: str, page: str) -> Any:
    """The PaymentIntent whose challenge lives at ``page``, or None."""
    intent = resources.store.get("payment_intent:" + intent_id)
    action = getattr(intent, "next_action", None)
    if not isinstance(action, dict) or action.get("type") != "redirect_to_url":
        return None
    return intent if urlsplit(action["redirect_to_url"]["url"]).path == page else None


def _html(body: str, status: int = 200) -> web.Response:
    return web.Response(
        text=body, status=status, content_type="text/html", charset="utf-8", headers=_PAGE_HEADERS
    )


def _finish(intent: Any, *, success: bool) -> web.Response:
    """Authenticate (or fail to), then send the browser back to the return_url."""
    return_url: str = intent.next_action["redirect_to_url"]["return_url"]
    # A card declined after authentication raises; the intent records it, as at Stripe.
    with contextlib.suppress(UserError):
        resources.PaymentIntent._api_authenticate(
            intent.id, client_secret=intent.client_secret, success=success
        )
    query = urlencode(
        {
            "payment_intent": intent.id,
            "payment_intent_client_secret": intent.client_secret,
            "redirect_status": "succeeded" if intent.status == "succeeded" else "failed",
        }
    )
    base, _, fragment = return_url.partition("#")
    location = base + ("&" if urlsplit(base).query else "?") + query
    location += "#" + fragment if fragment else ""
    return web.Response(status=303, headers={"Location": location, **_PAGE_HEADERS})


@web.middleware
async def challenge_middleware(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """Point 2: the challenge page and its two forms; outermost, as it needs no API key."""
    match = _CHALLENGE.fullmatch(request.path)
    if match is None:
        return await handler(request)
    intent_id, token, outcome = match[1], match[2], match[3]
    page = f"{CHALLENGE_PATH}/{intent_id}/{token}"
    allowed = "GET" if outcome is None else "POST"
    if request.method != allowed:
        return web.Response(status=405, text="Method Not Allowed", headers={"Allow": allowed})
    intent = _pending(intent_id, page)
    if intent is None:
        return _html(_GONE, status=404)
    if outcome is not None:
        return _finish(intent, success=outcome == "complete")
    amount = format_amount(intent.amount, intent.currency)
    return _html(
        _PAGE.format(
            merchant=html.escape(MERCHANT), amount=html.escape(amount), page=html.escape(page)
        )
    )


# --------------------------------------------------------------------------------------------
# Installation
# --------------------------------------------------------------------------------------------

_installed = False


def install(app: web.Application) -> None:
    """Read Stripe's card table, and put the page outermost and the confirm/cancel innermost."""
    global _installed
    if _installed:
        return
    _installed = True
    resources.PaymentMethod._requires_authentication = _requires_authentication
    app.middlewares.insert(0, challenge_middleware)
    app.middlewares.append(intent_middleware)
