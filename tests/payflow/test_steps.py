"""The six steps end to end: the real SDK, over real HTTP, to the sandbox; sync and async.

Every test runs twice, once through the sync steps and once through their `_async` twins, behind
the one awaitable interface of `Steps`. What each test states is real Stripe's behaviour.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from decimal import Decimal
from typing import Any, Literal

import pytest
import stripe

import payflow
from payflow import (
    Card,
    CardDeclined,
    CardToken,
    Charge,
    Conflict,
    Customer,
    IdempotencyConflict,
    InvalidAmount,
    InvalidRequest,
    Money,
    NotFound,
    Payment,
    Refund,
    StripeRejected,
    StripeUnavailable,
)
from payflow_sandbox import Sandbox

Form = Literal["sync", "async"]
VISA = "4242424242424242"
DECLINED = "4000000000000002"  # Stripe's test card for a generic decline
EMAIL = "john.doe@example.com"


class Steps:
    """The six steps in one form, sync or async, awaitable either way."""

    def __init__(self, gw: payflow.Gateway, form: Form) -> None:
        self.gw = gw
        self.form = form

    async def create_customer(
        self,
        *,
        email: str = EMAIL,
        name: str | None = None,
        phone: str | None = None,
        idempotency_key: str | None = None,
    ) -> Customer:
        kw: dict[str, Any] = {
            "email": email,
            "name": name,
            "phone": phone,
            "idempotency_key": idempotency_key,
        }
        if self.form == "async":
            return await payflow.create_customer_async(self.gw, **kw)
        return payflow.create_customer(self.gw, **kw)

    async def create_card_token(
        self,
        *,
        number: str = VISA,
        exp_month: int = 12,
        exp_year: int = 2034,
        cvc: str = "123",
        idempotency_key: str | None = None,
    ) -> CardToken:
        kw: dict[str, Any] = {
            "number": number,
            "exp_month": exp_month,
            "exp_year": exp_year,
            "cvc": cvc,
            "idempotency_key": idempotency_key,
        }
        if self.form == "async":
            return await payflow.create_card_token_async(self.gw, **kw)
        return payflow.create_card_token(self.gw, **kw)

    async def assign_card(
        self, *, customer_id: str, source: str, idempotency_key: str | None = None
    ) -> Card:
        kw: dict[str, Any] = {
            "customer_id": customer_id,
            "source": source,
            "idempotency_key": idempotency_key,
        }
        if self.form == "async":
            return await payflow.assign_card_async(self.gw, **kw)
        return payflow.assign_card(self.gw, **kw)

    async def create_payment(
        self,
        *,
        customer_id: str,
        amount: Money,
        payment_method: str,
        idempotency_key: str | None = None,
    ) -> Payment:
        kw: dict[str, Any] = {
            "customer_id": customer_id,
            "amount": amount,
            "payment_method": payment_method,
            "idempotency_key": idempotency_key,
        }
        if self.form == "async":
            return await payflow.create_payment_async(self.gw, **kw)
        return payflow.create_payment(self.gw, **kw)

    async def confirm_payment(
        self, payment_id: str, *, idempotency_key: str | None = None
    ) -> Payment:
        if self.form == "async":
            return await payflow.confirm_payment_async(
                self.gw, payment_id, idempotency_key=idempotency_key
            )
        return payflow.confirm_payment(self.gw, payment_id, idempotency_key=idempotency_key)

    async def refund(
        self,
        *,
        charge_id: str,
        amount: Money | None = None,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> Refund:
        kw: dict[str, Any] = {
            "charge_id": charge_id,
            "amount": amount,
            "reason": reason,
            "idempotency_key": idempotency_key,
        }
        if self.form == "async":
            return await payflow.refund_async(self.gw, **kw)
        return payflow.refund(self.gw, **kw)

    # Steps chained, for the tests that need an earlier step's result.

    async def saved_card(self, number: str = VISA) -> tuple[Customer, Card]:
        customer = await self.create_customer()
        token = await self.create_card_token(number=number)
        return customer, await self.assign_card(customer_id=customer.id, source=token.id)

    async def payment(self, amount: Money) -> Payment:
        customer, card = await self.saved_card()
        return await self.create_payment(
            customer_id=customer.id, amount=amount, payment_method=card.id
        )

    async def pay(self, amount: Money, *, number: str = VISA) -> Payment:
        """All steps but the refund, with a card of this number."""
        customer, card = await self.saved_card(number)
        payment = await self.create_payment(
            customer_id=customer.id, amount=amount, payment_method=card.id
        )
        return await self.confirm_payment(payment.id)

    async def charge(self, amount: Money) -> Charge:
        payment = await self.payment(amount)
        return (await self.confirm_payment(payment.id)).charges[0]


def key() -> str:
    """A fresh idempotency key: the sandbox lives for the whole session."""
    return f"payflow-tests-{uuid.uuid4()}"


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "eur")


@pytest.fixture(params=["sync", "async"])
async def steps(request: pytest.FixtureRequest, sandbox: Sandbox) -> AsyncIterator[Steps]:
    """The steps in both forms, through a gateway to the sandbox that is closed afterwards."""
    form: Form = request.param
    if form == "async":
        async with payflow.Gateway(
            "sk_test_payflow", api_base=sandbox.url, max_network_retries=0
        ) as gw:
            yield Steps(gw, form)
    else:
        with payflow.Gateway("sk_test_payflow", api_base=sandbox.url, max_network_retries=0) as gw:
            yield Steps(gw, form)


@pytest.fixture
def closed_port() -> int:
    """A loopback port with nothing listening on it (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture(params=["sync", "async"])
async def offline(request: pytest.FixtureRequest, closed_port: int) -> AsyncIterator[Steps]:
    """The steps in both forms, through a gateway to a port where nothing listens, no retries."""
    form: Form = request.param
    async with payflow.Gateway(
        "sk_test_payflow", api_base=f"http://127.0.0.1:{closed_port}", max_network_retries=0
    ) as gw:
        yield Steps(gw, form)


def count_payment_intents(client: stripe.StripeClient, customer_id: str) -> int:
    """How many PaymentIntents the sandbox holds for a customer, paging its list endpoint."""
    count, after = 0, None
    while True:
        params: dict[str, Any] = {"limit": 100}
        if after is not None:
            params["starting_after"] = after
        page = client.raw_request("get", "/v1/payment_intents", **params).data
        count += sum(1 for pi in page["data"] if pi["customer"] == customer_id)
        if not page["has_more"] or not page["data"]:
            return count
        after = page["data"][-1]["id"]


def count_customers(client: stripe.StripeClient, email: str) -> int:
    """How many customers the sandbox holds with this e-mail address."""
    page = client.raw_request("get", "/v1/customers", email=email, limit=100).data
    return len(page["data"])


class TestCreateCustomer:
    async def test_returns_the_customer(self, steps: Steps) -> None:
        """The customer comes back with the details it was created with."""
        customer = await steps.create_customer(email=EMAIL, name="John Doe", phone="+34612345678")

        assert (EMAIL, "John Doe", "+34612345678") == (
            customer.email,
            customer.name,
            customer.phone,
        )

    async def test_id_is_a_customer_id(self, steps: Steps) -> None:
        """Stripe's customer ids start with cus_."""
        assert "cus_" == (await steps.create_customer()).id[:4]

    async def test_name_and_phone_are_optional(self, steps: Steps) -> None:
        """Without name and phone, both are None."""
        customer = await steps.create_customer(email=EMAIL)

        assert (None, None) == (customer.name, customer.phone)


class TestStripeRequestId:
    async def test_a_success_leaves_its_request_id(self, steps: Steps) -> None:
        """After a call Stripe answered, last_stripe_request_id() is that answer's req_ id."""
        first = (await steps.create_customer(), payflow.last_stripe_request_id())[1]
        second = (await steps.create_customer(), payflow.last_stripe_request_id())[1]

        assert (True, True) == (str(first).startswith("req_"), first != second)

    async def test_a_refusal_leaves_the_error_s_request_id(self, steps: Steps) -> None:
        """After a call Stripe refused, it is the request id the error carries."""
        with pytest.raises(NotFound) as info:
            await steps.confirm_payment("pi_missing")

        assert (True, info.value.request_id) == (
            str(info.value.request_id).startswith("req_"),
            payflow.last_stripe_request_id(),
        )


class TestCreateCardToken:
    async def test_returns_brand_and_last4(self, steps: Steps) -> None:
        """The token shows the card's brand in lower case and its last four digits."""
        token = await steps.create_card_token(number=VISA)

        assert ("visa", "4242") == (token.brand, token.last4)

    async def test_ids_are_token_and_card_ids(self, steps: Steps) -> None:
        """The token id starts with tok_, the card id with card_."""
        token = await steps.create_card_token()

        assert ("tok_", "card_") == (token.id[:4], token.card_id[:5])

    async def test_spaced_number_is_accepted(self, steps: Steps) -> None:
        """A number written in groups of four tokenizes like the digits alone."""
        token = await steps.create_card_token(number="4242 4242 4242 4242")

        assert "4242" == token.last4

    async def test_repr_holds_no_card_data(self, steps: Steps) -> None:
        """The token's repr shows neither the number nor the CVC."""
        shown = repr(await steps.create_card_token(number=VISA, cvc="987"))

        assert (False, False) == (VISA in shown, "987" in shown)


class TestAssignCard:
    async def test_returns_the_tokenized_card(self, steps: Steps) -> None:
        """The saved card is the token's card, with its brand and last four."""
        customer = await steps.create_customer()
        token = await steps.create_card_token()
        card = await steps.assign_card(customer_id=customer.id, source=token.id)

        assert Card(id=token.card_id, brand="visa", last4="4242") == card

    async def test_unknown_customer_is_not_found(self, steps: Steps) -> None:
        """Saving a card on a customer that does not exist is NotFound."""
        token = await steps.create_card_token()

        with pytest.raises(NotFound):
            await steps.assign_card(customer_id="cus_doesnotexist", source=token.id)


class TestCreatePayment:
    async def test_awaits_confirmation(self, steps: Steps) -> None:
        """A new payment waits for confirmation and has no charge yet."""
        payment = await steps.payment(eur("50.00"))

        assert ("requires_confirmation", ()) == (payment.status, payment.charges)

    async def test_amount_comes_back_exact(self, steps: Steps) -> None:
        """The payment's amount is the Money it was created with."""
        assert eur("19.99") == (await steps.payment(eur("19.99"))).amount

    async def test_stripe_receives_exact_minor_units(
        self, steps: Steps, stripe_client: stripe.StripeClient
    ) -> None:
        """EUR 8.20 reaches Stripe as 820 cents (a float conversion would send 819)."""
        payment = await steps.payment(eur("8.20"))
        stored = stripe_client.raw_request("get", f"/v1/payment_intents/{payment.id}").data

        assert (820, "eur") == (stored["amount"], stored["currency"])

    async def test_zero_decimal_currency_is_not_multiplied(
        self, steps: Steps, stripe_client: stripe.StripeClient
    ) -> None:
        """JPY 500 reaches Stripe as 500, not 50000."""
        payment = await steps.payment(Money(Decimal("500"), "jpy"))
        stored = stripe_client.raw_request("get", f"/v1/payment_intents/{payment.id}").data

        assert (500, Money(Decimal("500"), "jpy")) == (stored["amount"], payment.amount)

    async def test_whole_units_currency_is_sent_times_100(
        self, steps: Steps, stripe_client: stripe.StripeClient
    ) -> None:
        """ISK 5 reaches Stripe as 500, as Stripe's special case for ISK asks."""
        payment = await steps.payment(Money(Decimal("5"), "isk"))
        stored = stripe_client.raw_request("get", f"/v1/payment_intents/{payment.id}").data

        assert (500, Money(Decimal("5"), "isk")) == (stored["amount"], payment.amount)

    async def test_three_decimal_currency_is_sent_in_thousandths(
        self, steps: Steps, stripe_client: stripe.StripeClient
    ) -> None:
        """KWD 1.230 reaches Stripe as 1230."""
        payment = await steps.payment(Money(Decimal("1.230"), "kwd"))
        stored = stripe_client.raw_request("get", f"/v1/payment_intents/{payment.id}").data

        assert (1230, Money(Decimal("1.23"), "kwd")) == (stored["amount"], payment.amount)

    async def test_links_customer_and_card(self, steps: Steps) -> None:
        """The payment names the customer and the card it charges."""
        customer, card = await steps.saved_card()
        payment = await steps.create_payment(
            customer_id=customer.id, amount=eur("50.00"), payment_method=card.id
        )

        assert (customer.id, card.id) == (payment.customer_id, payment.payment_method)

    async def test_unknown_customer_is_not_found(self, steps: Steps) -> None:
        """A payment for a customer that does not exist is NotFound."""
        _, card = await steps.saved_card()

        with pytest.raises(NotFound):
            await steps.create_payment(
                customer_id="cus_doesnotexist", amount=eur("50.00"), payment_method=card.id
            )


class TestConfirmPayment:
    async def test_succeeds(self, steps: Steps) -> None:
        """Confirming a payment with a good card succeeds."""
        payment = await steps.payment(eur("50.00"))

        assert "succeeded" == (await steps.confirm_payment(payment.id)).status

    async def test_carries_its_paid_charge(self, steps: Steps) -> None:
        """The confirmed payment carries one paid, succeeded charge of its whole amount."""
        payment = await steps.payment(eur("50.00"))
        (charge,) = (await steps.confirm_payment(payment.id)).charges

        assert (eur("50.00"), True, "succeeded", "ch_") == (
            charge.amount,
            charge.paid,
            charge.status,
            charge.id[:3],
        )

    async def test_unknown_payment_is_not_found(self, steps: Steps) -> None:
        """Confirming a payment that does not exist is NotFound."""
        with pytest.raises(NotFound):
            await steps.confirm_payment("pi_doesnotexist")

    async def test_declined_card_is_card_declined(self, steps: Steps) -> None:
        """Stripe's declining test card raises CardDeclined with decline_code generic_decline.

        Stripe may decline it when the card is saved or when the payment is confirmed.
        """
        with pytest.raises(CardDeclined) as info:
            await steps.pay(eur("50.00"), number=DECLINED)

        assert ("generic_decline", "card_declined") == (info.value.decline_code, info.value.code)


class TestRefund:
    async def test_without_amount_refunds_the_whole_charge(self, steps: Steps) -> None:
        """A refund without an amount gives back the whole charge."""
        charge = await steps.charge(eur("50.00"))
        refund = await steps.refund(charge_id=charge.id)

        assert (eur("50.00"), charge.id, "succeeded") == (
            refund.amount,
            refund.charge_id,
            refund.status,
        )

    async def test_id_is_a_refund_id(self, steps: Steps) -> None:
        """Stripe's refund ids start with re_."""
        charge = await steps.charge(eur("50.00"))

        assert "re_" == (await steps.refund(charge_id=charge.id)).id[:3]

    async def test_partial_refund(self, steps: Steps) -> None:
        """A refund with an amount gives back that amount."""
        charge = await steps.charge(eur("50.00"))

        assert eur("25.00") == (await steps.refund(charge_id=charge.id, amount=eur("25.00"))).amount

    async def test_partial_then_rest(self, steps: Steps) -> None:
        """After a partial refund, a refund without an amount gives back what remains."""
        charge = await steps.charge(eur("50.00"))
        await steps.refund(charge_id=charge.id, amount=eur("20.00"))

        assert eur("30.00") == (await steps.refund(charge_id=charge.id)).amount

    async def test_reason_is_kept(self, steps: Steps) -> None:
        """The refund's reason is the one given."""
        charge = await steps.charge(eur("50.00"))
        refund = await steps.refund(charge_id=charge.id, reason="requested_by_customer")

        assert "requested_by_customer" == refund.reason

    async def test_more_than_remains_is_rejected(self, steps: Steps) -> None:
        """Refunding more than what remains is StripeRejected naming amount."""
        charge = await steps.charge(eur("50.00"))
        await steps.refund(charge_id=charge.id, amount=eur("30.00"))

        with pytest.raises(StripeRejected) as info:
            await steps.refund(charge_id=charge.id, amount=eur("30.00"))

        assert "amount" == info.value.field

    async def test_more_than_the_charge_is_rejected(self, steps: Steps) -> None:
        """Refunding more than was charged is StripeRejected naming amount."""
        charge = await steps.charge(eur("50.00"))

        with pytest.raises(StripeRejected) as info:
            await steps.refund(charge_id=charge.id, amount=eur("60.00"))

        assert "amount" == info.value.field

    async def test_second_full_refund_is_conflict(self, steps: Steps) -> None:
        """Refunding a fully refunded charge again is a Conflict."""
        charge = await steps.charge(eur("50.00"))
        await steps.refund(charge_id=charge.id)

        with pytest.raises(Conflict) as info:
            await steps.refund(charge_id=charge.id)

        assert "charge_already_refunded" == info.value.stripe_code

    async def test_unknown_charge_is_not_found(self, steps: Steps) -> None:
        """Refunding a charge that does not exist is NotFound."""
        with pytest.raises(NotFound):
            await steps.refund(charge_id="ch_doesnotexist")


class TestIdempotency:
    async def test_customer_replay_returns_the_same_customer(self, steps: Steps) -> None:
        """The same key twice returns the customer created the first time."""
        same = key()
        first = await steps.create_customer(idempotency_key=same)
        second = await steps.create_customer(idempotency_key=same)

        assert first == second

    async def test_customer_replay_creates_one_customer(
        self, steps: Steps, stripe_client: stripe.StripeClient
    ) -> None:
        """The same key twice leaves one customer at Stripe."""
        same, email = key(), f"{uuid.uuid4().hex}@example.com"
        await steps.create_customer(email=email, idempotency_key=same)
        await steps.create_customer(email=email, idempotency_key=same)

        assert 1 == count_customers(stripe_client, email)

    async def test_payment_replay_returns_the_same_payment(self, steps: Steps) -> None:
        """The same key twice returns the payment created the first time."""
        customer, card = await steps.saved_card()
        same = key()
        ids = [
            (
                await steps.create_payment(
                    customer_id=customer.id,
                    amount=eur("50.00"),
                    payment_method=card.id,
                    idempotency_key=same,
                )
            ).id
            for _ in range(2)
        ]

        assert ids[0] == ids[1]

    async def test_payment_replay_creates_one_payment(
        self, steps: Steps, stripe_client: stripe.StripeClient
    ) -> None:
        """The same key twice leaves one PaymentIntent at Stripe."""
        customer, card = await steps.saved_card()
        same = key()
        for _ in range(2):
            await steps.create_payment(
                customer_id=customer.id,
                amount=eur("50.00"),
                payment_method=card.id,
                idempotency_key=same,
            )

        assert 1 == count_payment_intents(stripe_client, customer.id)

    async def test_refund_replay_refunds_once(self, steps: Steps) -> None:
        """A full refund retried with its key returns the first refund instead of a Conflict."""
        charge = await steps.charge(eur("50.00"))
        same = key()
        first = await steps.refund(charge_id=charge.id, idempotency_key=same)
        second = await steps.refund(charge_id=charge.id, idempotency_key=same)

        assert first == second

    async def test_key_reused_with_other_parameters_is_idempotency_conflict(
        self, steps: Steps
    ) -> None:
        """The same key with other parameters is an IdempotencyConflict."""
        same = key()
        await steps.create_customer(email="first@example.com", idempotency_key=same)

        with pytest.raises(IdempotencyConflict):
            await steps.create_customer(email="second@example.com", idempotency_key=same)


Call = Callable[[Steps], Coroutine[Any, Any, object]]

INVALID_INPUTS: list[tuple[str, str, Call]] = [
    ("email", "email", lambda s: s.create_customer(email="not an address")),
    ("name", "name", lambda s: s.create_customer(name="")),
    ("phone", "phone", lambda s: s.create_customer(phone="+" + "3" * 30)),
    ("luhn", "number", lambda s: s.create_card_token(number="4242424242424241")),
    ("expired", "exp_year", lambda s: s.create_card_token(exp_month=1, exp_year=2020)),
    ("month", "exp_month", lambda s: s.create_card_token(exp_month=13)),
    ("cvc", "cvc", lambda s: s.create_card_token(cvc="12")),
    ("customer_id", "customer_id", lambda s: s.assign_card(customer_id="cus/1", source="tok_1")),
    ("source", "source", lambda s: s.assign_card(customer_id="cus_1", source="")),
    (
        "minimum",
        "amount",
        lambda s: s.create_payment(
            customer_id="cus_1", amount=eur("0.49"), payment_method="card_1"
        ),
    ),
    (
        "not_money",
        "amount",
        lambda s: s.create_payment(
            customer_id="cus_1",
            amount=Decimal("50"),  # type: ignore[arg-type]
            payment_method="card_1",
        ),
    ),
    (
        "payment_method",
        "payment_method",
        lambda s: s.create_payment(customer_id="cus_1", amount=eur("50"), payment_method="card 1"),
    ),
    ("payment_id", "payment_id", lambda s: s.confirm_payment("pi_1?x=y")),
    ("charge_id", "charge_id", lambda s: s.refund(charge_id="")),
    ("refund_zero", "amount", lambda s: s.refund(charge_id="ch_1", amount=eur("0"))),
    ("reason", "reason", lambda s: s.refund(charge_id="ch_1", reason="changed_my_mind")),
    ("key", "idempotency_key", lambda s: s.create_customer(idempotency_key="a key\n")),
]


class TestBeforeAnyNetworkCall:
    @pytest.mark.parametrize(
        ("field", "call"),
        [(f, c) for _, f, c in INVALID_INPUTS],
        ids=[i for i, _, _ in INVALID_INPUTS],
    )
    async def test_invalid_input_is_invalid_request(
        self, offline: Steps, field: str, call: Call
    ) -> None:
        """Bad input raises InvalidRequest naming its field, without reaching for the network.

        The gateway points where nothing listens: a request would raise StripeUnavailable.
        """
        with pytest.raises(InvalidRequest) as info:
            await call(offline)

        assert (field, False) == (info.value.field, isinstance(info.value, StripeUnavailable))

    async def test_hostile_amount_is_invalid_amount(self, offline: Steps) -> None:
        """A payment of 1E+999999999 is an InvalidAmount, raised before any request."""
        with pytest.raises(InvalidAmount):
            await offline.create_payment(
                customer_id="cus_1", payment_method="card_1", amount=Money(Decimal("1E+999999999"))
            )


class TestStripeUnreachable:
    async def test_unreachable_is_stripe_unavailable(self, offline: Steps) -> None:
        """When nothing answers at Stripe's address, a step raises StripeUnavailable."""
        with pytest.raises(StripeUnavailable):
            await offline.create_customer()

    async def test_unavailable_is_not_an_invalid_request(self, offline: Steps) -> None:
        """A network failure is never reported as the caller's bad input."""
        with pytest.raises(StripeUnavailable) as info:
            await offline.confirm_payment("pi_1")

        assert False is isinstance(info.value, InvalidRequest)

    async def test_no_answer_leaves_no_request_id(self, offline: Steps) -> None:
        """When Stripe never answered, there is no request id to report."""
        with pytest.raises(StripeUnavailable):
            await offline.create_customer()

        assert None is payflow.last_stripe_request_id()

    async def test_no_answer_forgets_the_previous_request_id(
        self, steps: Steps, offline: Steps
    ) -> None:
        """A call Stripe never answered, after one it answered, reports no id: not the earlier
        call's, which would send whoever reads the logs to the wrong request."""
        await steps.create_customer()
        assert str(payflow.last_stripe_request_id()).startswith("req_")

        with pytest.raises(StripeUnavailable):
            await offline.create_customer()

        assert None is payflow.last_stripe_request_id()
