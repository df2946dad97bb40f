"""The six steps with payflow's sync API, against Stripe or a local sandbox.

payflow sandbox &    # prints the two variables to export
export STRIPE_API_BASE=http://127.0.0.1:8420 STRIPE_SECRET_KEY=sk_test_sandbox
python examples/six_steps.py
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import payflow


def main() -> None:
    with payflow.Gateway.from_env() as gw:
        customer = payflow.create_customer(
            gw, email="john.doe@example.com", name="John Doe", phone="+34612345678"
        )
        print("1. customer:", customer)
        token = payflow.create_card_token(
            gw,
            number="4242424242424242",
            exp_month=12,
            exp_year=dt.date.today().year + 2,
            cvc="123",
        )
        print("2. card token:", token)
        card = payflow.assign_card(gw, customer_id=customer.id, source=token.id)
        print("3. card:", card)
        payment = payflow.create_payment(
            gw,
            customer_id=customer.id,
            amount=payflow.Money(Decimal("50.00"), "eur"),
            payment_method=card.id,
            # A retry with the same key returns this payment instead of creating a second one.
            idempotency_key=f"order-{customer.id}",
        )
        print("4. payment:", payment)
        payment = payflow.confirm_payment(gw, payment.id)
        print("5. confirmed:", payment)
        charge = payment.charges[0]
        partial = payflow.refund(
            gw,
            charge_id=charge.id,
            amount=payflow.Money(Decimal("25.00"), "eur"),
            reason="requested_by_customer",
        )
        print("6a. partial refund:", partial)
        rest = payflow.refund(gw, charge_id=charge.id)  # no amount: what remains
        print("6b. refund of the rest:", rest)
        try:
            payflow.refund(gw, charge_id=charge.id)
        except payflow.Conflict as exc:
            print("6c. nothing left to refund:", exc.code, "-", exc)


if __name__ == "__main__":
    main()
