"""The values the steps return: frozen, typed, and free of card data and client secrets."""

from __future__ import annotations

from typing import ClassVar, Literal, TypeAlias

import attrs

from ._money import Money

__all__ = [
    "Card",
    "CardToken",
    "Charge",
    "Customer",
    "NextAction",
    "OtherAction",
    "Payment",
    "PaymentError",
    "PaymentStatus",
    "RedirectToUrl",
    "Refund",
    "UseStripeSdk",
]

# A PaymentIntent's statuses: https://docs.stripe.com/payments/paymentintents/lifecycle
# Only `succeeded` means the money moved.
PaymentStatus: TypeAlias = Literal[
    "requires_payment_method",
    "requires_confirmation",
    "requires_action",
    "processing",
    "requires_capture",
    "canceled",
    "succeeded",
]


@attrs.frozen
class Customer:
    """A Stripe customer."""

    id: str
    email: str | None
    name: str | None
    phone: str | None


@attrs.frozen
class CardToken:
    """A single-use token standing for a card; holds only what is safe to show."""

    id: str
    card_id: str
    brand: str
    last4: str


@attrs.frozen
class Card:
    """A card saved on a customer."""

    id: str
    brand: str
    last4: str


@attrs.frozen
class Charge:
    """One attempt to move the money of a payment; `amount_refunded` is what it has given back
    so far (`refunded` once all of it)."""

    id: str
    amount: Money
    paid: bool
    status: str
    amount_refunded: Money = attrs.field(kw_only=True)
    refunded: bool = attrs.field(default=False, kw_only=True)
    payment_id: str | None = attrs.field(default=None, kw_only=True)


@attrs.frozen
class RedirectToUrl:
    """Send the payer's browser to `url` (the bank's 3-D Secure page); it comes back to
    `return_url` with `payment_intent`, `payment_intent_client_secret` and `redirect_status`."""

    # Stripe's authentication URLs may carry a secret of the payment: out of the repr.
    url: str = attrs.field(repr=False)
    # The shop's URL may carry its own session or order secrets in its query.
    return_url: str | None = attrs.field(repr=False)
    type: ClassVar[Literal["redirect_to_url"]] = "redirect_to_url"


@attrs.frozen
class UseStripeSdk:
    """Stripe.js must run the authentication in the payer's browser, with the client secret
    (`stripe.handleNextAction({clientSecret})`)."""

    type: ClassVar[Literal["use_stripe_sdk"]] = "use_stripe_sdk"


@attrs.frozen
class OtherAction:
    """A next action of another kind (not one a card payment asks for): Stripe's `type` only."""

    type: str


NextAction: TypeAlias = RedirectToUrl | UseStripeSdk | OtherAction


@attrs.frozen
class PaymentError:
    """Why the latest attempt to pay failed: Stripe's `last_payment_error`.

    `code` is Stripe's error code (`payment_intent_authentication_failure` when the payer failed
    3-D Secure, `card_declined`, ...), `decline_code` the issuer's reason for a decline.
    """

    code: str | None
    decline_code: str | None
    message: str | None


@attrs.frozen
class Payment:
    """A Stripe PaymentIntent. Ship the goods only when `status == "succeeded"`.

    `charges` is empty until it is confirmed; `amount_refunded` is what its charge has given back
    so far. `client_secret` is for the payer's browser (Stripe.js) and nothing else: it is never
    in the repr.
    """

    id: str
    amount: Money
    status: PaymentStatus
    customer_id: str | None
    payment_method: str | None
    charges: tuple[Charge, ...] = ()
    amount_refunded: Money = attrs.field(kw_only=True)
    next_action: NextAction | None = None
    last_payment_error: PaymentError | None = None
    client_secret: str | None = attrs.field(default=None, repr=False)


@attrs.frozen
class Refund:
    """Money given back from a charge."""

    id: str
    amount: Money
    charge_id: str
    status: str
    reason: str | None
