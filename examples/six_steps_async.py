"""The six steps with payflow's async API: the same calls, awaited, never blocking the loop.

export STRIPE_API_BASE=http://127.0.0.1:8420 STRIPE_SECRET_KEY=sk_test_sandbox
python examples/six_steps_async.py
"""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal

import payflow


async def pay(
    gw: payflow.Gateway, amount: str, number: str = "4242424242424242"
) -> payflow.Payment:
    customer = await payflow.create_customer_async(gw, email="jane@example.com", name="Jane")
    token = await payflow.create_card_token_async(
        gw, number=number, exp_month=1, exp_year=dt.date.today().year + 1, cvc="321"
    )
    card = await payflow.assign_card_async(gw, customer_id=customer.id, source=token.id)
    payment = await payflow.create_payment_async(
        gw, customer_id=customer.id, amount=payflow.Money(Decimal(amount)), payment_method=card.id
    )
    return await payflow.confirm_payment_async(gw, payment.id)


async def main() -> None:
    async with payflow.Gateway.from_env() as gw:
        # Three flows at once on one event loop.
        payments = await asyncio.gather(*(pay(gw, a) for a in ("19.99", "8.20", "4.35")))
        for payment in payments:
            print(payment.id, payment.status, payment.amount.minor_units, "cents")
        refund = await payflow.refund_async(
            gw, charge_id=payments[0].charges[0].id, amount=payflow.Money(Decimal("0.99"))
        )
        print("refund:", refund)
        try:
            await pay(gw, "10.00", number="4000000000000002")  # Stripe's test card that declines
        except payflow.CardDeclined as exc:
            print("declined:", exc.decline_code, "-", exc)


if __name__ == "__main__":
    asyncio.run(main())
