"""The values the six steps return: frozen, typed, and free of card data."""

from __future__ import annotations

import attrs

from ._money import Money

__all__ = ["Card", "CardToken", "Charge", "Customer", "Payment", "Refund"]


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
    """One attempt to move the money of a payment."""

    id: str
    amount: Money
    paid: bool
    status: str


@attrs.frozen
class Payment:
    """A Stripe PaymentIntent; `charges` is empty until it is confirmed."""

    id: str
    amount: Money
    status: str
    customer_id: str | None
    payment_method: str | None
    charges: tuple[Charge, ...] = ()


@attrs.frozen
class Refund:
    """Money given back from a charge."""

    id: str
    amount: Money
    charge_id: str
    status: str
    reason: str | None
