"""The routes of the HTTP API, each described once: everything else is derived from `ROUTES`.

A `Route` says where it is served, which `payflow` step it awaits, the spec's name of each body
field with the step's argument it fills, how the result is presented, and which error statuses
it can answer. The Starlette routes (`_app`), the body parsing (`_parse`), the spec's field
names in errors (`_errors`), the Idempotency-Key namespace and the OpenAPI document
(`_openapi`) are all read from it. Adding a route is adding an entry here and a presenter.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, Literal, get_args

import attrs
from starlette.convertors import Convertor, register_url_convertor

import payflow
from payflow import rules, webhooks

from . import _present as present
from ._parse import Kind

__all__ = ["ROUTES", "Field", "Route"]

Schema = dict[str, Any]


class _StripeId(Convertor[str]):
    """A path segment shaped like a Stripe id, so that /api/payments/confirm stays a route of
    its own (a GET of it is a 405, not a payment named "confirm")."""

    regex = rules.ID_PATTERN

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


# A path field is a Stripe id: `Route.starlette_path` tells Starlette so.
ID_CONVERTOR: Final = "payflow_id"
register_url_convertor(ID_CONVERTOR, _StripeId())


@attrs.frozen
class Field:
    """A request field: its name in the spec, the step's argument it fills, its JSON type, the
    Stripe parameters that mean it (so Stripe's errors name it), constraints for the OpenAPI
    document, read from `payflow.rules`, and where it is sent (the JSON body, or the path)."""

    name: str
    argument: str
    kind: Kind = "string"
    required: bool = True
    stripe: tuple[str, ...] = ()
    constraints: Mapping[str, Any] = attrs.field(factory=dict)
    # The JSON body's field, a path segment, a query parameter, a header, or the body as sent.
    location: Literal["body", "path", "query", "header", "raw"] = "body"

    @property
    def schema(self) -> Schema:
        if self.kind == "amount":
            schema: Schema = {"$ref": "#/components/schemas/Amount"}
            return schema if self.required else {"anyOf": [schema, {"type": "null"}]}
        kind = self.kind if self.required else [self.kind, "null"]
        if self.argument in rules.ID_EXAMPLES:
            return {**present.ID, "type": kind, "examples": [rules.ID_EXAMPLES[self.argument]]}
        if "enum" in self.constraints and not self.required:
            return {"enum": [*self.constraints["enum"], None]}
        if self.location in ("query", "header"):
            return {"type": "string", **self.constraints}
        return {"type": kind, **self.constraints}


# Every route may answer these; a POST 409 too, as an Idempotency-Key may be reused with another
# body, and 413 and 415 for its body.
COMMON_ERRORS: Final = (400, 401, 405, 500, 502, 503, 504)
BODY_ERRORS: Final = (409, 413, 415)


@attrs.frozen
class Route:
    """One route of the API: POSTed with a JSON body (and an optional Idempotency-Key), or a
    GET whose fields are in its path or query. Its step takes the app's `payflow.Gateway`, or,
    for the event routes, its `payflow.webhooks.Webhooks`. Its success message is its name, or
    the one `message` chooses for the result among `messages`. With `token=False` it never
    requires the API token (Stripe cannot send one; the signature stands for it)."""

    path: str
    name: str
    summary: str
    step: Callable[..., Awaitable[Any]]
    fields: tuple[Field, ...]
    presenter: present.Presenter[Any]
    errors: tuple[int, ...] = ()
    method: Literal["POST", "GET"] = "POST"
    messages: tuple[str, ...] = ()
    message: Callable[[Any], str] | None = None
    # What Stripe's refusal of a field's value means on this route, by the spec's field name.
    rejected: Mapping[str, str] = attrs.field(factory=dict)
    uses: Literal["gateway", "webhooks"] = "gateway"
    token: bool = True

    @property
    def idempotent(self) -> bool:
        """Whether it takes an Idempotency-Key: each POST that reaches Stripe."""
        return self.method == "POST" and self.uses == "gateway"

    @property
    def starlette_path(self) -> str:
        """The path, each of its fields matched only by a Stripe id."""
        path = self.path
        for field in self.fields:
            if field.location == "path":
                path = path.replace(f"{{{field.name}}}", f"{{{field.name}:{ID_CONVERTOR}}}")
        return path

    @property
    def success_messages(self) -> tuple[str, ...]:
        """Every success message the route may answer."""
        return self.messages or (self.name,)

    def message_for(self, result: object) -> str:
        return self.name if self.message is None else self.message(result)

    @property
    def statuses(self) -> tuple[int, ...]:
        """The error statuses this route can answer."""
        body = BODY_ERRORS if self.method == "POST" else ()
        common = COMMON_ERRORS if self.token else tuple(s for s in COMMON_ERRORS if s != 401)
        return tuple(sorted({*common, *body, *self.errors}))

    def spec_name(self, name: str) -> str:
        """The spec's name of a step argument or a Stripe parameter (the name itself if none)."""
        if name == "idempotency_key":
            return "Idempotency-Key"
        for field in self.fields:
            if name == field.argument or name in field.stripe:
                return field.name
        return name

    def argument(self, name: str) -> str | None:
        """The step argument that the spec's field `name` fills."""
        return next((field.argument for field in self.fields if field.name == name), None)


def _digits(bounds: tuple[int, int], *, spaced: bool = False) -> Schema:
    low, high = bounds
    digit = "[0-9] *" if spaced else "[0-9]"
    return {"pattern": f"^{' *' if spaced else ''}(?:{digit}){{{low},{high}}}$", "writeOnly": True}


# What a confirmation says: paid only when it succeeded (the spec's sentence), and otherwise
# what is left to happen. Never "confirmed" for a payment that is not.
_CONFIRMATIONS: Final = {
    "succeeded": "payments.confirm",
    "requires_action": "payments.confirm.requires_action",
    "processing": "payments.confirm.processing",
}
_UNFINISHED: Final = "payments.confirm.unfinished"


def _confirmation(payment: payflow.Payment) -> str:
    return _CONFIRMATIONS.get(payment.status, _UNFINISHED)


_RECEIVED: Final = tuple(f"webhooks.{outcome}" for outcome in get_args(webhooks.Outcome))


def _received(received: webhooks.Received) -> str:
    return f"webhooks.{received.outcome}"


ROUTES: Final = (
    Route(
        "/api/customers",
        "customers",
        "Create a customer",
        payflow.create_customer_async,
        (
            Field("email", "email", constraints={
                "format": "email", "maxLength": rules.EMAIL_MAX_LENGTH}),
            Field("name", "name", required=False, constraints={
                "maxLength": rules.NAME_MAX_LENGTH}),
            Field("phone", "phone", required=False, constraints={
                "maxLength": rules.PHONE_MAX_LENGTH}),
        ),
        present.CUSTOMER,
    ),
    Route(
        "/api/cards",
        "cards",
        "Turn card details into a single-use token",
        payflow.create_card_token_async,
        (
            Field("number", "number", stripe=("card[number]",),
                  constraints=_digits(rules.CARD_NUMBER_DIGITS, spaced=True)),
            Field("exp_month", "exp_month", "integer", stripe=("card[exp_month]",),
                  constraints={"minimum": rules.EXP_MONTH[0], "maximum": rules.EXP_MONTH[1]}),
            Field("exp_year", "exp_year", "integer", stripe=("card[exp_year]",),
                  constraints={"minimum": rules.EXP_YEAR[0], "maximum": rules.EXP_YEAR[1]}),
            Field("cvc", "cvc", stripe=("card[cvc]",), constraints=_digits(rules.CVC_DIGITS)),
        ),
        present.CARD_TOKEN,
        errors=(402, 403),
    ),
    Route(
        "/api/cards/assign",
        "cards.assign",
        "Save a tokenized card on a customer",
        payflow.assign_card_async,
        (
            # Stripe names the customer of the URL "id".
            Field("userId", "customer_id", stripe=("customer", "id")),
            Field("source", "source"),
        ),
        present.CARD,
        errors=(402, 404),
    ),
    Route(
        "/api/payments",
        "payments",
        "Create a payment intent",
        payflow.create_payment_async,
        (
            Field("customer_id", "customer_id", stripe=("customer",)),
            Field("amount", "amount", "amount"),
            Field("payment_method", "payment_method"),
        ),
        present.PAYMENT,
        errors=(404,),
    ),
    Route(
        "/api/payments/confirm",
        "payments.confirm",
        "Confirm a payment intent; with 3-D Secure, say what the payer must do",
        payflow.confirm_payment_async,
        (
            Field("paymentId", "payment_id", stripe=("intent", "id")),
            # Where the bank's 3-D Secure page sends the payer back.
            Field("returnUrl", "return_url", required=False, stripe=("return_url",),
                  constraints={"format": "uri",
                               "maxLength": rules.RETURN_URL_MAX_LENGTH}),
            # Another card, to try again after a failed authentication or a decline.
            Field("paymentMethod", "payment_method", required=False),
        ),
        present.CONFIRMED_PAYMENT,
        errors=(402, 404),
        messages=(*_CONFIRMATIONS.values(), _UNFINISHED),
        message=_confirmation,
    ),
    Route(
        "/api/payments/{id}",
        "payments.get",
        "A payment as it stands: only status succeeded means paid",
        payflow.get_payment_async,
        (Field("id", "payment_id", stripe=("intent",), location="path"),),
        present.PAYMENT_STATE,
        errors=(404,),
        method="GET",
    ),
    Route(
        "/api/payments/cancel",
        "payments.cancel",
        "Cancel a payment that will not be completed",
        payflow.cancel_payment_async,
        (Field("paymentId", "payment_id", stripe=("intent", "id")),),
        present.PAYMENT_STATE,
        errors=(404,),
    ),
    Route(
        "/api/payments/refund",
        "payments.refund",
        "Refund a charge, in full or in part",
        payflow.refund_async,
        (
            Field("chargeId", "charge_id", stripe=("charge",)),
            # Without an amount, Stripe refunds what remains of the charge.
            Field("amount", "amount", "amount", required=False),
            Field("reason", "reason", required=False,
                  constraints={"enum": list(rules.REFUND_REASONS)}),
        ),
        present.REFUND,
        errors=(404,),
        # Stripe refuses a refund's amount when it is more than what remains of the charge.
        rejected={"amount": "error.refund_too_large"},
    ),
    Route(
        "/api/webhooks",
        "webhooks",
        "Receive a Stripe event: verified by its signature, handled once",
        webhooks.Webhooks.receive,
        (
            # Verified against the bytes as sent, before anything is parsed.
            Field("event", "payload", "bytes", location="raw"),
            Field("Stripe-Signature", "signature", required=False, location="header"),
        ),
        present.RECEIVED,
        errors=(409,),
        messages=_RECEIVED,
        message=_received,
        uses="webhooks",
        token=False,
    ),
    Route(
        "/api/events",
        "events",
        "What the server recorded about a payment, charge or refund, newest first",
        webhooks.Webhooks.events_about,
        (Field("object", "object_id", location="query", constraints=present.ID),),
        present.EVENTS,
        method="GET",
        uses="webhooks",
    ),
)  # fmt: skip
