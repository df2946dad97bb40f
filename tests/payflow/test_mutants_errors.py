"""Stripe's errors and answers as payflow translates them: behaviours mutation testing found
untested (docs/mutation.md). The answers come from a scripted Stripe over real HTTP, through the
SDK."""

from __future__ import annotations

import asyncio

import pytest

import payflow
from payflow._gateway import translate
from tests.payflow.servers import CUSTOMER, answer, read_request, scripted
from tests.payflow.test_errors import invalid_request
from tests.payflow.test_transport import no_proxy_env  # noqa: F401  # the fixture, used below

KEY = "sk_test_scripted"
# A PaymentIntent as Stripe sends it (https://docs.stripe.com/api/payment_intents/object).
INTENT = (
    '{"id": "pi_1", "object": "payment_intent", "amount": %s, "currency": "eur",'
    ' "status": "%s", "customer": "cus_1", "payment_method": "pm_1", "latest_charge": null}'
)


def get_payment_answered(body: bytes) -> payflow.Payment:
    """get_payment against a Stripe that answers 200 with `body`."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer(200, body))
        await writer.drain()

    with (
        scripted(script) as url,
        payflow.Gateway(KEY, api_base=url, max_network_retries=0) as gw,
    ):
        return payflow.get_payment(gw, "pi_1")


@pytest.mark.usefixtures("no_proxy_env")
def test_a_well_formed_answer_is_read() -> None:
    """A PaymentIntent as Stripe documents it becomes a Payment."""
    payment = get_payment_answered((INTENT % (5000, "requires_confirmation")).encode())

    assert ("pi_1", payflow.Money.from_minor_units(5000, "eur")) == (payment.id, payment.amount)


@pytest.mark.parametrize(
    "body",
    [
        b"[]",  # not a JSON object
        CUSTOMER,  # another object: no amount (KeyError)
        (INTENT % ('"5000"', "succeeded")).encode(),  # an amount that is not an integer
        (INTENT % (5000, "paid")).encode(),  # a status Stripe does not document
    ],
)
@pytest.mark.usefixtures("no_proxy_env")
def test_an_answer_payflow_cannot_read_is_a_stripe_server_error(body: bytes) -> None:
    """An answer payflow cannot read is a StripeServerError, never a KeyError or a guess
    (payflow's error hierarchy: "Stripe failed, or answered something payflow cannot read")."""
    with pytest.raises(payflow.StripeServerError):
        get_payment_answered(body)


def test_any_404_is_not_found() -> None:
    """A 404 is "the requested resource doesn't exist" (https://docs.stripe.com/api/errors),
    with or without the code resource_missing: an unrecognized URL has none."""
    error = translate(invalid_request("Unrecognized request URL (GET: /v1/nope).", status=404))

    assert payflow.NotFound is type(error)
