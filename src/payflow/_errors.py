"""Every error payflow raises, in one hierarchy.

::

    PayflowError                      code
    ├── InvalidRequest (ValueError)   invalid_request: bad input, found before any I/O; `field`
    │   └── InvalidAmount             invalid_amount: an amount the currency or Stripe cannot take
    └── StripeFailure                 an answer (or its absence) from Stripe; carries `request_id`
        ├── StripeRejected            invalid_request: Stripe refused the parameters; names `field`
        ├── CardDeclined              card_declined: the issuer said no; carries `decline_code`
        ├── NotFound                  not_found: no such customer, token, payment or charge
        ├── Conflict                  conflict: the object is in the wrong state for this step
        │   └── IdempotencyConflict   idempotency_conflict: a key reused with other parameters
        ├── AuthenticationFailed      authentication_failed: the API key is missing or refused
        ├── RateLimited               rate_limited: Stripe asked us to slow down
        ├── StripeUnavailable         stripe_unavailable: Stripe could not be reached
        │   └── StripeTimeout         stripe_timeout: Stripe did not answer in time
        └── StripeServerError         stripe_error: Stripe failed (5xx) or answered nonsense

The webhook errors (`payflow.webhooks`)::

    PayflowError
    ├── WebhookRefused                a delivery that is not a verified Stripe event
    │   ├── SignatureMissing          signature_missing: no Stripe-Signature header
    │   ├── SignatureInvalid          signature_invalid: no endpoint secret signed this body
    │   ├── SignatureExpired          signature_expired: signed too long ago, or in the future
    │   └── NotAnEvent                not_an_event: signed, but not a Stripe event
    ├── EventInProgress               event_in_progress: another process is handling it now
    └── HandlerFailed                 handler_failed: a handler raised; the event is released

`ConfigurationError` (a `PayflowError`) is raised when a gateway cannot be built, and
`RawCardDataRefused` (a `PayflowError`) when raw card numbers would reach a live Stripe account
that has not been allowed to receive them.
Messages never contain a card number, a CVC or an API key.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .rules import Rule

__all__ = [
    "AuthenticationFailed",
    "CardDeclined",
    "ConfigurationError",
    "Conflict",
    "EventInProgress",
    "HandlerFailed",
    "IdempotencyConflict",
    "InvalidAmount",
    "InvalidRequest",
    "NotAnEvent",
    "NotFound",
    "PayflowError",
    "RateLimited",
    "RawCardDataRefused",
    "SignatureExpired",
    "SignatureInvalid",
    "SignatureMissing",
    "StripeFailure",
    "StripeRejected",
    "StripeServerError",
    "StripeTimeout",
    "StripeUnavailable",
    "WebhookRefused",
]


class PayflowError(Exception):
    """The root of every payflow error."""

    code: str = "payflow_error"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        rule: Rule | None = None,
        params: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        #: The argument (or Stripe parameter) at fault, when there is one.
        self.field = field
        #: For input payflow refused, the rule it broke (`payflow.rules.Rule`) and that rule's
        #: parameters (a limit, the allowed values, the minimum as a Money): enough to say what
        #: would be accepted, in any language.
        self.rule = rule
        self.params: Mapping[str, object] = MappingProxyType(dict(params or {}))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code!r}, field={self.field!r})"


class ConfigurationError(PayflowError):
    """payflow is not configured well enough to talk to Stripe."""

    code = "configuration_error"


class RawCardDataRefused(PayflowError):
    """Raw card data would be sent with a live key, and that was not allowed."""

    code = "raw_card_data_refused"


class InvalidRequest(PayflowError, ValueError):
    """The input is not acceptable; raised before any network call."""

    code = "invalid_request"


class InvalidAmount(InvalidRequest):
    """An amount that its currency, or Stripe, cannot take."""

    code = "invalid_amount"


class StripeFailure(PayflowError):
    """Stripe answered with an error, or did not answer."""

    code = "stripe_failure"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        request_id: str | None = None,
        stripe_code: str | None = None,
    ) -> None:
        super().__init__(message, field=field)
        self.request_id = request_id
        self.stripe_code = stripe_code


class StripeRejected(StripeFailure, InvalidRequest):
    """Stripe refused the request's parameters."""

    code = "invalid_request"


class CardDeclined(StripeFailure):
    """The card was declined."""

    code = "card_declined"

    def __init__(
        self,
        message: str,
        *,
        decline_code: str | None = None,
        request_id: str | None = None,
        stripe_code: str | None = None,
    ) -> None:
        super().__init__(message, request_id=request_id, stripe_code=stripe_code)
        self.decline_code = decline_code


class NotFound(StripeFailure):
    """The customer, token, payment or charge does not exist."""

    code = "not_found"


class Conflict(StripeFailure):
    """The object is in a state that does not allow this step."""

    code = "conflict"


class IdempotencyConflict(Conflict):
    """An idempotency key was reused with other parameters."""

    code = "idempotency_conflict"


class AuthenticationFailed(StripeFailure):
    """Stripe refused the API key."""

    code = "authentication_failed"


class RateLimited(StripeFailure):
    """Stripe is rate limiting this account."""

    code = "rate_limited"


class StripeUnavailable(StripeFailure):
    """Stripe could not be reached."""

    code = "stripe_unavailable"


class StripeTimeout(StripeUnavailable):
    """Stripe did not answer within the timeout."""

    code = "stripe_timeout"


class StripeServerError(StripeFailure):
    """Stripe failed, or answered something payflow cannot read."""

    code = "stripe_error"


class WebhookRefused(PayflowError):
    """A webhook delivery that is not a verified Stripe event (`payflow.webhooks`)."""

    code = "webhook_refused"


class SignatureMissing(WebhookRefused):
    """The delivery has no Stripe-Signature header."""

    code = "signature_missing"


class SignatureInvalid(WebhookRefused):
    """No endpoint secret signed this body: a wrong secret, a tampered body, or a malformed
    header."""

    code = "signature_invalid"


class SignatureExpired(WebhookRefused):
    """A valid signature whose timestamp is outside the tolerance (stale, or in the future)."""

    code = "signature_expired"


class NotAnEvent(WebhookRefused):
    """A signed body that is not a Stripe event."""

    code = "not_an_event"


class EventInProgress(PayflowError):
    """Another process is handling this event now: the delivery is answered with a retry."""

    code = "event_in_progress"


class HandlerFailed(PayflowError):
    """A handler of the event raised (its exception is the `__cause__`); the event is released,
    so Stripe's next delivery runs the handlers again."""

    code = "handler_failed"
