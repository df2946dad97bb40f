"""The steps of a card payment, each as a sync function and its `_async` twin.

Each twin pair shares one private function that validates the input (before any I/O) and builds
the one Stripe request with the parser for its answer; the twins differ only in how they send it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TypeVar

from . import _stripe_api as api
from . import _validate as check
from . import rules
from ._errors import RawCardDataRefused
from ._gateway import Gateway
from ._models import Card, CardToken, Customer, Payment, Refund
from ._money import Money
from ._stripe_api import Call, Json

__all__ = [
    "assign_card",
    "assign_card_async",
    "cancel_payment",
    "cancel_payment_async",
    "confirm_payment",
    "confirm_payment_async",
    "create_card_token",
    "create_card_token_async",
    "create_customer",
    "create_customer_async",
    "create_payment",
    "create_payment_async",
    "get_payment",
    "get_payment_async",
    "refund",
    "refund_async",
]

T = TypeVar("T")
Request = tuple[Call, Callable[[Json], T]]


def _key(value: object) -> str | None:
    return None if value is None else check.idempotency_key(value)


def _customer(
    email: str, name: str | None, phone: str | None, key: str | None
) -> Request[Customer]:
    params = {"email": check.email(email)}
    # Stripe's limits: https://docs.stripe.com/api/customers/create
    if (name := check.optional_text(name, "name", max_length=rules.NAME_MAX_LENGTH)) is not None:
        params["name"] = name
    phone = check.optional_text(phone, "phone", max_length=rules.PHONE_MAX_LENGTH)
    if phone is not None:
        params["phone"] = phone
    return Call("post", "/v1/customers", params, _key(key)), api.customer


def _card_token(
    gw: Gateway, number: str, exp_month: int, exp_year: int, cvc: str, key: str | None
) -> Request[CardToken]:
    if gw.live and not gw.allow_raw_card_data:
        raise RawCardDataRefused(
            "Stripe accepts raw card numbers on a live account only from businesses that are"
            " PCI DSS compliant and have asked Stripe to enable it"
            " (https://docs.stripe.com/security/guide#validating-pci-compliance). Collect cards"
            " with Stripe.js or Stripe Elements, which tokenize them in the browser, and send"
            " the token instead; or, if your account is enabled, allow raw card data"
            " explicitly (Gateway(allow_raw_card_data=True), PAYFLOW_ALLOW_RAW_CARD_DATA=1)."
        )
    today = dt.datetime.now(dt.UTC).date()
    digits, month, year, code = check.card(
        number=number, exp_month=exp_month, exp_year=exp_year, cvc=cvc, today=today
    )
    card = {"number": digits, "exp_month": month, "exp_year": year, "cvc": code}
    return Call("post", "/v1/tokens", {"card": card}, _key(key)), api.card_token


def _assign_card(customer_id: str, source: str, key: str | None) -> Request[Card]:
    path = api.path("/v1/customers/{}/sources", check.object_id(customer_id, "customer_id"))
    params = {"source": check.object_id(source, "source")}
    return Call("post", path, params, _key(key)), api.card


def _payment(
    customer_id: str, amount: Money, payment_method: str, key: str | None
) -> Request[Payment]:
    money = check.chargeable(amount)
    params = {
        "amount": money.minor_units,
        "currency": money.currency,
        "customer": check.object_id(customer_id, "customer_id"),
        "payment_method": check.object_id(payment_method, "payment_method"),
        "payment_method_types": ["card"],
    }
    return Call("post", "/v1/payment_intents", params, _key(key)), api.payment


# PaymentIntents have no `charges` list in the API version stripe 16 pins: each request for a
# payment expands its latest charge, to get it (and what it refunded) in the same request.
def _with_charge() -> dict[str, object]:
    return {"expand": ["latest_charge"]}


def _payment_path(template: str, payment_id: str) -> str:
    return api.path(template, check.id_of_kind(payment_id, "payment_id"))


def _confirm(
    payment_id: str, return_url: str | None, payment_method: str | None, key: str | None
) -> Request[Payment]:
    path = _payment_path("/v1/payment_intents/{}/confirm", payment_id)
    params = _with_charge()
    # Without a return_url, a payment that needs 3-D Secure asks for Stripe.js (use_stripe_sdk);
    # with one, for a redirect to the bank's page and back.
    if (url := check.return_url(return_url)) is not None:
        params["return_url"] = url
    # Another card for a payment whose first one failed (requires_payment_method).
    if payment_method is not None:
        params["payment_method"] = check.object_id(payment_method, "payment_method")
    return Call("post", path, params, _key(key)), api.payment


def _get(payment_id: str) -> Request[Payment]:
    path = _payment_path("/v1/payment_intents/{}", payment_id)
    return Call("get", path, _with_charge()), api.payment


def _cancel(payment_id: str, key: str | None) -> Request[Payment]:
    path = _payment_path("/v1/payment_intents/{}/cancel", payment_id)
    return Call("post", path, _with_charge(), _key(key)), api.payment


def _refund(
    charge_id: str, amount: Money | None, reason: str | None, key: str | None
) -> Request[Refund]:
    params: dict[str, object] = {"charge": check.object_id(charge_id, "charge_id")}
    # Without an amount, Stripe refunds what remains of the charge.
    if amount is not None:
        params["amount"] = check.refundable(amount).minor_units
    if (why := check.reason(reason)) is not None:
        params["reason"] = why
    return Call("post", "/v1/refunds", params, _key(key)), api.refund


def create_customer(
    gw: Gateway, *, email: str, name: str | None = None, phone: str | None = None,
    idempotency_key: str | None = None,
) -> Customer:  # fmt: skip
    """Create a Stripe customer."""
    return gw.send(*_customer(email, name, phone, idempotency_key))


async def create_customer_async(
    gw: Gateway, *, email: str, name: str | None = None, phone: str | None = None,
    idempotency_key: str | None = None,
) -> Customer:  # fmt: skip
    """Create a Stripe customer."""
    return await gw.send_async(*_customer(email, name, phone, idempotency_key))


def create_card_token(
    gw: Gateway, *, number: str, exp_month: int, exp_year: int, cvc: str,
    idempotency_key: str | None = None,
) -> CardToken:  # fmt: skip
    """Turn card details into a single-use token."""
    return gw.send(*_card_token(gw, number, exp_month, exp_year, cvc, idempotency_key))


async def create_card_token_async(
    gw: Gateway, *, number: str, exp_month: int, exp_year: int, cvc: str,
    idempotency_key: str | None = None,
) -> CardToken:  # fmt: skip
    """Turn card details into a single-use token."""
    return await gw.send_async(*_card_token(gw, number, exp_month, exp_year, cvc, idempotency_key))


def assign_card(
    gw: Gateway, *, customer_id: str, source: str, idempotency_key: str | None = None
) -> Card:
    """Save a tokenized card on a customer."""
    return gw.send(*_assign_card(customer_id, source, idempotency_key))


async def assign_card_async(
    gw: Gateway, *, customer_id: str, source: str, idempotency_key: str | None = None
) -> Card:
    """Save a tokenized card on a customer."""
    return await gw.send_async(*_assign_card(customer_id, source, idempotency_key))


def create_payment(
    gw: Gateway, *, customer_id: str, amount: Money, payment_method: str,
    idempotency_key: str | None = None,
) -> Payment:  # fmt: skip
    """Create a card PaymentIntent, to be confirmed."""
    return gw.send(*_payment(customer_id, amount, payment_method, idempotency_key))


async def create_payment_async(
    gw: Gateway, *, customer_id: str, amount: Money, payment_method: str,
    idempotency_key: str | None = None,
) -> Payment:  # fmt: skip
    """Create a card PaymentIntent, to be confirmed."""
    return await gw.send_async(*_payment(customer_id, amount, payment_method, idempotency_key))


def confirm_payment(
    gw: Gateway, payment_id: str, *, return_url: str | None = None,
    payment_method: str | None = None, idempotency_key: str | None = None,
) -> Payment:  # fmt: skip
    """Confirm a PaymentIntent. Paid only if its `status` is `succeeded` (with its charge);
    `requires_action` means the payer must authenticate first (`next_action`)."""
    return gw.send(*_confirm(payment_id, return_url, payment_method, idempotency_key))


async def confirm_payment_async(
    gw: Gateway, payment_id: str, *, return_url: str | None = None,
    payment_method: str | None = None, idempotency_key: str | None = None,
) -> Payment:  # fmt: skip
    """Confirm a PaymentIntent. Paid only if its `status` is `succeeded` (with its charge);
    `requires_action` means the payer must authenticate first (`next_action`)."""
    return await gw.send_async(*_confirm(payment_id, return_url, payment_method, idempotency_key))


def get_payment(gw: Gateway, payment_id: str) -> Payment:
    """A PaymentIntent as it is now: status, charge, amount refunded, next action, last error."""
    return gw.send(*_get(payment_id))


async def get_payment_async(gw: Gateway, payment_id: str) -> Payment:
    """A PaymentIntent as it is now: status, charge, amount refunded, next action, last error."""
    return await gw.send_async(*_get(payment_id))


def cancel_payment(gw: Gateway, payment_id: str, *, idempotency_key: str | None = None) -> Payment:
    """Cancel a PaymentIntent that will not be completed (any status but succeeded/canceled)."""
    return gw.send(*_cancel(payment_id, idempotency_key))


async def cancel_payment_async(
    gw: Gateway, payment_id: str, *, idempotency_key: str | None = None
) -> Payment:
    """Cancel a PaymentIntent that will not be completed (any status but succeeded/canceled)."""
    return await gw.send_async(*_cancel(payment_id, idempotency_key))


def refund(
    gw: Gateway, *, charge_id: str, amount: Money | None = None, reason: str | None = None,
    idempotency_key: str | None = None,
) -> Refund:  # fmt: skip
    """Refund a charge: `amount` of it, or all that remains."""
    return gw.send(*_refund(charge_id, amount, reason, idempotency_key))


async def refund_async(
    gw: Gateway, *, charge_id: str, amount: Money | None = None, reason: str | None = None,
    idempotency_key: str | None = None,
) -> Refund:  # fmt: skip
    """Refund a charge: `amount` of it, or all that remains."""
    return await gw.send_async(*_refund(charge_id, amount, reason, idempotency_key))
