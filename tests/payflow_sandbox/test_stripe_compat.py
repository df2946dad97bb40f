"""The sandbox answers the payflow workflow as real Stripe does, through the real stripe SDK.

Each compatibility test names the real Stripe behaviour it reproduces (gaps a-i of
``payflow_sandbox._compat``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import stripe

from payflow_sandbox import Sandbox

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


def intent(client: stripe.StripeClient, amount: int = 5000, number: str = VISA) -> str:
    customer_id, card_id = saved_card(client, number)
    # stripe 16.1's typed params call this allowed_payment_method_types; payflow and
    # localstripe use payment_method_types.
    created = call(
        client,
        "post",
        "/v1/payment_intents",
        amount=amount,
        currency="eur",
        customer=customer_id,
        payment_method=card_id,
        payment_method_types=["card"],
    )
    intent_id = created["id"]
    assert isinstance(intent_id, str)
    return intent_id


def charge(client: stripe.StripeClient, amount: int = 5000) -> str:
    """A succeeded charge of ``amount`` cents, through a confirmed PaymentIntent."""
    confirmed = call(client, "post", f"/v1/payment_intents/{intent(client, amount)}/confirm")
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


async def test_concurrent_requests_with_the_same_key_execute_once(sandbox: Sandbox) -> None:
    """Stripe never executes two requests with one key: concurrent ones get the same result."""
    http_client = stripe.AIOHTTPClient()
    client = stripe.StripeClient(
        "sk_test_sandbox",
        base_addresses={"api": sandbox.url},
        http_client=http_client,
        max_network_retries=0,
    )
    email = f"{uuid.uuid4().hex}@example.com"
    options: stripe.RequestOptions = {"idempotency_key": uuid.uuid4().hex}
    try:
        created = await asyncio.gather(
            *(
                client.v1.customers.create_async(params={"email": email}, options=options)
                for _ in range(8)
            )
        )
        listed = await client.v1.customers.list_async(params={"email": email})
    finally:
        close: Callable[[], Awaitable[None]] = http_client.close_async
        await close()
    assert {c.id for c in created} == {listed.data[0].id}
    assert len(listed.data) == 1


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
