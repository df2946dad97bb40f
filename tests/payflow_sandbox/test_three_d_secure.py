"""The sandbox's 3-D Secure, through the real stripe SDK, checked against Stripe's documentation.

Points 1-4 of ``payflow_sandbox._three_d_secure``. The card lists are written here from Stripe's
testing page (https://docs.stripe.com/testing#regulatory-cards and #three-ds-cards), not
imported from the sandbox. The challenge page is driven as a browser would: plain GET and POST
with httpx, no API key, no JavaScript.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import stripe

from payflow_sandbox import Sandbox

from .test_stripe_compat import call, intent, saved_card

# Stripe: "requires authentication" (regulatory and 3D Secure cards).
REQUIRES_AUTHENTICATION = [
    "4000002500003155",
    "4000002760003184",
    "4000008260003178",
    "4000000000003220",
    "4000000000003063",
    "4000008400001629",
]
# Stripe: 3D Secure supported but not required, or a plain successful card.
NO_AUTHENTICATION = ["4242424242424242", "4000000000003055", "5555555555554444"]
ALWAYS_AUTHENTICATE = "4000002760003184"
RETURN_URL = "https://shop.example/paid?order=42"


class Forms(HTMLParser):
    """The forms of a page: (method, action, button text)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[list[str]] = []
        self.scripts = 0
        self._in_button = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form":
            self.forms.append([found.get("method") or "get", found.get("action") or "", ""])
        self._in_button = tag == "button"
        self.scripts += tag == "script"

    def handle_data(self, data: str) -> None:
        if self._in_button and self.forms:
            self.forms[-1][2] += data.strip()

    def handle_endtag(self, tag: str) -> None:
        self._in_button = self._in_button and tag != "button"


def confirm(client: stripe.StripeClient, intent_id: str, **params: Any) -> dict[str, Any]:
    return call(client, "post", f"/v1/payment_intents/{intent_id}/confirm", **params)


def challenge(client: stripe.StripeClient, number: str = ALWAYS_AUTHENTICATE) -> dict[str, Any]:
    """A PaymentIntent of 50.00 EUR confirmed with a return_url: requires_action."""
    return confirm(client, intent(client, number=number), return_url=RETURN_URL)


def submit(page_url: str, button: str) -> httpx.Response:
    """Open the challenge page and submit the form of the button with this text."""
    page = httpx.get(page_url)
    parser = Forms()
    parser.feed(page.text)
    (action,) = [action for method, action, text in parser.forms if text == button]
    return httpx.post(httpx.URL(page_url).join(action))


def returned_query(response: httpx.Response) -> dict[str, list[str]]:
    """The query of the URL the browser is sent back to, which must be the return_url's."""
    assert 303 == response.status_code
    location = urlsplit(response.headers["location"])
    assert ("https", "shop.example", "/paid") == (location.scheme, location.netloc, location.path)
    return parse_qs(location.query)


@pytest.mark.parametrize("number", REQUIRES_AUTHENTICATION)
def test_authentication_cards_require_action_for_stripe_js(
    stripe_client: stripe.StripeClient, number: str
) -> None:
    """Without a return_url, Stripe answers requires_action with next_action use_stripe_sdk."""
    confirmed = confirm(stripe_client, intent(stripe_client, number=number))

    assert ("requires_action", "use_stripe_sdk", None) == (
        confirmed["status"],
        confirmed["next_action"]["type"],
        confirmed["latest_charge"],
    )


@pytest.mark.parametrize("number", REQUIRES_AUTHENTICATION)
def test_authentication_cards_redirect_with_a_return_url(
    stripe_client: stripe.StripeClient, number: str
) -> None:
    """With a return_url, Stripe answers next_action redirect_to_url, echoing the return_url."""
    confirmed = challenge(stripe_client, number)
    action = confirmed["next_action"]

    assert ("requires_action", "redirect_to_url", RETURN_URL) == (
        confirmed["status"],
        action["type"],
        action["redirect_to_url"]["return_url"],
    )
    assert urlsplit(action["redirect_to_url"]["url"]).scheme == "http"


@pytest.mark.parametrize("number", NO_AUTHENTICATION)
def test_cards_without_authentication_succeed_at_once(
    stripe_client: stripe.StripeClient, number: str
) -> None:
    """A card that needs no authentication succeeds on confirm, return_url or not."""
    confirmed = confirm(stripe_client, intent(stripe_client, number=number), return_url=RETURN_URL)

    assert ("succeeded", None) == (confirmed["status"], confirmed["next_action"])


def test_challenge_page_shows_amount_merchant_and_two_forms(
    stripe_client: stripe.StripeClient,
) -> None:
    """Like Stripe's test page: the amount, the merchant, complete and fail buttons, no script."""
    page = httpx.get(challenge(stripe_client)["next_action"]["redirect_to_url"]["url"])
    parser = Forms()
    parser.feed(page.text)

    assert (200, "text/html; charset=utf-8") == (page.status_code, page.headers["content-type"])
    assert "€50.00" in page.text
    assert "payflow sandbox" in page.text
    assert [["post", "Complete authentication"], ["post", "Fail authentication"]] == [
        [method, text] for method, _, text in parser.forms
    ]
    assert 0 == parser.scripts


def test_challenge_url_holds_no_client_secret(stripe_client: stripe.StripeClient) -> None:
    """The challenge URL is the sandbox's own; the client secret is never in it."""
    confirmed = challenge(stripe_client)

    assert confirmed["client_secret"] not in confirmed["next_action"]["redirect_to_url"]["url"]


def test_completing_returns_with_stripes_query(stripe_client: stripe.StripeClient) -> None:
    """Stripe sends the browser back with payment_intent, its client secret, redirect_status."""
    confirmed = challenge(stripe_client)
    response = submit(confirmed["next_action"]["redirect_to_url"]["url"], "Complete authentication")

    assert {
        "order": ["42"],
        "payment_intent": [confirmed["id"]],
        "payment_intent_client_secret": [confirmed["client_secret"]],
        "redirect_status": ["succeeded"],
    } == returned_query(response)


def test_completing_makes_the_payment_succeed_with_its_charge(
    stripe_client: stripe.StripeClient,
) -> None:
    """After authentication, Stripe confirms the payment: succeeded, with a succeeded charge."""
    confirmed = challenge(stripe_client)
    submit(confirmed["next_action"]["redirect_to_url"]["url"], "Complete authentication")
    payment = stripe_client.v1.payment_intents.retrieve(
        confirmed["id"], params={"expand": ["latest_charge"]}
    )

    assert ("succeeded", None) == (payment.status, payment.next_action)
    assert isinstance(payment.latest_charge, stripe.Charge)
    assert (5000, "succeeded") == (payment.latest_charge.amount, payment.latest_charge.status)


def test_failing_returns_with_redirect_status_failed(stripe_client: stripe.StripeClient) -> None:
    """Failed authentication sends the browser back with redirect_status=failed."""
    confirmed = challenge(stripe_client)
    response = submit(confirmed["next_action"]["redirect_to_url"]["url"], "Fail authentication")

    assert ["failed"] == returned_query(response)["redirect_status"]


def test_failing_leaves_requires_payment_method_with_the_failure(
    stripe_client: stripe.StripeClient,
) -> None:
    """Stripe: requires_payment_method, last_payment_error payment_intent_authentication_failure."""
    confirmed = challenge(stripe_client)
    submit(confirmed["next_action"]["redirect_to_url"]["url"], "Fail authentication")
    payment = stripe_client.v1.payment_intents.retrieve(confirmed["id"])

    assert payment.last_payment_error is not None
    assert ("requires_payment_method", "payment_intent_authentication_failure", None) == (
        payment.status,
        payment.last_payment_error.code,
        payment.latest_charge,
    )


def test_card_declined_after_authentication_fails_the_payment(
    stripe_client: stripe.StripeClient,
) -> None:
    """Stripe's 4000008260003178 authenticates, then is declined for insufficient funds."""
    confirmed = challenge(stripe_client, "4000008260003178")
    response = submit(confirmed["next_action"]["redirect_to_url"]["url"], "Complete authentication")
    payment = stripe_client.v1.payment_intents.retrieve(confirmed["id"])

    assert ["failed"] == returned_query(response)["redirect_status"]
    assert payment.last_payment_error is not None
    assert ("requires_payment_method", "insufficient_funds") == (
        payment.status,
        payment.last_payment_error.decline_code,
    )


def test_another_card_completes_a_failed_payment(stripe_client: stripe.StripeClient) -> None:
    """Stripe confirms a requires_payment_method payment again with a new payment_method."""
    confirmed = challenge(stripe_client)
    submit(confirmed["next_action"]["redirect_to_url"]["url"], "Fail authentication")
    _, visa = saved_card(stripe_client)

    assert "succeeded" == confirm(stripe_client, confirmed["id"], payment_method=visa)["status"]


def test_confirm_with_an_unknown_payment_method_is_resource_missing(
    stripe_client: stripe.StripeClient,
) -> None:
    """Stripe answers 400 resource_missing naming payment_method for one that does not exist."""
    with pytest.raises(stripe.InvalidRequestError) as raised:
        confirm(stripe_client, intent(stripe_client), payment_method="card_doesnotexist")

    assert (400, "resource_missing", "payment_method") == (
        raised.value.http_status,
        raised.value.code,
        raised.value.param,
    )


def test_challenge_is_answered_once(stripe_client: stripe.StripeClient) -> None:
    """Once authenticated, the challenge page is gone: a second answer changes nothing."""
    url = challenge(stripe_client)["next_action"]["redirect_to_url"]["url"]
    submit(url, "Complete authentication")

    assert (404, 404) == (httpx.get(url).status_code, httpx.post(url + "/fail").status_code)


def test_unknown_challenge_is_not_found(stripe_client: stripe.StripeClient) -> None:
    """A challenge URL with another token is not the payment's challenge."""
    url = challenge(stripe_client)["next_action"]["redirect_to_url"]["url"]

    assert 404 == httpx.get(url.rsplit("/", 1)[0] + "/guessed").status_code


def test_cancel_while_requires_action(stripe_client: stripe.StripeClient) -> None:
    """Stripe cancels a payment waiting for authentication."""
    confirmed = challenge(stripe_client)
    canceled = call(stripe_client, "post", f"/v1/payment_intents/{confirmed['id']}/cancel")

    assert ("canceled", None) == (canceled["status"], canceled["next_action"])


def test_cancel_a_succeeded_payment_is_payment_intent_unexpected_state(
    stripe_client: stripe.StripeClient,
) -> None:
    """Stripe refuses to cancel a succeeded payment: 400 payment_intent_unexpected_state."""
    intent_id = intent(stripe_client)
    confirm(stripe_client, intent_id)
    with pytest.raises(stripe.InvalidRequestError) as raised:
        call(stripe_client, "post", f"/v1/payment_intents/{intent_id}/cancel")

    assert (400, "payment_intent_unexpected_state") == (
        raised.value.http_status,
        raised.value.code,
    )
    assert "status of succeeded" in str(raised.value.user_message)


def test_another_card_completes_a_declined_payment(stripe_client: stripe.StripeClient) -> None:
    """Stripe confirms a payment declined on charge again with a new payment_method."""
    intent_id = intent(stripe_client, number="4000000000000341")  # attaches, fails on charge
    with pytest.raises(stripe.CardError):
        confirm(stripe_client, intent_id)
    _, visa = saved_card(stripe_client)

    assert "succeeded" == confirm(stripe_client, intent_id, payment_method=visa)["status"]


def test_no_challenge_page_for_stripe_js(
    stripe_client: stripe.StripeClient, sandbox: Sandbox
) -> None:
    """A payment left to Stripe.js (no return_url) has no challenge page to open."""
    confirmed = confirm(stripe_client, intent(stripe_client, number=ALWAYS_AUTHENTICATE))
    page = f"{sandbox.url}/_payflow/3ds/{confirmed['id']}/guessed"

    assert 404 == httpx.get(page).status_code
