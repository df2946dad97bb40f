"""The six steps as the lost-answer trials run them, one row each: what a step needs made first,
how the library and the HTTP API call it, what each call must return, and where the sandbox
lists what the calls made; and the checks every trial ends with.

A trial's arguments are made with the library before any fault is switched on. Amounts differ
from one trial to the next, so an answer given to the wrong caller would show.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import attrs
import httpx

import payflow
from payflow_sandbox import Sandbox
from tests.payflow_asgi.asgi_support import EXP_YEAR, VISA, data_of, post_json
from tests.reliability.faultproxy import Fault, FaultProxy, in_order
from tests.reliability.sandbox_objects import KEY, ids_in_sandbox, sources_in_sandbox

Trial = dict[str, str]  # one call's arguments
Made = tuple[str, dict[str, object]]  # the id of the object a call made, and its checked fields

CARD = {"number": VISA, "exp_month": 12, "exp_year": EXP_YEAR, "cvc": "123"}
CHARGED_CENTS = 2000  # each refunded charge; refunds are 100, 101, ... cents of it


def euros(cents: int) -> str:
    """An amount of euro cents written as the caller writes euros (1005 -> "10.05")."""
    return f"{cents // 100}.{cents % 100:02d}"


@attrs.frozen
class Step:
    """One of the six steps, as a trial runs it."""

    name: str
    path: str  # the Stripe path its request goes to (a pattern)
    prepare: Callable[[payflow.Gateway, int], Awaitable[list[Trial]]]
    library: Callable[[payflow.Gateway, Trial], Awaitable[Made]]
    http: Callable[[httpx.AsyncClient, Trial], Awaitable[Made]]
    expected: Callable[[Trial], dict[str, object]]
    made_in: Callable[[Sandbox, list[Trial]], list[str]]  # the step's objects in the sandbox
    # The id of the object Stripe's answer is (confirm answers with the payment, not its charge).
    answer_id: Callable[[Made], object] = lambda made: made[0]


async def post(http: httpx.AsyncClient, path: str, body: object) -> dict[str, Any]:
    """POST to the app; anything but a 200 fails the trial (the client must never see one)."""
    return data_of(await post_json(http, path, body))


async def _each(n: int, make: Callable[[int], Awaitable[Trial]]) -> list[Trial]:
    return list(await asyncio.gather(*(make(i) for i in range(n))))


# --- create customer ---


async def _emails(gw: payflow.Gateway, n: int) -> list[Trial]:
    return [{"email": f"lost-{i}@example.com"} for i in range(n)]


async def _customer(gw: payflow.Gateway, t: Trial) -> Made:
    customer = await payflow.create_customer_async(gw, email=t["email"])
    return customer.id, {"email": customer.email}


async def _customer_http(http: httpx.AsyncClient, t: Trial) -> Made:
    data = await post(http, "/api/customers", {"email": t["email"]})
    return str(data["id"]), {"email": data["email"]}


CUSTOMER = Step(
    "create_customer",
    r"/v1/customers",
    _emails,
    _customer,
    _customer_http,
    lambda t: {"email": t["email"]},
    lambda sandbox, _: ids_in_sandbox(sandbox, "/v1/customers"),
)

# --- create card token ---


def sync_customers(api_base: str, n: int) -> tuple[list[Trial], list[Made]]:
    """`n` customers made by the sync twin from 20 threads through `api_base` (a fault proxy):
    the trials asked for, and what each call made."""
    trials: list[Trial] = [{"email": f"sync-{i}@example.com"} for i in range(n)]
    with (
        payflow.Gateway(KEY, api_base=api_base, max_network_retries=2) as gw,
        ThreadPoolExecutor(max_workers=20) as threads,
    ):
        customers = list(
            threads.map(lambda t: payflow.create_customer(gw, email=t["email"]), trials)
        )
    return trials, [(c.id, {"email": c.email}) for c in customers]


async def _nothing(gw: payflow.Gateway, n: int) -> list[Trial]:
    return [{} for _ in range(n)]


async def _token(gw: payflow.Gateway, t: Trial) -> Made:
    token = await payflow.create_card_token_async(
        gw, number=VISA, exp_month=12, exp_year=EXP_YEAR, cvc="123"
    )
    return token.id, {"brand": token.brand, "last4": token.last4}


async def _token_http(http: httpx.AsyncClient, t: Trial) -> Made:
    data = await post(http, "/api/cards", CARD)
    return str(data["token_id"]), {"brand": data["card_brand"], "last4": data["card_last4"]}


CARD_TOKEN = Step(
    "create_card_token",
    r"/v1/tokens",
    _nothing,
    _token,
    _token_http,
    lambda t: {"brand": "visa", "last4": "4242"},
    # Stripe has no list of tokens; the sandbox (localstripe) lists them at /v1/tokens.
    lambda sandbox, _: ids_in_sandbox(sandbox, "/v1/tokens"),
)

# --- assign card ---


async def _customers_and_tokens(gw: payflow.Gateway, n: int) -> list[Trial]:
    async def make(i: int) -> Trial:
        customer_id, _ = await _customer(gw, {"email": f"card-{i}@example.com"})
        token_id, _ = await _token(gw, {})
        return {"customer_id": customer_id, "source": token_id}

    return await _each(n, make)


async def _assign(gw: payflow.Gateway, t: Trial) -> Made:
    card = await payflow.assign_card_async(gw, customer_id=t["customer_id"], source=t["source"])
    return card.id, {"brand": card.brand, "last4": card.last4}


async def _assign_http(http: httpx.AsyncClient, t: Trial) -> Made:
    body = {"userId": t["customer_id"], "source": t["source"]}
    data = await post(http, "/api/cards/assign", body)
    return str(data["cardId"]), {"brand": data["brand"], "last4": data["last4"]}


ASSIGN_CARD = Step(
    "assign_card",
    r"/v1/customers/[^/]+/sources",
    _customers_and_tokens,
    _assign,
    _assign_http,
    lambda t: {"brand": "visa", "last4": "4242"},
    lambda sandbox, trials: sources_in_sandbox(sandbox, (t["customer_id"] for t in trials)),
)

# --- create payment ---


async def _card_holders(gw: payflow.Gateway, n: int) -> list[Trial]:
    trials = await _customers_and_tokens(gw, n)

    async def make(i: int) -> Trial:
        card_id, _ = await _assign(gw, trials[i])
        cents = 1000 + i
        return {"customer_id": trials[i]["customer_id"], "payment_method": card_id,
                "cents": str(cents), "amount": euros(cents)}  # fmt: skip

    return await _each(n, make)


async def _payment(gw: payflow.Gateway, t: Trial) -> Made:
    payment = await payflow.create_payment_async(
        gw, customer_id=t["customer_id"], amount=payflow.Money(Decimal(t["amount"])),
        payment_method=t["payment_method"],
    )  # fmt: skip
    return payment.id, {
        "amount": payment.amount.minor_units,
        "currency": payment.amount.currency,
        "customer": payment.customer_id,
        "payment_method": payment.payment_method,
        "status": payment.status,
    }


async def _payment_http(http: httpx.AsyncClient, t: Trial) -> Made:
    body = {k: t[k] for k in ("customer_id", "amount", "payment_method")}
    data = await post(http, "/api/payments", body)
    return str(data["id"]), {k: data[k] for k in ("amount", "currency", "customer",
                                                  "payment_method", "status")}  # fmt: skip


PAYMENT = Step(
    "create_payment",
    r"/v1/payment_intents",
    _card_holders,
    _payment,
    _payment_http,
    lambda t: {
        "amount": int(t["cents"]),
        "currency": "eur",
        "customer": t["customer_id"],
        "payment_method": t["payment_method"],
        "status": "requires_confirmation",
    },
    lambda sandbox, _: ids_in_sandbox(sandbox, "/v1/payment_intents"),
)

# --- confirm payment ---


async def _payments(gw: payflow.Gateway, n: int) -> list[Trial]:
    holders = await _card_holders(gw, n)

    async def make(i: int) -> Trial:
        payment_id, _ = await _payment(gw, holders[i])
        return {"payment_id": payment_id, "cents": holders[i]["cents"]}

    return await _each(n, make)


async def _confirm(gw: payflow.Gateway, t: Trial) -> Made:
    payment = await payflow.confirm_payment_async(gw, t["payment_id"])
    charges = [[c.amount.minor_units, c.paid] for c in payment.charges]
    return payment.charges[0].id, {"payment": payment.id, "status": payment.status,
                                   "charges": charges}  # fmt: skip


async def _confirm_http(http: httpx.AsyncClient, t: Trial) -> Made:
    data = await post(http, "/api/payments/confirm", {"paymentId": t["payment_id"]})
    listed = data["charges"]["data"]
    charges = [[c["amount"], c["paid"]] for c in listed]
    return str(listed[0]["id"]), {"payment": data["id"], "status": data["status"],
                                  "charges": charges}  # fmt: skip


CONFIRM = Step(
    "confirm_payment",
    r"/v1/payment_intents/[^/]+/confirm",
    _payments,
    _confirm,
    _confirm_http,
    lambda t: {
        "payment": t["payment_id"],
        "status": "succeeded",
        "charges": [[int(t["cents"]), True]],
    },
    lambda sandbox, _: ids_in_sandbox(sandbox, "/v1/charges"),
    lambda made: made[1]["payment"],
)

# --- refund ---


async def _charges(gw: payflow.Gateway, n: int) -> list[Trial]:
    holders = await _card_holders(gw, n)

    async def make(i: int) -> Trial:
        payment_id, _ = await _payment(gw, {**holders[i], "amount": euros(CHARGED_CENTS)})
        charge_id, _ = await _confirm(gw, {"payment_id": payment_id})
        cents = 100 + i
        return {"charge_id": charge_id, "cents": str(cents), "amount": euros(cents)}

    return await _each(n, make)


async def _refund(gw: payflow.Gateway, t: Trial) -> Made:
    refund = await payflow.refund_async(
        gw, charge_id=t["charge_id"], amount=payflow.Money(Decimal(t["amount"]))
    )
    return refund.id, {"amount": refund.amount.minor_units, "charge": refund.charge_id,
                       "status": refund.status}  # fmt: skip


async def _refund_http(http: httpx.AsyncClient, t: Trial) -> Made:
    body = {"chargeId": t["charge_id"], "amount": t["amount"]}
    data = await post(http, "/api/payments/refund", body)
    return str(data["id"]), {k: data[k] for k in ("amount", "charge", "status")}


REFUND = Step(
    "refund",
    r"/v1/refunds",
    _charges,
    _refund,
    _refund_http,
    lambda t: {"amount": int(t["cents"]), "charge": t["charge_id"], "status": "succeeded"},
    lambda sandbox, _: ids_in_sandbox(sandbox, "/v1/refunds"),
)

STEPS = (CUSTOMER, CARD_TOKEN, ASSIGN_CARD, PAYMENT, CONFIRM, REFUND)


# --- the checks ---


def assert_made_once(step: Step, trials: list[Trial], made: list[Made], sandbox: Sandbox) -> None:
    """Each call made one object, the one it returned, with the fields asked for."""
    ids = sorted(object_id for object_id, _ in made)
    assert ids == sorted(step.made_in(sandbox, trials))
    assert [step.expected(t) for t in trials] == [fields for _, fields in made]


def assert_lost_then_replayed(step: Step, made: list[Made], proxy: FaultProxy) -> None:
    """Each call's first answer was lost after the sandbox acted, and its retry was answered
    with the object that lost answer held, replayed: the retry did nothing again."""
    lost = proxy.lost(step.path)
    assert len(made) == len(lost), "the answers really lost"
    assert sorted(str(step.answer_id(m)) for m in made) == sorted(str(e.object_id) for e in lost)
    keys = {e.key for e in lost}
    retried = [(e.status, e.replayed) for e in proxy.on(step.path) if e.key in keys and e.delivered]
    assert [(200, True)] * len(lost) == retried


def assert_overlapped(step: Step, made: list[Made], proxy: FaultProxy) -> collections.Counter[str]:
    """Each call's first attempt was held in flight at the sandbox, its caller cut off, while its
    retry got there and was answered; the sandbox made one object, the one returned, and either
    refused the retry with a 409 and replayed the original's object to a later retry ("409 then
    replay", as Stripe does), or ran the retry and replayed its object to the original
    ("serialised replay"). Returns how many calls went each way."""
    groups = [g for g in proxy.by_key(step.path).values() if g[0].fault == Fault.overlap()]
    assert len(made) == len(groups) == len(proxy.lost(step.path)), "the overlaps injected"
    outcomes: collections.Counter[str] = collections.Counter()
    made_ids: list[str] = []
    for original, retry, *later in groups:
        # The retry reached the sandbox, and was answered, while the original was held there.
        assert in_order(original.forwarded, original.held, retry.forwarded, retry.answered,
                        original.released, original.answered)  # fmt: skip
        attempts = [original, retry, *later]
        fresh = [e.object_id for e in attempts if e.status == 200 and not e.replayed]
        replayed = {e.object_id for e in attempts if e.status == 200 and e.replayed}
        refused = [e.status for e in attempts if e.status != 200]
        assert (1, True, True) == (len(fresh), replayed <= set(fresh), set(refused) <= {409})
        outcomes["409 then replay" if refused else "serialised replay"] += 1
        made_ids += [str(fresh[0])]
    assert sorted(made_ids) == sorted(str(step.answer_id(m)) for m in made)
    return outcomes
