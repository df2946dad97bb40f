"""The HTTP adapter's settings: one frozen value, given to `create_app`."""

from __future__ import annotations

from decimal import Decimal
from typing import Final

import attrs

import payflow

__all__ = ["DEFAULT_MAX_BODY_BYTES", "Settings"]

DEFAULT_MAX_BODY_BYTES: Final = 64 * 1024


def _currency(value: object) -> str:
    if not isinstance(value, str):
        raise payflow.ConfigurationError("currency must be a currency code such as 'eur'")
    try:
        # Money knows which currencies Stripe takes.
        return payflow.Money(Decimal(0), value).currency
    except payflow.InvalidRequest as exc:
        raise payflow.ConfigurationError(
            f"currency {value[:10]!r} is not a currency Stripe charges in"
        ) from exc


def _positive(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise payflow.ConfigurationError(f"{attribute.name} must be a positive int")


@attrs.frozen(kw_only=True)
class Settings:
    """How the app reads requests: the currency of amounts and the largest body it accepts."""

    # The spec: "All payments are processed in EUR".
    currency: str = attrs.field(default="eur", converter=_currency)
    max_body_bytes: int = attrs.field(default=DEFAULT_MAX_BODY_BYTES, validator=_positive)
