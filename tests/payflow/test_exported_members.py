"""payflow's public names: pinned, so adding or removing one is a deliberate change."""

from __future__ import annotations

import payflow

EXPORTED = [
    "AuthenticationFailed",
    "Card",
    "CardDeclined",
    "CardToken",
    "Charge",
    "ConfigurationError",
    "Conflict",
    "Customer",
    "Gateway",
    "IdempotencyConflict",
    "InvalidAmount",
    "InvalidRequest",
    "Money",
    "NextAction",
    "NotFound",
    "OtherAction",
    "PayflowError",
    "Payment",
    "PaymentError",
    "PaymentStatus",
    "RateLimited",
    "RawCardDataRefused",
    "RedirectToUrl",
    "Refund",
    "StripeFailure",
    "StripeRejected",
    "StripeServerError",
    "StripeTimeout",
    "StripeUnavailable",
    "UseStripeSdk",
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
    "idempotency_key",
    "last_stripe_request_id",
    "refund",
    "refund_async",
    "rules",
    "webhooks",
]


def test_all_is_pinned() -> None:
    """payflow.__all__ lists exactly the pinned names, sorted."""
    assert EXPORTED == payflow.__all__


def test_every_exported_name_exists() -> None:
    """Every name in __all__ is an attribute of the package."""
    assert [] == [name for name in payflow.__all__ if not hasattr(payflow, name)]


def test_all_public_names_are_exported() -> None:
    """The package's public names are exactly __all__: nothing public is left out."""
    assert payflow.__all__ == sorted(name for name in vars(payflow) if not name.startswith("_"))
