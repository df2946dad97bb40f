"""3-D Secure through payflow: the real SDK, over real HTTP, to the sandbox; sync and async.

A payer's browser is played by httpx: it opens the challenge page that `next_action` names,
submits one of its forms and follows the redirect to a listener this test runs, standing in for
the shop's return page. What each test expects is Stripe's documented behaviour
(https://docs.stripe.com/payments/3d-secure, https://docs.stripe.com/testing#regulatory-cards).
"""

from __future__ import annotations

import http.server
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import attrs
import httpx
import pytest

import payflow
from payflow import (
    CardDeclined,
    Conflict,
    InvalidRequest,
    Money,
    NotFound,
    Payment,
    RedirectToUrl,
    UseStripeSdk,
)
from payflow_sandbox import Sandbox

Form = Literal["sync", "async"]
VISA = "4242424242424242"
ALWAYS_AUTHENTICATE = "4000002760003184"
FIFTY = Money(Decimal("50.00"), "eur")


class Listener:
    """The shop's return page: a loopback HTTP server that records the queries it receives."""

    def __init__(self) -> None:
        received: list[dict[str, list[str]]] = []
        self.received = received

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                received.append(parse_qs(urlsplit(self.path).query))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the query holds a client secret."""

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/paid"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    started = Listener()
    yield started
    started.close()


class Buttons(HTMLParser):
    """Each POST form's button text and action."""

    def __init__(self) -> None:
        super().__init__()
        self.actions: dict[str, str] = {}
        self._action: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form" and found.get("method") == "post":
            self._action = found.get("action")

    def handle_data(self, data: str) -> None:
        if self._action is not None and data.strip():
            self.actions[data.strip()] = self._action

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._action = None


def authenticate(payment: Payment, button: str) -> httpx.Response:
    """As the payer's browser: open the bank's page, press `button`, follow the redirect."""
    assert isinstance(payment.next_action, RedirectToUrl)
    with httpx.Client(follow_redirects=True) as browser:
        page = browser.get(payment.next_action.url)
        buttons = Buttons()
        buttons.feed(page.text)
        return browser.post(page.url.join(buttons.actions[button]))


class Payments:
    """The setup steps (sync), and the 3-D Secure steps in one form, awaitable either way."""

    def __init__(self, gw: payflow.Gateway, form: Form) -> None:
        self.gw = gw
        self.form = form

    def card(self, number: str) -> tuple[str, str]:
        customer = payflow.create_customer(self.gw, email="sca@example.com")
        token = payflow.create_card_token(
            self.gw, number=number, exp_month=12, exp_year=2034, cvc="123"
        )
        card = payflow.assign_card(self.gw, customer_id=customer.id, source=token.id)
        return customer.id, card.id

    def create(self, number: str = ALWAYS_AUTHENTICATE) -> Payment:
        customer_id, card_id = self.card(number)
        return payflow.create_payment(
            self.gw, customer_id=customer_id, amount=FIFTY, payment_method=card_id
        )

    async def confirm(self, payment_id: str, **kw: Any) -> Payment:
        if self.form == "async":
            return await payflow.confirm_payment_async(self.gw, payment_id, **kw)
        return payflow.confirm_payment(self.gw, payment_id, **kw)

    async def get(self, payment_id: str) -> Payment:
        if self.form == "async":
            return await payflow.get_payment_async(self.gw, payment_id)
        return payflow.get_payment(self.gw, payment_id)

    async def cancel(self, payment_id: str) -> Payment:
        if self.form == "async":
            return await payflow.cancel_payment_async(self.gw, payment_id)
        return payflow.cancel_payment(self.gw, payment_id)

    async def refund(self, charge_id: str) -> payflow.Refund:
        if self.form == "async":
            return await payflow.refund_async(self.gw, charge_id=charge_id)
        return payflow.refund(self.gw, charge_id=charge_id)


@pytest.fixture(params=["sync", "async"])
async def payments(request: pytest.FixtureRequest, sandbox: Sandbox) -> AsyncIterator[Payments]:
    async with payflow.Gateway(
        "sk_test_payflow", api_base=sandbox.url, max_network_retries=0
    ) as gw:
        yield Payments(gw, request.param)


async def test_3ds_card_requires_action_with_a_redirect(
    payments: Payments, listener: Listener
) -> None:
    """With a return_url, Stripe asks for a redirect and moves no money yet."""
    payment = await payments.confirm(payments.create().id, return_url=listener.url)

    assert ("requires_action", (), listener.url) == (
        payment.status,
        payment.charges,
        getattr(payment.next_action, "return_url", None),
    )


async def test_3ds_card_without_return_url_asks_for_stripe_js(payments: Payments) -> None:
    """Without a return_url, Stripe's next action is use_stripe_sdk, with a client secret."""
    created = payments.create()
    payment = await payments.confirm(created.id)

    assert (UseStripeSdk(), True) == (
        payment.next_action,
        str(payment.client_secret).startswith(created.id + "_secret_"),
    )


async def test_complete_lands_on_the_return_url_with_stripes_query(
    payments: Payments, listener: Listener
) -> None:
    """Completing authentication lands on the return_url: payment, client secret, succeeded."""
    payment = await payments.confirm(payments.create().id, return_url=listener.url)
    landed = authenticate(payment, "Complete authentication")

    assert (200, listener.url) == (landed.status_code, str(landed.url).split("?")[0])
    assert {
        "payment_intent": [payment.id],
        "payment_intent_client_secret": [payment.client_secret],
        "redirect_status": ["succeeded"],
    } == listener.received[-1]


async def test_completed_payment_succeeded_with_one_charge_and_refunds(
    payments: Payments, listener: Listener
) -> None:
    """After authentication get_payment says succeeded with one paid charge, which refunds."""
    payment = await payments.confirm(payments.create().id, return_url=listener.url)
    authenticate(payment, "Complete authentication")
    paid = await payments.get(payment.id)
    (charge,) = paid.charges
    await payments.refund(charge.id)

    assert ("succeeded", None, True, FIFTY) == (
        paid.status,
        paid.next_action,
        charge.paid,
        charge.amount,
    )
    assert FIFTY == (await payments.get(payment.id)).amount_refunded


async def test_fail_lands_on_the_return_url_with_failed(
    payments: Payments, listener: Listener
) -> None:
    """Failing authentication lands on the return_url with redirect_status=failed."""
    payment = await payments.confirm(payments.create().id, return_url=listener.url)
    authenticate(payment, "Fail authentication")

    assert (["failed"], [payment.id]) == (
        listener.received[-1]["redirect_status"],
        listener.received[-1]["payment_intent"],
    )


async def test_failed_payment_surfaces_the_authentication_failure(
    payments: Payments, listener: Listener
) -> None:
    """Stripe leaves it requires_payment_method; its last error is the authentication failure."""
    payment = await payments.confirm(payments.create().id, return_url=listener.url)
    authenticate(payment, "Fail authentication")
    failed = await payments.get(payment.id)

    assert failed.last_payment_error is not None
    assert ("requires_payment_method", "payment_intent_authentication_failure", ()) == (
        failed.status,
        failed.last_payment_error.code,
        failed.charges,
    )


async def test_another_card_completes_a_failed_payment(
    payments: Payments, listener: Listener
) -> None:
    """A later confirm with a card that needs no authentication completes it."""
    payment = await payments.confirm(payments.create().id, return_url=listener.url)
    authenticate(payment, "Fail authentication")
    _, visa = payments.card(VISA)
    paid = await payments.confirm(payment.id, payment_method=visa)

    assert ("succeeded", 1, None) == (paid.status, len(paid.charges), paid.last_payment_error)


async def test_card_without_authentication_goes_straight_to_succeeded(
    payments: Payments, listener: Listener
) -> None:
    """A card that needs no authentication succeeds at once, return_url or not."""
    payment = await payments.confirm(payments.create(VISA).id, return_url=listener.url)

    assert ("succeeded", None, 1) == (payment.status, payment.next_action, len(payment.charges))


# Every test card the sandbox knows, and what Stripe's testing page says confirming it gives:
# https://docs.stripe.com/testing (#cards, #declined-payments, #regulatory-cards, #three-ds-cards).
# "declined": Stripe raises a card error, when the card is saved or when the payment is confirmed.
STRIPE_TEST_CARDS = {
    "4242424242424242": "succeeded",
    "4000056655665556": "succeeded",
    "5555555555554444": "succeeded",
    "4000000000003055": "succeeded",  # 3D Secure supported, not required
    "4000002500003155": "requires_action",
    "4000002760003184": "requires_action",
    "4000008260003178": "requires_action",
    "4000000000003220": "requires_action",
    "4000000000003063": "requires_action",
    "4000008400001629": "requires_action",
    "4000000000000002": "declined",
    "4000000000009995": "declined",
    "4000000000009987": "declined",
    "4000000000009979": "declined",
    "4000000000000069": "declined",
    "4000000000000127": "declined",
    "4000000000000119": "declined",
    "4000000000000341": "declined",
}


@pytest.mark.parametrize(("number", "expected"), STRIPE_TEST_CARDS.items())
async def test_every_test_card_confirms_to_stripes_status(
    payments: Payments, listener: Listener, number: str, expected: str
) -> None:
    """Each test card confirms to the status Stripe documents; only a good one is succeeded."""
    payment_id, status = None, "declined"
    try:
        payment_id = payments.create(number).id
        status = (await payments.confirm(payment_id, return_url=listener.url)).status
    except CardDeclined:
        pass
    if payment_id is not None and status != "succeeded":
        # Whatever stopped it, the payment itself is not paid.
        assert "succeeded" != (await payments.get(payment_id)).status

    assert expected == status


async def test_get_unknown_payment_is_not_found(payments: Payments) -> None:
    """get_payment of a PaymentIntent that does not exist is NotFound."""
    with pytest.raises(NotFound):
        await payments.get("pi_doesnotexist")


async def test_get_returns_what_confirm_returned(payments: Payments, listener: Listener) -> None:
    """get_payment reads the same payment that confirm answered (client secret included)."""
    payment = await payments.confirm(payments.create().id, return_url=listener.url)
    fetched = await payments.get(payment.id)

    assert attrs.evolve(payment, next_action=None) == attrs.evolve(fetched, next_action=None)
    assert isinstance(fetched.next_action, RedirectToUrl)


async def test_cancel_a_payment_waiting_for_authentication(payments: Payments) -> None:
    """A payment that will not be completed is canceled."""
    payment = await payments.confirm(payments.create().id)

    assert "canceled" == (await payments.cancel(payment.id)).status


async def test_cancel_a_succeeded_payment_is_conflict(payments: Payments) -> None:
    """Stripe refuses to cancel a payment that succeeded (payment_intent_unexpected_state)."""
    payment = await payments.confirm(payments.create(VISA).id)
    with pytest.raises(Conflict) as raised:
        await payments.cancel(payment.id)

    assert "payment_intent_unexpected_state" == raised.value.stripe_code


@pytest.mark.parametrize(
    "url",
    ["http://shop.example/paid", "shop.example/paid", "javascript:alert(1)", "https://"],
)
async def test_bad_return_url_is_refused_before_any_request(payments: Payments, url: str) -> None:
    """A return_url that is not https (or http to this machine) names its field."""
    with pytest.raises(InvalidRequest) as raised:
        await payments.confirm("pi_any", return_url=url)

    assert "return_url" == raised.value.field


@pytest.mark.parametrize("step", ["confirm", "get", "cancel"])
async def test_an_id_that_is_not_a_payment_is_refused(payments: Payments, step: str) -> None:
    """A charge id where a PaymentIntent id is expected is refused before any request."""
    with pytest.raises(InvalidRequest) as raised:
        await getattr(payments, step)("ch_123")

    assert "payment_id" == raised.value.field


async def test_client_secret_is_in_no_repr_and_no_log(
    payments: Payments, listener: Listener, caplog: pytest.LogCaptureFixture
) -> None:
    """The client secret, and the URL of the bank's page, appear in no repr, str or log record."""
    caplog.set_level(logging.DEBUG)
    payment = await payments.confirm(payments.create().id, return_url=listener.url)
    fetched = await payments.get(payment.id)
    assert isinstance(payment.next_action, RedirectToUrl)
    secrets = [str(payment.client_secret), payment.next_action.url]
    shown = [repr(payment), str(payment), repr(fetched), repr(payment.next_action)]
    shown += [record.getMessage() for record in caplog.records]

    assert [] == [secret for secret in secrets for text in shown if secret in text]
