"""The sandbox answers the payflow workflow as real Stripe does, through the real stripe SDK.

Each compatibility test names the real Stripe behaviour it reproduces (gaps a-n of
``payflow_sandbox._compat``).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar

import httpx
import pytest
import stripe

import payflow
from payflow_sandbox import Sandbox
from payflow_sandbox._hold import HOLD_HEADER, HOLD_PATH
from tests.conftest import SANDBOX_API_KEY

T = TypeVar("T")

VISA = "4242424242424242"


def call(client: stripe.StripeClient, method: str, path: str, **params: Any) -> dict[str, Any]:
    """A raw request through the SDK; the decoded JSON body."""
    response = client.raw_request(method, path, **params)
    assert isinstance(response, stripe.StripeResponse)
    data = response.data
    assert isinstance(data, dict)
    return data


def customer(client: stripe.StripeClient) -> str:
    created = client.v1.customers.create(params={"email": f"{uuid.uuid4().hex}@example.com"})
    return created.id


def token(client: stripe.StripeClient, number: str = VISA) -> stripe.Token:
    return client.v1.tokens.create(
        params={"card": {"number": number, "exp_month": "12", "exp_year": "2030", "cvc": "123"}}
    )


def saved_card(client: stripe.StripeClient, number: str = VISA) -> tuple[str, str]:
    """A customer with a card source made from a token: (customer id, card id)."""
    customer_id = customer(client)
    source = call(
        client, "post", f"/v1/customers/{customer_id}/sources", source=token(client, number).id
    )
    return customer_id, source["id"]


def intent(
    client: stripe.StripeClient, amount: int = 5000, number: str = VISA, currency: str = "eur"
) -> str:
    customer_id, card_id = saved_card(client, number)
    # stripe 16.1's typed params call this allowed_payment_method_types; payflow and
    # localstripe use payment_method_types.
    created = call(
        client,
        "post",
        "/v1/payment_intents",
        amount=amount,
        currency=currency,
        customer=customer_id,
        payment_method=card_id,
        payment_method_types=["card"],
    )
    intent_id = created["id"]
    assert isinstance(intent_id, str)
    return intent_id


def charge(client: stripe.StripeClient, amount: int = 5000, currency: str = "eur") -> str:
    """A succeeded charge of ``amount`` minor units, through a confirmed PaymentIntent."""
    payment_id = intent(client, amount, currency=currency)
    confirmed = call(client, "post", f"/v1/payment_intents/{payment_id}/confirm")
    latest = confirmed["latest_charge"]
    assert isinstance(latest, str)
    return latest


# ---------------------------------------------------------------------------- the workflow


def test_customer_echoes_email_name_and_phone(stripe_client: stripe.StripeClient) -> None:
    """POST /v1/customers returns the email, name and phone it was given."""
    created = stripe_client.v1.customers.create(
        params={"email": "ann@example.com", "name": "Ann Lee", "phone": "+33 1 23 45 67 89"}
    )
    assert created.id.startswith("cus_")
    assert (created.email, created.name, created.phone) == (
        "ann@example.com",
        "Ann Lee",
        "+33 1 23 45 67 89",
    )


def test_card_token_has_card_id_brand_and_last4(stripe_client: stripe.StripeClient) -> None:
    """POST /v1/tokens with card[...] returns a token whose card has id, brand and last4."""
    created = token(stripe_client)
    assert created.id.startswith("tok_")
    assert created.card is not None
    assert created.card.id.startswith("card_")
    assert (created.card.brand, created.card.last4) == ("Visa", "4242")


def test_token_source_becomes_the_customers_card(stripe_client: stripe.StripeClient) -> None:
    """POST /v1/customers/{id}/sources with source=tok_... returns the token's card, owned."""
    customer_id = customer(stripe_client)
    created = token(stripe_client)
    source = stripe_client.v1.customers.payment_sources.create(
        customer_id, params={"source": created.id}
    )
    assert isinstance(source, stripe.Card)
    assert created.card is not None
    assert (source.id, source.customer, source.last4) == (created.card.id, customer_id, "4242")


def test_payment_intent_with_card_requires_confirmation(
    stripe_client: stripe.StripeClient,
) -> None:
    """A PaymentIntent created with payment_method=card_... is requires_confirmation."""
    created = stripe_client.v1.payment_intents.retrieve(intent(stripe_client))
    assert (created.status, created.amount, created.currency) == (
        "requires_confirmation",
        5000,
        "eur",
    )


def test_confirm_with_expand_returns_the_succeeded_charge(
    stripe_client: stripe.StripeClient,
) -> None:
    """Confirm with expand[]=latest_charge succeeds and embeds the paid charge."""
    confirmed = stripe_client.v1.payment_intents.confirm(
        intent(stripe_client, 1234), params={"expand": ["latest_charge"]}
    )
    assert confirmed.status == "succeeded"
    latest = confirmed.latest_charge
    assert isinstance(latest, stripe.Charge)
    assert latest.id.startswith("ch_")
    assert (latest.amount, latest.paid, latest.status) == (1234, True, "succeeded")


def test_confirming_a_succeeded_payment_intent_is_payment_intent_unexpected_state(
    stripe_client: stripe.StripeClient,
) -> None:
    """Confirming a PaymentIntent that already succeeded is a 400 with Stripe's
    payment_intent_unexpected_state code (g)."""
    payment_id = intent(stripe_client)
    stripe_client.v1.payment_intents.confirm(payment_id)

    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.payment_intents.confirm(payment_id)

    assert (400, "payment_intent_unexpected_state") == (caught.value.http_status, caught.value.code)


def test_refund_with_charge_amount_and_reason(stripe_client: stripe.StripeClient) -> None:
    """POST /v1/refunds with charge, amount and reason creates a succeeded refund."""
    charge_id = charge(stripe_client)
    refund = stripe_client.v1.refunds.create(
        params={"charge": charge_id, "amount": 1000, "reason": "requested_by_customer"}
    )
    assert refund.id.startswith("re_")
    assert (refund.charge, refund.amount, refund.status) == (charge_id, 1000, "succeeded")


# ---------------------------------------------------------------------------- a. refund reason


def test_refund_echoes_reason(stripe_client: stripe.StripeClient) -> None:
    """Stripe accepts reason=duplicate|fraudulent|requested_by_customer and returns it."""
    refund = stripe_client.v1.refunds.create(
        params={"charge": charge(stripe_client), "reason": "fraudulent"}
    )
    assert refund.reason == "fraudulent"


def test_retrieved_refund_has_its_reason(stripe_client: stripe.StripeClient) -> None:
    """Stripe returns the refund's reason when the refund is retrieved."""
    refund = stripe_client.v1.refunds.create(
        params={"charge": charge(stripe_client), "amount": 100, "reason": "duplicate"}
    )
    assert stripe_client.v1.refunds.retrieve(refund.id).reason == "duplicate"


def test_refund_without_reason_has_null_reason(stripe_client: stripe.StripeClient) -> None:
    """Stripe returns reason: null when no reason was given."""
    refund = call(stripe_client, "post", "/v1/refunds", charge=charge(stripe_client), amount=100)
    assert refund["reason"] is None


def test_refund_with_unknown_reason_is_rejected(stripe_client: stripe.StripeClient) -> None:
    """Stripe rejects any other reason with a 400 invalid_request_error on param reason."""
    with pytest.raises(stripe.InvalidRequestError) as raised:
        call(stripe_client, "post", "/v1/refunds", charge=charge(stripe_client), reason="oops")
    assert (raised.value.http_status, raised.value.param) == (400, "reason")


# ---------------------------------------------------------------------------- b. refund amounts


def test_refund_without_amount_refunds_what_remains(stripe_client: stripe.StripeClient) -> None:
    """Stripe refunds the unrefunded remainder when amount is omitted."""
    charge_id = charge(stripe_client, 5000)
    stripe_client.v1.refunds.create(params={"charge": charge_id, "amount": 1500})
    rest = stripe_client.v1.refunds.create(params={"charge": charge_id})
    assert rest.amount == 3500


def test_refund_above_unrefunded_amount_is_rejected(stripe_client: stripe.StripeClient) -> None:
    """Stripe answers 400 on param amount: 'Refund amount (€60.00) is greater than ...'."""
    charge_id = charge(stripe_client, 5000)
    with pytest.raises(stripe.InvalidRequestError) as raised:
        stripe_client.v1.refunds.create(params={"charge": charge_id, "amount": 6000})
    error = raised.value
    assert (error.http_status, error.param) == (400, "amount")
    assert error.user_message == (
        "Refund amount (€60.00) is greater than unrefunded amount on charge (€50.00)"
    )


def test_refund_of_a_refunded_charge_is_charge_already_refunded(
    stripe_client: stripe.StripeClient,
) -> None:
    """Stripe answers 400 charge_already_refunded: 'Charge ch_x has already been refunded.'."""
    charge_id = charge(stripe_client)
    stripe_client.v1.refunds.create(params={"charge": charge_id})
    with pytest.raises(stripe.InvalidRequestError) as raised:
        stripe_client.v1.refunds.create(params={"charge": charge_id})
    error = raised.value
    assert (error.http_status, error.code) == (400, "charge_already_refunded")
    assert error.user_message == f"Charge {charge_id} has already been refunded."


def test_charge_amount_refunded_and_refunded_stay_consistent(
    stripe_client: stripe.StripeClient,
) -> None:
    """Stripe's charge.amount_refunded sums its refunds and refunded is true once all is back."""
    charge_id = charge(stripe_client, 5000)
    stripe_client.v1.refunds.create(params={"charge": charge_id, "amount": 2000})
    partly = stripe_client.v1.charges.retrieve(charge_id)
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.refunds.create(params={"charge": charge_id, "amount": 3001})
    stripe_client.v1.refunds.create(params={"charge": charge_id})
    fully = stripe_client.v1.charges.retrieve(charge_id)
    assert (partly.amount_refunded, partly.refunded) == (2000, False)
    assert (fully.amount_refunded, fully.refunded) == (5000, True)


# ---------------------------------------------------------------------------- c. idempotency


def test_retry_with_same_idempotency_key_replays_the_first_response(
    stripe_client: stripe.StripeClient,
) -> None:
    """Stripe replays the saved status and body, with header Idempotent-Replayed: true."""
    key = uuid.uuid4().hex
    params = {"email": "retry@example.com", "idempotency_key": key}
    first = stripe_client.raw_request("post", "/v1/customers", **params)
    again = stripe_client.raw_request("post", "/v1/customers", **params)
    assert (again.code, again.body) == (first.code, first.body)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers


def test_retried_refund_is_not_executed_twice(stripe_client: stripe.StripeClient) -> None:
    """Stripe does not execute a retried POST again: one refund, the same id twice."""
    charge_id = charge(stripe_client, 5000)
    key = uuid.uuid4().hex
    first = call(stripe_client, "post", "/v1/refunds", charge=charge_id, idempotency_key=key)
    again = call(stripe_client, "post", "/v1/refunds", charge=charge_id, idempotency_key=key)
    assert again["id"] == first["id"]
    assert stripe_client.v1.charges.retrieve(charge_id).amount_refunded == 5000


def test_same_idempotency_key_with_other_parameters_is_an_idempotency_error(
    stripe_client: stripe.StripeClient,
) -> None:
    """Stripe answers 400 idempotency_error; the SDK raises stripe.IdempotencyError."""
    key = uuid.uuid4().hex
    call(stripe_client, "post", "/v1/customers", email="a@example.com", idempotency_key=key)
    with pytest.raises(stripe.IdempotencyError) as raised:
        call(stripe_client, "post", "/v1/customers", email="b@example.com", idempotency_key=key)
    assert raised.value.http_status == 400


def test_idempotency_keys_are_scoped_per_api_key(
    sandbox: Sandbox, stripe_client: stripe.StripeClient
) -> None:
    """Stripe keeps idempotency keys per API key: another key's request executes."""
    key = uuid.uuid4().hex
    first = call(stripe_client, "post", "/v1/customers", email="x@example.com", idempotency_key=key)
    other = call(
        stripe_client,
        "post",
        "/v1/customers",
        email="x@example.com",
        idempotency_key=key,
        api_key="sk_test_other_account",
    )
    assert other["id"] != first["id"]


# ---------------------------------------------------------------------------- d. declines


def test_declined_card_raises_card_error_generic_decline(
    stripe_client: stripe.StripeClient,
) -> None:
    """Stripe answers 402 card_error, code card_declined, decline_code generic_decline."""
    with pytest.raises(stripe.CardError) as raised:
        saved_card(stripe_client, "4000000000000002")
    error = raised.value
    assert (error.http_status, error.code, error.user_message) == (
        402,
        "card_declined",
        "Your card was declined.",
    )
    assert error.error is not None
    assert (error.error.type, error.error.decline_code) == ("card_error", "generic_decline")


@pytest.mark.parametrize(
    ("number", "code", "decline_code"),
    [
        ("4000000000009995", "card_declined", "insufficient_funds"),
        ("4000000000009987", "card_declined", "lost_card"),
        ("4000000000009979", "card_declined", "stolen_card"),
        ("4000000000000069", "expired_card", None),
        ("4000000000000127", "incorrect_cvc", None),
        ("4000000000000119", "processing_error", None),
    ],
)
def test_test_cards_decline_with_stripes_codes(
    stripe_client: stripe.StripeClient, number: str, code: str, decline_code: str | None
) -> None:
    """Stripe's declining test cards raise CardError with their documented code and decline code."""
    with pytest.raises(stripe.CardError) as raised:
        saved_card(stripe_client, number)
    assert raised.value.code == code
    assert raised.value.error is not None
    assert raised.value.error.decline_code == decline_code


def test_payment_intent_decline_carries_the_payment_intent(
    stripe_client: stripe.StripeClient,
) -> None:
    """Stripe's confirm decline is a 402 card_error with the failed payment_intent in it."""
    intent_id = intent(stripe_client, number="4000000000000341")  # attaches, fails on charge
    with pytest.raises(stripe.CardError) as raised:
        stripe_client.v1.payment_intents.confirm(intent_id)
    error = raised.value.error
    assert error is not None
    assert (error.code, error.decline_code) == ("card_declined", "generic_decline")
    assert error.payment_intent is not None
    assert (error.payment_intent.id, error.payment_intent.status) == (
        intent_id,
        "requires_payment_method",
    )


def test_declined_payment_intent_has_a_card_error_last_payment_error(
    stripe_client: stripe.StripeClient,
) -> None:
    """Stripe's declined PaymentIntent has last_payment_error of type card_error with its code."""
    intent_id = intent(stripe_client, number="4000000000000341")
    with pytest.raises(stripe.CardError):
        stripe_client.v1.payment_intents.confirm(intent_id)
    error = stripe_client.v1.payment_intents.retrieve(intent_id).last_payment_error
    assert error is not None
    assert (error.type, error.code, error.decline_code) == (
        "card_error",
        "card_declined",
        "generic_decline",
    )


def test_unattached_declining_card_is_declined_on_confirm(
    stripe_client: stripe.StripeClient,
) -> None:
    """Stripe declines pm_card_visa_chargeDeclined (4000000000000002) when the PaymentIntent is confirmed."""  # noqa: E501
    created = stripe_client.v1.payment_intents.create(
        params={"amount": 700, "currency": "eur", "payment_method": "pm_card_visa_chargeDeclined"}
    )
    with pytest.raises(stripe.CardError) as raised:
        stripe_client.v1.payment_intents.confirm(created.id)
    assert raised.value.error is not None
    assert raised.value.error.decline_code == "generic_decline"


# ---------------------------------------------------------------------------- e. latest_charge


def test_confirm_returns_latest_charge_as_an_id(stripe_client: stripe.StripeClient) -> None:
    """Stripe returns latest_charge as the charge id unless it is expanded."""
    confirmed = call(stripe_client, "post", f"/v1/payment_intents/{intent(stripe_client)}/confirm")
    assert isinstance(confirmed["latest_charge"], str)
    assert confirmed["latest_charge"].startswith("ch_")


def test_retrieve_returns_latest_charge_as_an_id(stripe_client: stripe.StripeClient) -> None:
    """Stripe's PaymentIntent retrieval returns latest_charge as an id by default."""
    intent_id = intent(stripe_client)
    call(stripe_client, "post", f"/v1/payment_intents/{intent_id}/confirm")
    retrieved = call(stripe_client, "get", f"/v1/payment_intents/{intent_id}")
    assert isinstance(retrieved["latest_charge"], str)


def test_retrieve_expands_latest_charge_when_asked(stripe_client: stripe.StripeClient) -> None:
    """Stripe embeds the charge object when retrieval asks for expand[]=latest_charge."""
    intent_id = intent(stripe_client)
    call(stripe_client, "post", f"/v1/payment_intents/{intent_id}/confirm")
    retrieved = stripe_client.v1.payment_intents.retrieve(
        intent_id, params={"expand": ["latest_charge"]}
    )
    assert isinstance(retrieved.latest_charge, stripe.Charge)


def test_create_with_confirm_returns_latest_charge_as_an_id(
    stripe_client: stripe.StripeClient,
) -> None:
    """Stripe's create with confirm=true returns latest_charge as an id."""
    customer_id, card_id = saved_card(stripe_client)
    created = call(
        stripe_client,
        "post",
        "/v1/payment_intents",
        amount=900,
        currency="eur",
        customer=customer_id,
        payment_method=card_id,
        confirm=True,
    )
    assert created["status"] == "succeeded"
    assert isinstance(created["latest_charge"], str)


# ---------------------------------------------------------------------------- f. unknown ids


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/v1/customers/cus_missing", "No such customer: 'cus_missing'"),
        ("/v1/payment_intents/pi_missing", "No such payment_intent: 'pi_missing'"),
        ("/v1/refunds/re_missing", "No such refund: 're_missing'"),
    ],
)
def test_unknown_id_is_404_resource_missing(
    stripe_client: stripe.StripeClient, path: str, message: str
) -> None:
    """Stripe answers an unknown id with 404 invalid_request_error, code resource_missing."""
    with pytest.raises(stripe.InvalidRequestError) as raised:
        call(stripe_client, "get", path)
    error = raised.value
    assert (error.http_status, error.code, error.user_message) == (404, "resource_missing", message)


# ---------------------------------------------------------------------------- h. request ids


def test_every_answer_carries_its_own_request_id(stripe_client: stripe.StripeClient) -> None:
    """Stripe sends a unique Request-Id (req_...) with every answer, errors and replays too."""
    key = uuid.uuid4().hex
    ids = [
        stripe_client.raw_request("post", "/v1/customers", idempotency_key=key).request_id,
        stripe_client.raw_request("post", "/v1/customers", idempotency_key=key).request_id,
    ]
    with pytest.raises(stripe.InvalidRequestError) as raised:
        call(stripe_client, "get", "/v1/customers/cus_missing")
    ids.append(raised.value.request_id)

    assert (3, True) == (
        len(set(ids)),
        all(isinstance(i, str) and i.startswith("req_") for i in ids),
    )


# ---------------------------------------------------------------------------- i. which id


def test_an_unknown_id_in_the_url_names_id(stripe_client: stripe.StripeClient) -> None:
    """Stripe (https://docs.stripe.com/api/errors: `param`, "the parameter the error relates
    to"): an unknown id in the URL is a 404 resource_missing with param "id"."""
    with pytest.raises(stripe.InvalidRequestError) as raised:
        call(stripe_client, "post", "/v1/customers/cus_missing/sources", source="tok_visa")

    assert (404, "resource_missing", "id") == (
        raised.value.http_status, raised.value.code, raised.value.param
    )  # fmt: skip


@pytest.mark.parametrize("param", ["source", "customer"])
def test_an_unknown_id_given_as_a_parameter_is_a_400_naming_it(
    stripe_client: stripe.StripeClient, param: str
) -> None:
    """An unknown id given as a parameter is a 400 resource_missing naming that parameter, as
    Stripe answers `"param": "customer"` for an unknown customer."""
    owner = customer(stripe_client)
    params: dict[str, object]
    if param == "source":
        path, params = f"/v1/customers/{owner}/sources", {"source": "tok_missing"}
    else:
        path, params = "/v1/payment_intents", {
            "amount": 500, "currency": "eur", "customer": "cus_missing"}  # fmt: skip
    with pytest.raises(stripe.InvalidRequestError) as raised:
        call(stripe_client, "post", path, **params)

    assert (400, "resource_missing", param) == (
        raised.value.http_status, raised.value.code, raised.value.param
    )  # fmt: skip


# ---------------------------------------------------------------------------- j. token reuse


def test_a_token_attached_twice_is_token_already_used(stripe_client: stripe.StripeClient) -> None:
    """Stripe (https://docs.stripe.com/api/tokens: "You can't store or use tokens more than
    once"; https://docs.stripe.com/error-codes, token_already_used): attaching a used token is a
    400 token_already_used (j)."""
    used = token(stripe_client).id
    sources = stripe_client.v1.customers.payment_sources
    sources.create(customer(stripe_client), params={"source": used})
    with pytest.raises(stripe.InvalidRequestError) as raised:
        sources.create(customer(stripe_client), params={"source": used})

    message = f"You cannot use a Stripe token more than once: {used}."
    assert (400, "token_already_used", message) == (
        raised.value.http_status, raised.value.code, raised.value.user_message
    )  # fmt: skip


def test_a_token_that_made_a_customer_is_used_up(stripe_client: stripe.StripeClient) -> None:
    """Stripe (https://docs.stripe.com/api/tokens): a token given as a new customer's source is
    used; attaching it again is token_already_used (j)."""
    used = token(stripe_client).id
    stripe_client.v1.customers.create(params={"source": used})
    with pytest.raises(stripe.InvalidRequestError) as raised:
        call(stripe_client, "post", f"/v1/customers/{customer(stripe_client)}/sources", source=used)

    assert (400, "token_already_used") == (raised.value.http_status, raised.value.code)


def test_a_token_says_whether_it_was_used(stripe_client: stripe.StripeClient) -> None:
    """Stripe (https://docs.stripe.com/api/tokens/object, `used`): false until the token's first
    use, then true (j)."""
    created = token(stripe_client)
    before = stripe_client.v1.tokens.retrieve(created.id).used
    stripe_client.v1.customers.payment_sources.create(
        customer(stripe_client), params={"source": created.id}
    )
    after = stripe_client.v1.tokens.retrieve(created.id).used

    assert (False, False, True) == (created.used, before, after)


def test_a_retried_attach_is_replayed_not_refused(stripe_client: stripe.StripeClient) -> None:
    """Stripe (https://docs.stripe.com/api/idempotent_requests): a retry with the same key is
    the first request's answer again, not a second use of its token (c, j)."""
    owner, used, key = customer(stripe_client), token(stripe_client).id, uuid.uuid4().hex
    path = f"/v1/customers/{owner}/sources"
    first = stripe_client.raw_request("post", path, source=used, idempotency_key=key)
    again = stripe_client.raw_request("post", path, source=used, idempotency_key=key)

    assert (200, first.body, "true") == (
        again.code, again.body, again.headers.get("Idempotent-Replayed")
    )  # fmt: skip


# ---------------------------------------------------------------------------- k. amounts

# Read from https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts (not from the
# sandbox's table): the settlement currency's minimum, in minor units.
STRIPE_MINIMUMS = [
    ("usd", 50), ("eur", 50), ("gbp", 30), ("jpy", 50), ("czk", 1500), ("huf", 17500),
    ("mxn", 1000), ("thb", 1000), ("hkd", 400), ("dkk", 250),
]  # fmt: skip
# The same page: 8 digits in minor units for most currencies, 12 for IDR, 9 for INR.
STRIPE_MAXIMUMS = [("usd", 99_999_999), ("eur", 99_999_999), ("idr", 999_999_999_999),
                   ("inr", 999_999_999)]  # fmt: skip


def new_payment(client: stripe.StripeClient, amount: int, currency: str) -> stripe.PaymentIntent:
    return client.v1.payment_intents.create(params={"amount": amount, "currency": currency})


@pytest.mark.parametrize(("currency", "minimum"), STRIPE_MINIMUMS)
def test_the_minimum_charge_is_stripes(
    stripe_client: stripe.StripeClient, currency: str, minimum: int
) -> None:
    """Stripe (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts;
    https://docs.stripe.com/error-codes, amount_too_small): a payment of the minimum is created,
    one minor unit less is a 400 amount_too_small on param amount (k)."""
    at = new_payment(stripe_client, minimum, currency)
    with pytest.raises(stripe.InvalidRequestError) as below:
        new_payment(stripe_client, minimum - 1, currency)

    assert (minimum, 400, "amount_too_small", "amount") == (
        at.amount, below.value.http_status, below.value.code, below.value.param
    )  # fmt: skip


def test_the_minimum_charge_message_is_stripes(stripe_client: stripe.StripeClient) -> None:
    """Stripe answers a euro payment below €0.50 with 'Amount must be at least €0.50 eur' (k)."""
    with pytest.raises(stripe.InvalidRequestError) as below:
        new_payment(stripe_client, 49, "eur")

    assert "Amount must be at least €0.50 eur" == below.value.user_message


def test_a_currency_without_a_listed_minimum_takes_one_minor_unit(
    stripe_client: stripe.StripeClient,
) -> None:
    """The sandbox settles each payment in its own currency (docs/sandbox.md): a currency that
    Stripe's minimum table does not list takes 1 minor unit, and refuses 0 (k)."""
    at = new_payment(stripe_client, 1, "sar")
    with pytest.raises(stripe.InvalidRequestError) as below:
        new_payment(stripe_client, 0, "sar")

    assert (1, "amount_too_small") == (at.amount, below.value.code)


@pytest.mark.parametrize(("currency", "maximum"), STRIPE_MAXIMUMS)
def test_the_maximum_charge_is_stripes(
    stripe_client: stripe.StripeClient, currency: str, maximum: int
) -> None:
    """Stripe (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts;
    https://docs.stripe.com/error-codes, amount_too_large): a payment of the maximum is created,
    one minor unit more is a 400 amount_too_large on param amount (k)."""
    at = new_payment(stripe_client, maximum, currency)
    with pytest.raises(stripe.InvalidRequestError) as above:
        new_payment(stripe_client, maximum + 1, currency)

    assert (maximum, 400, "amount_too_large", "amount") == (
        at.amount, above.value.http_status, above.value.code, above.value.param
    )  # fmt: skip


def test_an_update_below_the_minimum_is_amount_too_small(
    stripe_client: stripe.StripeClient,
) -> None:
    """Stripe (https://docs.stripe.com/api/payment_intents/update, `amount`): a new amount below
    the minimum is refused as at creation, and the payment keeps its amount (k)."""
    payment = new_payment(stripe_client, 5000, "eur")
    with pytest.raises(stripe.InvalidRequestError) as raised:
        stripe_client.v1.payment_intents.update(payment.id, params={"amount": 49})
    kept = stripe_client.v1.payment_intents.retrieve(payment.id).amount

    assert ("amount_too_small", "amount", 5000) == (raised.value.code, raised.value.param, kept)


# ---------------------------------------------------------------------------- l. three decimals


@pytest.mark.parametrize("currency", ["bhd", "jod", "kwd", "omr", "tnd"])
def test_a_three_decimal_payment_must_end_in_zero(
    stripe_client: stripe.StripeClient, currency: str
) -> None:
    """Stripe (https://docs.stripe.com/currencies#three-decimal): BHD, JOD, KWD, OMR and TND
    amounts must end in 0; 1235 is a 400 on param amount, 1230 is created (l)."""
    accepted = new_payment(stripe_client, 1230, currency)
    with pytest.raises(stripe.InvalidRequestError) as raised:
        new_payment(stripe_client, 1235, currency)

    assert (1230, 400, "amount", "invalid_charge_amount") == (
        accepted.amount, raised.value.http_status, raised.value.param, raised.value.code
    )  # fmt: skip


def test_a_three_decimal_refund_must_end_in_zero(stripe_client: stripe.StripeClient) -> None:
    """Stripe (https://docs.stripe.com/currencies#three-decimal: "including Payment Intents,
    Refunds"): a KWD refund of 1235 is a 400 on param amount, 1230 is refunded (l)."""
    charge_id = charge(stripe_client, 5000, "kwd")
    with pytest.raises(stripe.InvalidRequestError) as raised:
        stripe_client.v1.refunds.create(params={"charge": charge_id, "amount": 1235})
    refund = stripe_client.v1.refunds.create(params={"charge": charge_id, "amount": 1230})

    assert (400, "amount", 1230) == (raised.value.http_status, raised.value.param, refund.amount)


def test_a_three_decimal_amount_is_written_with_three_decimals(
    stripe_client: stripe.StripeClient,
) -> None:
    """5000 minor units of KWD are 5.000 KWD (https://docs.stripe.com/currencies#three-decimal),
    as a refund's error writes them (b, l)."""
    charge_id = charge(stripe_client, 5000, "kwd")
    with pytest.raises(stripe.InvalidRequestError) as raised:
        stripe_client.v1.refunds.create(params={"charge": charge_id, "amount": 6000})

    assert raised.value.user_message == (
        "Refund amount (6.000 KWD) is greater than unrefunded amount on charge (5.000 KWD)"
    )


# ---------------------------------------------------------------------------- m. key in use


@contextlib.asynccontextmanager
async def async_client(sandbox: Sandbox) -> AsyncIterator[stripe.StripeClient]:
    """A StripeClient on the sandbox over aiohttp, without retries (a 409 is not retried)."""
    http_client = stripe.AIOHTTPClient()
    try:
        yield stripe.StripeClient(
            SANDBOX_API_KEY,
            base_addresses={"api": sandbox.url},
            http_client=http_client,
            max_network_retries=0,
        )
    finally:
        close: Callable[[], Awaitable[None]] = http_client.close_async
        await close()


@contextlib.asynccontextmanager
async def in_flight(
    sandbox: Sandbox, request: Callable[[dict[str, str]], Awaitable[T]]
) -> AsyncIterator[asyncio.Future[T]]:
    """Send ``request`` (given the hold header to send); yield it once the sandbox is holding it
    in flight; release it on leaving, and wait until it has its answer."""
    name = uuid.uuid4().hex
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=60) as control:
        first = asyncio.ensure_future(request({HOLD_HEADER: name}))
        try:
            held = await control.get(f"{HOLD_PATH}/{name}")
            assert (200, {"held": True}) == (held.status_code, held.json())
            yield first
        finally:
            await control.post(f"{HOLD_PATH}/{name}/release")
            await asyncio.wait([first])


async def test_a_request_whose_key_is_in_use_is_409_idempotency_key_in_use(
    sandbox: Sandbox,
) -> None:
    """Stripe (https://docs.stripe.com/api/idempotent_requests; https://docs.stripe.com/error-codes,
    idempotency_key_in_use): while a request executes, another with its key is a 409
    invalid_request_error with code idempotency_key_in_use (m)."""
    email, key = f"{uuid.uuid4().hex}@example.com", uuid.uuid4().hex
    async with async_client(sandbox) as client:

        def create(headers: dict[str, str]) -> Awaitable[stripe.Customer]:
            options: stripe.RequestOptions = {"idempotency_key": key, "headers": headers}
            return client.v1.customers.create_async(params={"email": email}, options=options)

        async with in_flight(sandbox, create):
            with pytest.raises(stripe.APIError) as raised:
                await create({})

    error = raised.value.error
    assert error is not None
    assert (409, "invalid_request_error", "idempotency_key_in_use") == (
        raised.value.http_status, error.type, error.code
    )  # fmt: skip


async def test_payflow_names_the_key_in_use(sandbox: Sandbox) -> None:
    """payflow's Conflict for that 409 carries Stripe's code (the SDK leaves it on `error`),
    so the HTTP API can say what happened."""
    key = uuid.uuid4().hex
    async with (
        async_client(sandbox) as client,
        payflow.Gateway(SANDBOX_API_KEY, api_base=sandbox.url, max_network_retries=0) as gw,
    ):

        def create(headers: dict[str, str]) -> Awaitable[stripe.StripeResponse]:
            return client.raw_request_async(
                "post", "/v1/customers", email="a@example.com", idempotency_key=key,
                headers=headers,
            )  # fmt: skip

        async with in_flight(sandbox, create):
            with pytest.raises(payflow.Conflict) as raised:
                await payflow.create_customer_async(gw, email="a@example.com", idempotency_key=key)

    assert "idempotency_key_in_use" == raised.value.stripe_code


async def test_a_retry_once_the_key_is_free_replays_the_first_answer(sandbox: Sandbox) -> None:
    """Stripe (https://docs.stripe.com/api/idempotent_requests: a request refused as concurrent
    is not saved, "You can retry these requests"): once the first request is done, a retry gets
    its answer, replayed (m)."""
    email, key = f"{uuid.uuid4().hex}@example.com", uuid.uuid4().hex
    async with async_client(sandbox) as client:

        def create(headers: dict[str, str]) -> Awaitable[stripe.StripeResponse]:
            return client.raw_request_async(
                "post", "/v1/customers", email=email, idempotency_key=key, headers=headers
            )

        async with in_flight(sandbox, create) as first:
            with pytest.raises(stripe.APIError):
                await create({})
        retried = await create({})

    assert (first.result().body, "true") == (
        retried.body, retried.headers.get("Idempotent-Replayed")
    )  # fmt: skip


def test_a_key_whose_request_failed_validation_can_be_retried(
    stripe_client: stripe.StripeClient,
) -> None:
    """Stripe (https://docs.stripe.com/api/idempotent_requests: "If incoming parameters fail
    validation ... we don't save the idempotent result ... You can retry these requests"): the
    key is free again once its refused request is done; the retry is refused again, not a 409
    (m)."""
    key = uuid.uuid4().hex
    answers = []
    for _ in range(2):
        with pytest.raises(stripe.InvalidRequestError) as raised:
            call(stripe_client, "post", "/v1/customers", no_such_param="x", idempotency_key=key)
        answers.append(raised.value.http_status)

    assert [400, 400] == answers


async def test_concurrent_requests_with_the_same_key_execute_once(sandbox: Sandbox) -> None:
    """Stripe never executes two requests with one key: while the first executes, seven more
    are each a 409, and one customer exists (c, m)."""
    email, key = f"{uuid.uuid4().hex}@example.com", uuid.uuid4().hex
    async with async_client(sandbox) as client:

        def create(headers: dict[str, str]) -> Awaitable[stripe.Customer]:
            options: stripe.RequestOptions = {"idempotency_key": key, "headers": headers}
            return client.v1.customers.create_async(params={"email": email}, options=options)

        async with in_flight(sandbox, create) as first:
            others = await asyncio.gather(*(create({}) for _ in range(7)), return_exceptions=True)
        listed = await client.v1.customers.list_async(params={"email": email})

    assert [409] * 7 == [getattr(other, "http_status", other) for other in others]
    assert [first.result().id] == [c.id for c in listed.data]


# ---------------------------------------------------------------------------- n. API keys


@contextlib.contextmanager
def client_with(sandbox: Sandbox, api_key: str) -> Iterator[stripe.StripeClient]:
    http_client = stripe.RequestsClient()
    try:
        yield stripe.StripeClient(
            api_key,
            base_addresses={"api": sandbox.url},
            http_client=http_client,
            max_network_retries=0,
        )
    finally:
        close: Callable[[], None] = http_client.close
        close()


@pytest.mark.parametrize("key", ["sk_live_51NotARealKeyAtAll", "rk_live_51NotARealKeyAtAll"])
def test_a_live_key_is_refused(sandbox: Sandbox, key: str) -> None:
    """The sandbox is test mode only (https://docs.stripe.com/api/authentication: live keys are
    sk_live_...): a live key is a 401 invalid_request_error that says so, without the key (n)."""
    with client_with(sandbox, key) as client, pytest.raises(stripe.AuthenticationError) as raised:
        client.v1.customers.list()

    error = raised.value
    assert error.error is not None
    assert (401, "invalid_request_error", True, False) == (
        error.http_status, error.error.type, "live mode" in str(error.user_message),
        key[8:] in str(error.http_body),
    )  # fmt: skip


@pytest.mark.parametrize("key", ["pk_test_51NotASecretKey", "whsec_51NotAnApiKey", "sk_51NoMode"])
def test_a_key_that_is_not_a_test_secret_key_is_refused(sandbox: Sandbox, key: str) -> None:
    """Stripe (https://docs.stripe.com/keys: "If a request doesn't include a valid key, Stripe
    returns an invalid request error"; https://docs.stripe.com/api/errors: 401): any other key is
    a 401 'Invalid API Key provided', which never shows the key (n)."""
    with client_with(sandbox, key) as client, pytest.raises(stripe.AuthenticationError) as raised:
        client.v1.customers.create(params={"email": "x@example.com"})

    error = raised.value
    assert (401, True, False) == (
        error.http_status, str(error.user_message).startswith("Invalid API Key provided"),
        key[8:] in str(error.http_body),
    )  # fmt: skip


def test_a_restricted_test_key_is_accepted(sandbox: Sandbox) -> None:
    """Stripe (https://docs.stripe.com/api/authentication: "you can use restricted API keys"):
    a test restricted key (rk_test_...) is taken like a test secret key (n)."""
    with client_with(sandbox, "rk_test_51RestrictedKey") as client:
        created = client.v1.customers.create(params={"email": "rk@example.com"})

    assert "rk@example.com" == created.email


def test_a_request_without_a_key_is_told_to_send_one(sandbox: Sandbox) -> None:
    """Stripe (https://docs.stripe.com/api/authentication: "API requests without authentication
    will also fail"): no key is a 401 invalid_request_error asking for one (n). The SDK never
    sends such a request, so this one goes without it."""
    with httpx.Client(base_url=sandbox.url) as http:
        answer = http.get("/v1/customers")

    error = answer.json()["error"]
    asked = error["message"].startswith("You did not provide an API key")
    assert (401, "invalid_request_error", True) == (answer.status_code, error["type"], asked)
