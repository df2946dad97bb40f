"""Every step in currencies whose minor units are not cents, over HTTP.

Stripe's rules, from https://docs.stripe.com/currencies (not from payflow's tables): JPY is
zero-decimal (500 JPY is 500); KWD is three-decimal (1.230 KWD is 1230, the last digit 0); ISK is
zero-decimal yet sent multiplied by 100 (5 ISK is 500); EUR has two decimals (19.99 is 1999).
"""

from __future__ import annotations

import pytest

from payflow_asgi import Settings
from payflow_sandbox import Sandbox
from tests.payflow_asgi.asgi_support import EXP_YEAR, VISA, app_client, data_of

# currency: (amount charged, its minor units, a partial refund, its minor units)
CASES = {
    "jpy": ("500", 500, "120", 120),
    "kwd": ("12.340", 12340, "1.23", 1230),
    "isk": ("900", 90000, "150", 15000),
    "eur": ("19.99", 1999, "8.20", 820),
}


@pytest.mark.parametrize("currency", CASES)
async def test_pay_and_refund_in_part_then_the_rest(sandbox: Sandbox, currency: str) -> None:
    """A payment, a partial refund and a refund of the rest, each in Stripe's minor units."""
    amount, units, part, part_units = CASES[currency]
    async with app_client(sandbox.url, settings=Settings(currency=currency)) as http:

        async def post(path: str, body: object) -> dict[str, object]:
            return data_of(await http.post(path, json=body))

        customer = await post("/api/customers", {"email": "fx@example.com"})
        card = {"number": VISA, "exp_month": 12, "exp_year": EXP_YEAR, "cvc": "123"}
        token = await post("/api/cards", card)
        card_id = (await post("/api/cards/assign", {"userId": customer["id"], "source": token[
            "token_id"]}))["cardId"]  # fmt: skip
        payment = await post(
            "/api/payments",
            {"customer_id": customer["id"], "amount": amount, "payment_method": card_id},
        )
        confirmed = await post("/api/payments/confirm", {"paymentId": payment["id"]})
        charge = confirmed["charges"]["data"][0]  # type: ignore[index]
        partial = await post("/api/payments/refund", {"chargeId": charge["id"], "amount": part})
        rest = await post("/api/payments/refund", {"chargeId": charge["id"]})

    assert (units, currency, units) == (payment["amount"], payment["currency"], charge["amount"])
    assert (part_units, units - part_units) == (partial["amount"], rest["amount"])
