"""3-D Secure over HTTP, end to end through a real `payflow serve --sandbox` process.

The payer's browser is played by httpx (the challenge page works without JavaScript), and the
shop's return page is a listener the test runs. What each test expects is Stripe's documented
behaviour (https://docs.stripe.com/payments/3d-secure, https://docs.stripe.com/testing).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, get_args

import httpx
import pytest

import payflow
from payflow_asgi._messages import CATALOG
from payflow_asgi._routes import ROUTES
from tests.payflow.test_three_d_secure import STRIPE_TEST_CARDS, Buttons, Listener
from tests.payflow_asgi.asgi_support import (
    EXP_YEAR,
    closed_port,
    start_serve,
    stop_serve,
    wait_until_serving,
)

VISA = "4242424242424242"
ALWAYS_AUTHENTICATE = "4000002760003184"
CONFIRMED = {"Pago confirmado correctamente", "Payment confirmed"}


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """A client of a `payflow serve --sandbox` process, stopped after the module."""
    process = start_serve("--sandbox", "--port", str(closed_port()))
    with httpx.Client(base_url=wait_until_serving(process), timeout=30) as client:
        yield client
    stop_serve(process)


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    started = Listener()
    yield started
    started.close()


def answer(response: httpx.Response) -> dict[str, Any]:
    assert 200 == response.status_code, response.text
    body: dict[str, Any] = response.json()
    assert True is body["status"]
    return body


def new_payment(http: httpx.Client, number: str = ALWAYS_AUTHENTICATE) -> str:
    """A payment of 50.00 EUR with a card of `number` saved on a new customer: its id."""
    customer = answer(http.post("/api/customers", json={"email": "sca@example.com"}))["data"]
    details = {"number": number, "exp_month": 12, "exp_year": EXP_YEAR, "cvc": "123"}
    token = answer(http.post("/api/cards", json=details))["data"]["token_id"]
    body = {"userId": customer["id"], "source": token}
    card_id = answer(http.post("/api/cards/assign", json=body))["data"]["cardId"]
    body = {"customer_id": customer["id"], "amount": "50.00", "payment_method": card_id}
    return str(answer(http.post("/api/payments", json=body))["data"]["id"])


def confirm(http: httpx.Client, payment_id: str, **more: str) -> dict[str, Any]:
    return answer(http.post("/api/payments/confirm", json={"paymentId": payment_id, **more}))


def press(url: str, button: str) -> httpx.Response:
    """As the payer's browser: open the bank's page, press `button`, follow the redirect."""
    with httpx.Client(follow_redirects=True, timeout=30) as browser:
        page = browser.get(url)
        buttons = Buttons()
        buttons.feed(page.text)
        return browser.post(page.url.join(buttons.actions[button]))


def status_of(http: httpx.Client, payment_id: str) -> dict[str, Any]:
    body = answer(http.get(f"/api/payments/{payment_id}"))
    assert ("Estado del pago", payment_id) == (body["message"], body["data"]["id"])
    data: dict[str, Any] = body["data"]
    return data


def test_authentication_is_asked_for_and_never_called_confirmed(
    http: httpx.Client, listener: Listener
) -> None:
    """A card that always asks for 3-D Secure: confirm answers 200 with the authentication
    message, requires_action, a redirect to the bank's page and the client secret."""
    payment_id = new_payment(http)

    body = confirm(http, payment_id, returnUrl=listener.url)

    assert (
        "El pago requiere la autenticación del titular de la tarjeta (3-D Secure)"
        == (body["message"])
    )
    data = body["data"]
    assert ("requires_action", "redirect_to_url", listener.url, []) == (
        data["status"], data["next_action"]["type"], data["next_action"]["return_url"],
        data["charges"]["data"],
    )  # fmt: skip
    assert data["client_secret"].startswith(f"{payment_id}_secret_")


def test_without_a_return_url_stripe_js_must_authenticate(http: httpx.Client) -> None:
    """Without returnUrl the next action is use_stripe_sdk, as at Stripe; in English too."""
    payment_id = new_payment(http)

    response = http.post(
        "/api/payments/confirm", json={"paymentId": payment_id}, headers={"Accept-Language": "en"}
    )

    assert ("The payment requires the cardholder's authentication (3-D Secure)", {
        "type": "use_stripe_sdk"}) == (answer(response)["message"], answer(response)["data"][
        "next_action"])  # fmt: skip


def test_completing_authentication_pays_and_refunds(http: httpx.Client, listener: Listener) -> None:
    """Complete on the bank's page: the browser lands on the return URL with Stripe's query, the
    payment has succeeded with one charge, and that charge can be refunded."""
    payment_id = new_payment(http)
    action = confirm(http, payment_id, returnUrl=listener.url)["data"]
    received = len(listener.received)

    landed = press(action["next_action"]["url"], "Complete authentication")

    assert 200 == landed.status_code
    assert {
        "payment_intent": [payment_id],
        "payment_intent_client_secret": [action["client_secret"]],
        "redirect_status": ["succeeded"],
    } == listener.received[received]
    state = status_of(http, payment_id)
    assert ("succeeded", 1, 0, None) == (
        state["status"], len(state["charges"]["data"]), state["amount_refunded"],
        state["next_action"],
    )  # fmt: skip
    charge = state["charges"]["data"][0]["id"]
    refund = answer(http.post("/api/payments/refund", json={"chargeId": charge, "amount": 20}))
    assert (2000, 2000) == (
        refund["data"]["amount"],
        status_of(http, payment_id)["amount_refunded"],
    )


def test_failing_authentication_is_surfaced_and_another_card_completes_it(
    http: httpx.Client, listener: Listener
) -> None:
    """Fail on the bank's page: redirect_status failed, the payment is not paid and says
    payment_intent_authentication_failure; confirmed again with a card that needs no
    authentication, it succeeds."""
    payment_id = new_payment(http)
    action = confirm(http, payment_id, returnUrl=listener.url)["data"]
    received = len(listener.received)

    press(action["next_action"]["url"], "Fail authentication")

    assert ["failed"] == listener.received[received]["redirect_status"]
    state = status_of(http, payment_id)
    assert ("requires_payment_method", "payment_intent_authentication_failure") == (
        state["status"], state["last_payment_error"]["code"]
    )  # fmt: skip
    other = new_payment(http, VISA)
    visa = status_of(http, other)["payment_method"]
    again = confirm(http, payment_id, paymentMethod=visa)
    assert ("Pago confirmado correctamente", "succeeded", 1) == (
        again["message"], again["data"]["status"], len(again["data"]["charges"]["data"])
    )  # fmt: skip


def test_a_card_without_authentication_answers_as_the_spec_shows(http: httpx.Client) -> None:
    """4242...: confirmed at once, in exactly the spec's shape (no next_action, no secret)."""
    body = confirm(http, new_payment(http, VISA))

    assert ("Pago confirmado correctamente", ["amount", "charges", "currency", "id", "status"]) == (
        body["message"], sorted(body["data"])
    )  # fmt: skip


@pytest.mark.parametrize(("number", "expected"), STRIPE_TEST_CARDS.items())
def test_no_test_card_is_called_confirmed_unless_it_succeeded(
    http: httpx.Client, listener: Listener, number: str, expected: str
) -> None:
    """Every test card through confirm: the confirmation message and status true come only with
    a payment that succeeded; a decline is a 402; what Stripe documents for each card holds."""
    try:
        payment_id = new_payment(http, number)
    except AssertionError:
        assert "declined" == expected  # declined when the card was saved
        return
    response = http.post(
        "/api/payments/confirm", json={"paymentId": payment_id, "returnUrl": listener.url}
    )
    body = response.json()
    status = body["data"]["status"] if body["status"] else "declined"

    assert expected == status
    assert (body["status"] and body["message"] in CONFIRMED) == (status == "succeeded")
    assert (402 if status == "declined" else 200) == response.status_code


def test_cancel_and_an_unknown_payment(http: httpx.Client) -> None:
    """A payment waiting for authentication can be canceled; an unknown one is a 404 naming
    the id; a GET of a route that only takes POST is still a 405."""
    payment_id = new_payment(http)
    confirm(http, payment_id)

    canceled = answer(http.post("/api/payments/cancel", json={"paymentId": payment_id}))
    missing = http.get("/api/payments/pi_missing")

    assert ("Pago cancelado correctamente", "canceled") == (
        canceled["message"], canceled["data"]["status"]
    )  # fmt: skip
    assert (404, {"code": "not_found", "field": "id"}) == (
        missing.status_code, {k: v for k, v in missing.json()["error"].items() if k != "request_id"}
    )  # fmt: skip
    assert 405 == http.get("/api/payments/confirm").status_code


@pytest.mark.parametrize(
    "url", ["ftp://shop.example/back", "http://shop.example/back", "/back", "https://"]
)
def test_a_return_url_that_is_not_https_is_a_400_naming_it(http: httpx.Client, url: str) -> None:
    """returnUrl must be https://, or http:// to localhost or 127.0.0.1."""
    response = http.post(
        "/api/payments/confirm",
        json={"paymentId": "pi_1", "returnUrl": url},
        headers={"Accept-Language": "en"},
    )

    assert (400, "returnUrl") == (response.status_code, response.json()["error"]["field"])
    assert (
        "The field “returnUrl” must be an absolute https:// address (http:// only to “localhost”"
        " or “127.0.0.1”, for development)."
    ) == response.json()["message"]


@pytest.mark.parametrize("status", get_args(payflow.PaymentStatus))
def test_only_a_succeeded_payment_is_called_confirmed(status: payflow.PaymentStatus) -> None:
    """Whatever status Stripe answers a confirmation with (its PaymentIntent lifecycle:
    https://docs.stripe.com/payments/paymentintents/lifecycle), the spec's "confirmed" message
    goes with succeeded alone; requires_action and processing say what is still to come."""
    route = next(route for route in ROUTES if route.name == "payments.confirm")
    money = payflow.Money(50)
    payment = payflow.Payment(
        "pi_1",
        money,
        status,
        None,
        None,
        amount_refunded=payflow.Money(0),
    )
    expected = {
        "succeeded": "Pago confirmado correctamente",
        "requires_action": (
            "El pago requiere la autenticación del titular de la tarjeta (3-D Secure)"
        ),
        "processing": "El pago se está procesando; su resultado llegará más tarde",
    }.get(status, "El pago no se ha completado; consulte su estado en «status»")

    assert expected == CATALOG[route.message_for(payment)]["es"]
