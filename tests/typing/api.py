"""The public API's types, checked by mypy and never run (pytest collects only test_*.py).

Each assignment states the type a caller relies on; a change to a signature that breaks a caller
breaks this file under `mypy --strict`.
"""

from __future__ import annotations

from decimal import Decimal

import payflow
from payflow import (
    Card,
    CardDeclined,
    CardToken,
    Charge,
    Customer,
    Gateway,
    Money,
    PayflowError,
    Payment,
    Refund,
)

# Money

money = Money(Decimal("19.99"), "eur")
euros = Money(Decimal("19.99"))
amount: Decimal = money.amount
currency: str = money.currency
cents: int = money.minor_units
yen: Money = Money.from_minor_units(500, "jpy")
default_currency: Money = Money.from_minor_units(1999)
same: bool = money == euros

# The gateway

gw: Gateway = Gateway(
    "sk_test_typing",
    api_base="http://127.0.0.1:8420",
    timeout=5.0,
    max_network_retries=0,
    max_connections=10,
    proxy="http://proxy.example:3128",
    allow_raw_card_data=False,
)
from_env: Gateway = Gateway.from_env({"STRIPE_SECRET_KEY": "sk_test_typing"})
api_base: str | None = gw.api_base


# The six steps, sync


def sync_steps(gw: Gateway) -> None:
    with gw:
        customer: Customer = payflow.create_customer(
            gw,
            email="john.doe@example.com",
            name="John Doe",
            phone="+34612345678",
            idempotency_key="customer-1",
        )
        token: CardToken = payflow.create_card_token(
            gw, number="4242424242424242", exp_month=12, exp_year=2034, cvc="123"
        )
        card: Card = payflow.assign_card(gw, customer_id=customer.id, source=token.id)
        payment: Payment = payflow.create_payment(
            gw, customer_id=customer.id, amount=money, payment_method=card.id
        )
        confirmed: Payment = payflow.confirm_payment(gw, payment.id, idempotency_key="confirm-1")
        charges: tuple[Charge, ...] = confirmed.charges
        whole: Refund = payflow.refund(gw, charge_id=charges[0].id)
        part: Refund = payflow.refund(
            gw, charge_id=charges[0].id, amount=Money(Decimal("5")), reason="duplicate"
        )
        refunded: Money = whole.amount
        reason: str | None = part.reason
        charge_id: str = part.charge_id
        status: str = confirmed.status
        customer_id: str | None = confirmed.customer_id
        payment_method: str | None = confirmed.payment_method
        paid: bool = charges[0].paid
        email: str | None = customer.email
        print(refunded, reason, charge_id, status, customer_id, payment_method, paid, email)


# The six steps, async


async def async_steps(gw: Gateway) -> None:
    async with gw:
        customer: Customer = await payflow.create_customer_async(gw, email="john.doe@example.com")
        token: CardToken = await payflow.create_card_token_async(
            gw, number="4242424242424242", exp_month=12, exp_year=2034, cvc="123"
        )
        card: Card = await payflow.assign_card_async(gw, customer_id=customer.id, source=token.id)
        payment: Payment = await payflow.create_payment_async(
            gw,
            customer_id=customer.id,
            amount=money,
            payment_method=card.id,
            idempotency_key="payment-1",
        )
        confirmed: Payment = await payflow.confirm_payment_async(gw, payment.id)
        refund: Refund = await payflow.refund_async(
            gw,
            charge_id=confirmed.charges[0].id,
            amount=None,
            reason=None,
            idempotency_key="refund-1",
        )
        print(refund.id)
    await gw.aclose()


# 3-D Secure: confirm with a return_url, read the payment back, cancel it


def three_d_secure(gw: Gateway) -> None:
    with gw:
        payment: Payment = payflow.confirm_payment(
            gw,
            "pi_123",
            return_url="https://shop.example/paid",
            payment_method="card_123",
            idempotency_key="confirm-2",
        )
        status: payflow.PaymentStatus = payment.status
        action: payflow.NextAction | None = payment.next_action
        if isinstance(action, payflow.RedirectToUrl):
            url: str = action.url
            back: str | None = action.return_url
            print(url, back)
        elif isinstance(action, payflow.UseStripeSdk | payflow.OtherAction):
            kind: str = action.type
            print(kind)
        secret: str | None = payment.client_secret
        error: payflow.PaymentError | None = payment.last_payment_error
        if error is not None:
            error_code: str | None = error.code
            decline: str | None = error.decline_code
            print(error_code, decline, error.message)
        refunded: Money = payflow.get_payment(gw, payment.id).amount_refunded
        canceled: Payment = payflow.cancel_payment(gw, payment.id, idempotency_key="cancel-1")
        # The client secret is for the payer's browser: never printed.
        print(status, secret is not None, refunded, canceled)


async def three_d_secure_async(gw: Gateway) -> None:
    async with gw:
        payment: Payment = await payflow.confirm_payment_async(
            gw, "pi_123", return_url="http://localhost:3000/paid"
        )
        fetched: Payment = await payflow.get_payment_async(gw, payment.id)
        canceled: Payment = await payflow.cancel_payment_async(gw, fetched.id)
        print(canceled.status)


# Errors


def errors(gw: Gateway) -> None:
    try:
        payflow.confirm_payment(gw, "pi_123")
    except CardDeclined as exc:
        decline_code: str | None = exc.decline_code
        request_id: str | None = exc.request_id
        stripe_code: str | None = exc.stripe_code
        print(decline_code, request_id, stripe_code)
    except payflow.NotFound as exc:
        field: str | None = exc.field
        print(field)
    except payflow.InvalidRequest as exc:
        as_value_error: ValueError = exc
        print(as_value_error)
    except PayflowError as exc:
        code: str = exc.code
        message: str = exc.message
        print(code, message)
    finally:
        gw.close()


raw_card_data: type[PayflowError] = payflow.RawCardDataRefused
invalid_amount: type[ValueError] = payflow.InvalidAmount
unavailable: type[payflow.StripeFailure] = payflow.StripeTimeout
conflict: type[payflow.Conflict] = payflow.IdempotencyConflict
