"""The HTTP adapter's settings: one frozen value, given to `create_app`; and every environment
variable `payflow serve` reads, in one table (`ENVIRONMENT`)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Final

import attrs

import payflow
from payflow import webhooks

from ._limits import ENVIRONMENT as LIMITS
from ._messages import LANGUAGES, Language

__all__ = [
    "DEFAULT_DATABASE_URL",
    "DEFAULT_MAX_BODY_BYTES",
    "ENVIRONMENT",
    "MIN_API_TOKEN_LENGTH",
    "Settings",
]

DEFAULT_MAX_BODY_BYTES: Final = 64 * 1024
# The embedded default: one SQLite file in the working directory.
DEFAULT_DATABASE_URL: Final = "sqlite:///payflow-events.db"
MIN_API_TOKEN_LENGTH: Final = 16

# What an HTTP header can carry as a bearer token without quoting: visible ASCII, no spaces.
_TOKEN: Final = re.compile(payflow.rules.VISIBLE_ASCII)


def _currency(value: object) -> str:
    if not isinstance(value, str):
        raise payflow.ConfigurationError("currency must be a currency code such as 'eur'")
    try:
        # Money knows which currencies Stripe takes.
        return payflow.Money(Decimal(0), value).currency
    except payflow.InvalidRequest as exc:
        raise payflow.ConfigurationError(
            f"currency (PAYFLOW_CURRENCY) {value[:10]!r} is not a currency Stripe charges in"
        ) from exc


def _positive(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise payflow.ConfigurationError(
            f"{attribute.name} ({_FROM_ENV[attribute.name]}) must be a positive int"
        )


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


def _language(value: object) -> Language:
    language = next((ours for ours in LANGUAGES if ours == value), None)
    if language is None:
        raise payflow.ConfigurationError(
            "language (PAYFLOW_LANGUAGE) must be one of: " + ", ".join(LANGUAGES)
        )
    return language


def _hidden(value: str | None) -> str:
    return "None" if value is None else "'…'"


def _secrets(value: object) -> tuple[str, ...]:
    # Comma-separated in the environment: the new secret and the old one while rotating.
    texts = value.split(",") if isinstance(value, str) else value
    if not isinstance(texts, list | tuple) or not all(isinstance(t, str) for t in texts):
        raise payflow.ConfigurationError(
            "webhook_secrets (STRIPE_WEBHOOK_SECRET) must be texts, comma-separated"
        )
    return tuple(text.strip() for text in texts if text.strip())


def _hidden_secrets(value: tuple[str, ...]) -> str:
    return f"<{len(value)} hidden>"


def _handlers(instance: object, attribute: attrs.Attribute[str | None], value: object) -> None:
    if value is not None and not (isinstance(value, str) and _IMPORT_PATH.fullmatch(value)):
        raise payflow.ConfigurationError(
            "webhook_handlers (PAYFLOW_WEBHOOK_HANDLERS) must name a mapping of event types to"
            " handlers as module:attribute, e.g. myshop.webhooks:HANDLERS"
        )


_IMPORT_PATH: Final = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")


@attrs.frozen(kw_only=True)
class Settings:
    """How the app reads requests and answers: the currency of amounts, the largest body it
    accepts, the token clients must present on /api routes (None: no token required), and the
    language of its messages when a client's Accept-Language names none of ours."""

    # The spec: "All payments are processed in EUR".
    currency: str = attrs.field(default="eur", converter=_currency)
    max_body_bytes: int = attrs.field(default=DEFAULT_MAX_BODY_BYTES, validator=_positive)
    api_token: str | None = attrs.field(default=None, validator=_api_token, repr=_hidden)
    # The original service's language.
    language: Language = attrs.field(default="es", converter=_language)
    # Stripe's signing secrets of the webhook endpoint; none: /api/webhooks refuses deliveries.
    webhook_secrets: tuple[str, ...] = attrs.field(
        default=(), converter=_secrets, repr=_hidden_secrets
    )
    # Where events are recorded (payflow.webhooks.open_store); it may carry a password.
    database_url: str = attrs.field(default=DEFAULT_DATABASE_URL, repr=False)
    # The handlers of `payflow serve`, as module:attribute.
    webhook_handlers: str | None = attrs.field(default=None, validator=_handlers)
    # Seconds a process holds an event before another may take it over.
    webhook_lease: int = attrs.field(default=int(webhooks.DEFAULT_LEASE), validator=_positive)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from the variables of `_FROM_ENV` (PAYFLOW_CURRENCY, STRIPE_WEBHOOK_SECRET,
        ...); each unset or empty keeps its default."""
        env = os.environ if environ is None else environ
        given: dict[str, object] = {
            argument: value
            for argument, name in _FROM_ENV.items()
            if (value := env.get(name, "").strip())
        }
        for argument, unit in (("max_body_bytes", "bytes"), ("webhook_lease", "seconds")):
            if argument in given:
                text = str(given[argument])
                if not (text.isascii() and text.isdigit() and len(text) < 19):
                    raise payflow.ConfigurationError(
                        f"{_FROM_ENV[argument]} must be a whole number of {unit}"
                    )
                given[argument] = int(text)
        return cls(**given)  # type: ignore[arg-type]  # each value is checked by its field


# The settings' fields and the variables that set them.
_FROM_ENV: Final = {
    "currency": "PAYFLOW_CURRENCY",
    "max_body_bytes": "PAYFLOW_MAX_BODY_BYTES",
    "api_token": "PAYFLOW_API_TOKEN",
    "language": "PAYFLOW_LANGUAGE",
    "webhook_secrets": "STRIPE_WEBHOOK_SECRET",
    "database_url": "PAYFLOW_DATABASE_URL",
    "webhook_handlers": "PAYFLOW_WEBHOOK_HANDLERS",
    "webhook_lease": "PAYFLOW_WEBHOOK_LEASE",
}

# Every environment variable `payflow serve` reads: name, default, meaning. `payflow serve
# --help` and docs/http-api.md show this table (a test compares them, and checks that no other
# variable is read anywhere in src/).
ENVIRONMENT: Final[tuple[tuple[str, str, str], ...]] = (
    ("STRIPE_SECRET_KEY", "(none: required without --sandbox)", "your Stripe secret key"),
    ("STRIPE_API_BASE", "https://api.stripe.com", "where Stripe is (a sandbox's URL)"),
    ("PAYFLOW_STRIPE_TIMEOUT", "30", "seconds to wait for each answer from Stripe"),
    ("PAYFLOW_STRIPE_MAX_RETRIES", "2", "retries of a request Stripe may not have received"),
    ("PAYFLOW_ALLOW_RAW_CARD_DATA", "0", "1: send raw card numbers to a live Stripe account"),
    ("PAYFLOW_API_TOKEN", "(none: no token)", "the bearer token /api routes require"),
    ("PAYFLOW_CURRENCY", "eur", "the currency of every amount"),
    ("PAYFLOW_MAX_BODY_BYTES", str(DEFAULT_MAX_BODY_BYTES), "the largest request body"),
    ("PAYFLOW_LANGUAGE", "es", "messages' language when Accept-Language names neither es nor en"),
    ("STRIPE_WEBHOOK_SECRET", "(none: no events)", "webhook signing secrets, comma-separated"),
    ("PAYFLOW_DATABASE_URL", DEFAULT_DATABASE_URL, "where events are recorded (or postgresql://…)"),
    ("PAYFLOW_WEBHOOK_HANDLERS", "(none)", "module:attribute: event types to handlers"),
    ("PAYFLOW_WEBHOOK_LEASE", str(int(webhooks.DEFAULT_LEASE)), "seconds a process holds an event"),
    *LIMITS,
    # Read by the HTTP client (pyreqwest), as curl reads them; never for --sandbox's sandbox.
    ("HTTPS_PROXY", "(none)", "the proxy to Stripe (also HTTP_PROXY, ALL_PROXY)"),
    ("NO_PROXY", "(none)", "hosts reached without the proxy"),
    ("STRIPE_LOG", "(none)", "the Stripe SDK's console log; debug is refused"),
)
