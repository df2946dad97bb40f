"""A payment that needs 3-D Secure, with payflow's sync API, against a local sandbox.

The payer's browser is played by httpx: it opens the sandbox's challenge page and presses
"Complete authentication". Against real Stripe that page is the bank's, and a person answers it.

payflow sandbox &    # prints the URL to export
export STRIPE_API_BASE=http://127.0.0.1:8420 STRIPE_SECRET_KEY=sk_test_sandbox
python examples/three_d_secure.py
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import httpx

import payflow

ALWAYS_AUTHENTICATE = "4000002760003184"  # Stripe's test card that always asks for 3-D Secure
RETURN_URL = "http://localhost:8000/paid"  # the shop's page the payer comes back to


def main() -> None:
    with payflow.Gateway.from_env() as gw:
        customer = payflow.create_customer(gw, email="sca@example.com")
        token = payflow.create_card_token(
            gw,
            number=ALWAYS_AUTHENTICATE,
            exp_month=12,
            exp_year=dt.date.today().year + 2,
            cvc="123",
        )
        card = payflow.assign_card(gw, customer_id=customer.id, source=token.id)
        payment = payflow.create_payment(
            gw,
            customer_id=customer.id,
            amount=payflow.Money(Decimal("50.00"), "eur"),
            payment_method=card.id,
        )
        payment = payflow.confirm_payment(gw, payment.id, return_url=RETURN_URL)
        print("confirmed:", payment.status)  # requires_action: not paid, do not ship
        assert isinstance(payment.next_action, payflow.RedirectToUrl)

        # The shop sends the payer's browser to next_action.url; there they authenticate.
        page = httpx.get(payment.next_action.url)
        complete = re.search(r'action="([^"]*/complete)"', page.text)
        assert complete is not None
        back = httpx.post(page.url.join(complete.group(1)))
        print("the browser goes back to:", back.headers["location"].split("?")[0])

        # On the return page: never trust the query, read the payment.
        payment = payflow.get_payment(gw, payment.id)
        print("payment:", payment.status, payment.charges[0].id if payment.charges else None)
        if payment.status == "succeeded":
            print("paid: ship the goods")


if __name__ == "__main__":
    main()
