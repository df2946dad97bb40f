"""`payflow.webhooks.verify_event`: signatures as Stripe documents them, and the typed event.

The oracle is Stripe's documentation, not the SDK that payflow calls: "Verify the events that
Stripe sends" (https://docs.stripe.com/webhooks#verify-events): the Stripe-Signature header is
``t=<timestamp>,v1=<signature>[,v1=...]``, the signature an HMAC-SHA256, keyed by the endpoint's
secret, of ``<timestamp>.<the body as sent>``; several ``v1`` while a secret is rotated; and a
tolerance (five minutes by default in Stripe's libraries) against replays.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import pytest

import payflow
from payflow import webhooks

SECRET = "whsec_test_current"
OLD_SECRET = "whsec_test_previous"
NOW = 1_900_000_000


def sign(body: bytes, *secrets: str, at: int = NOW) -> str:
    """The header as the docs describe it, one v1 per secret."""
    signed = f"{at}.".encode() + body
    v1 = [hmac.new(s.encode(), signed, hashlib.sha256).hexdigest() for s in secrets]
    return ",".join([f"t={at}", *(f"v1={v}" for v in v1)])


def event_body(obj: dict[str, Any], kind: str = "payment_intent.succeeded") -> bytes:
    event = {
        "id": "evt_1",
        "object": "event",
        "type": kind,
        "created": NOW - 5,
        "livemode": False,
        "data": {"object": obj},
    }
    return json.dumps(event, indent=2).encode()


PAYMENT_INTENT: dict[str, Any] = {
    "id": "pi_1",
    "object": "payment_intent",
    "amount": 5000,
    "currency": "eur",
    "status": "succeeded",
    "customer": "cus_1",
    "payment_method": "pm_1",
    "client_secret": "pi_1_secret_abc",
    "latest_charge": "ch_1",
    "next_action": None,
    "last_payment_error": None,
}
CHARGE: dict[str, Any] = {
    "id": "ch_1",
    "object": "charge",
    "amount": 5000,
    "amount_refunded": 2500,
    "refunded": False,
    "currency": "eur",
    "paid": True,
    "status": "succeeded",
    "payment_intent": "pi_1",
}
REFUND: dict[str, Any] = {
    "id": "re_1",
    "object": "refund",
    "amount": 2500,
    "currency": "eur",
    "charge": "ch_1",
    "status": "succeeded",
    "reason": None,
}


def verify(body: bytes, header: str | None, secrets: Any = SECRET, now: float = NOW) -> Any:
    return webhooks.verify_event(body, header, secrets, now=now)


def test_a_signed_payment_event_is_typed() -> None:
    body = event_body(PAYMENT_INTENT)
    event = verify(body, sign(body, SECRET))
    assert ("evt_1", "payment_intent.succeeded", False) == (
        event.id,
        event.type,
        event.livemode,
    )
    assert NOW - 5 == event.created.timestamp()
    assert isinstance(event.object, payflow.Payment)
    assert (5000, "succeeded") == (event.object.amount.minor_units, event.object.status)
    assert ("pi_1",) == event.object_ids[:1]


def test_charges_and_refunds_are_typed_and_name_what_they_belong_to() -> None:
    charge_body = event_body(CHARGE, "charge.refunded")
    charge = verify(charge_body, sign(charge_body, SECRET))
    assert isinstance(charge.object, payflow.Charge)
    assert 2500 == charge.object.amount_refunded.minor_units
    assert ("ch_1", "pi_1") == charge.object_ids
    refund_body = event_body(REFUND, "refund.created")
    refund = verify(refund_body, sign(refund_body, SECRET))
    assert isinstance(refund.object, payflow.Refund)
    assert ("re_1", "ch_1") == refund.object_ids


def test_other_objects_stay_stripes_mapping() -> None:
    body = event_body({"id": "cus_1", "object": "customer", "email": "a@example.com"})
    event = verify(body, sign(body, SECRET), now=NOW)
    assert {"id": "cus_1", "object": "customer", "email": "a@example.com"} == event.object
    assert ("cus_1",) == event.object_ids


def test_the_record_holds_no_client_secret_and_the_repr_no_object() -> None:
    body = event_body(PAYMENT_INTENT)
    event = verify(body, sign(body, SECRET))
    assert "secret" not in event.record().summary
    assert "pi_1" not in repr(event)
    assert json.loads(event.record().summary)["amount"] == 5000


def test_any_of_the_rotated_secrets_is_accepted() -> None:
    body = event_body(PAYMENT_INTENT)
    # Signed with the old secret only, while the endpoint already knows the new one.
    assert verify(body, sign(body, OLD_SECRET), [SECRET, OLD_SECRET]).id == "evt_1"
    # Signed with both, as Stripe does while both are active.
    assert verify(body, sign(body, "whsec_other", SECRET), [SECRET]).id == "evt_1"


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(lambda body: sign(body, "whsec_wrong"), id="wrong secret"),
        pytest.param(lambda body: sign(body + b" ", SECRET), id="another body"),
        pytest.param(lambda body: sign(body, SECRET).replace("v1=", "v0="), id="no v1"),
        pytest.param(lambda body: "garbage", id="malformed"),
        pytest.param(lambda body: f"t=now,v1={'0' * 64}", id="timestamp not a number"),
    ],
)
def test_a_body_no_secret_signed_is_refused(header: Any) -> None:
    body = event_body(PAYMENT_INTENT)
    with pytest.raises(payflow.webhooks.SignatureInvalid) as raised:
        verify(body, header(body))
    assert SECRET not in str(raised.value)


def test_a_tampered_body_is_refused() -> None:
    body = event_body(PAYMENT_INTENT)
    header = sign(body, SECRET)
    tampered = body.replace(b"5000", b"5")
    with pytest.raises(payflow.webhooks.SignatureInvalid):
        verify(tampered, header)


@pytest.mark.parametrize("header", [None, ""])
def test_a_missing_header_is_its_own_error(header: str | None) -> None:
    with pytest.raises(payflow.webhooks.SignatureMissing):
        verify(event_body(PAYMENT_INTENT), header)


@pytest.mark.parametrize(("age", "accepted"), [(299, True), (301, False), (-301, False)])
def test_signatures_outside_the_tolerance_are_refused(age: int, accepted: bool) -> None:
    body = event_body(PAYMENT_INTENT)
    header = sign(body, SECRET, at=NOW - age)
    if accepted:
        assert verify(body, header).id == "evt_1"
    else:
        with pytest.raises(payflow.webhooks.SignatureExpired):
            verify(body, header)


def test_the_default_tolerance_is_five_minutes_of_the_real_clock() -> None:
    body = event_body(PAYMENT_INTENT)
    fresh = sign(body, SECRET, at=int(time.time()))
    assert webhooks.verify_event(body, fresh, SECRET).id == "evt_1"
    stale = sign(body, SECRET, at=int(time.time()) - 301)
    with pytest.raises(payflow.webhooks.SignatureExpired):
        webhooks.verify_event(body, stale, SECRET)


def test_an_endpoint_without_secrets_refuses_everything() -> None:
    body = event_body(PAYMENT_INTENT)
    with pytest.raises(payflow.webhooks.SignatureInvalid):
        verify(body, sign(body, SECRET), [])


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"not json", id="not json"),
        pytest.param(b"[]", id="an array"),
        pytest.param(b'{"id": "evt_1", "type": "x", "created": 1}', id="no data"),
        pytest.param(
            json.dumps({"id": "ch_1", "type": "x", "created": 1, "data": {"object": {}}}).encode(),
            id="not an evt_ id",
        ),
        pytest.param(event_body({**PAYMENT_INTENT, "amount": 50.5}), id="a float amount"),
        pytest.param(event_body({**PAYMENT_INTENT, "status": "paid"}), id="unknown status"),
        pytest.param(
            event_body(PAYMENT_INTENT).replace(b'"created": 1899999995', b'"created": "1"'),
            id="created not an integer",
        ),
    ],
)
def test_a_signed_body_that_is_not_an_event_is_its_own_error(body: bytes) -> None:
    with pytest.raises(payflow.webhooks.NotAnEvent):
        verify(body, sign(body, SECRET))


def test_a_body_that_is_not_utf8_cannot_carry_stripes_signature() -> None:
    # Stripe sends JSON in UTF-8; the SDK verifies the body as text.
    body = "día".encode("latin-1")
    with pytest.raises(payflow.webhooks.SignatureInvalid):
        verify(body, sign(body, SECRET))


def test_the_errors_are_payflow_errors_with_codes() -> None:
    codes = {
        cls.code
        for cls in (
            webhooks.SignatureMissing,
            webhooks.SignatureInvalid,
            webhooks.SignatureExpired,
            webhooks.NotAnEvent,
        )
    }
    assert {"signature_missing", "signature_invalid", "signature_expired", "not_an_event"} == codes
    assert issubclass(webhooks.NotAnEvent, payflow.PayflowError)
