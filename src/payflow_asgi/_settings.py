"""The HTTP adapter's settings: one frozen value, given to `create_app`."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Final

import attrs

import payflow

__all__ = ["DEFAULT_MAX_BODY_BYTES", "MIN_API_TOKEN_LENGTH", "Settings"]

DEFAULT_MAX_BODY_BYTES: Final = 64 * 1024
MIN_API_TOKEN_LENGTH: Final = 16

# What an HTTP header can carry as a bearer token without quoting: visible ASCII, no spaces.
_TOKEN: Final = re.compile(r"[\x21-\x7e]+")


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


def _api_token(instance: object, attribute: attrs.Attribute[str | None], value: object) -> None:
    # The messages never repeat the token.
    if value is None:
        return
    if not isinstance(value, str) or not _TOKEN.fullmatch(value):
        raise payflow.ConfigurationError(
            "api_token (PAYFLOW_API_TOKEN) must be visible ASCII characters without spaces"
        )
    if len(value) < MIN_API_TOKEN_LENGTH:
        raise payflow.ConfigurationError(
            f"api_token (PAYFLOW_API_TOKEN) must be at least {MIN_API_TOKEN_LENGTH} characters;"
            " make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )


def _hidden(value: str | None) -> str:
    return "None" if value is None else "'…'"


@attrs.frozen(kw_only=True)
class Settings:
    """How the app reads requests: the currency of amounts, the largest body it accepts, and the
    token clients must present on /api routes (None: no token required)."""

    # The spec: "All payments are processed in EUR".
    currency: str = attrs.field(default="eur", converter=_currency)
    max_body_bytes: int = attrs.field(default=DEFAULT_MAX_BODY_BYTES, validator=_positive)
    api_token: str | None = attrs.field(default=None, validator=_api_token, repr=_hidden)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings with the API token from PAYFLOW_API_TOKEN (unset or empty: no token)."""
        env = os.environ if environ is None else environ
        return cls(api_token=env.get("PAYFLOW_API_TOKEN") or None)
