"""The input checks' behaviours that mutation testing found untested (docs/mutation.md)."""

from __future__ import annotations

import pytest

from payflow import InvalidRequest
from payflow import _validate as check

# "Keys can be up to 255 characters long": https://docs.stripe.com/api/idempotent_requests
STRIPE_KEY_MAX = 255


@pytest.mark.parametrize("namespace", ["", "payflow:payments:"])
def test_a_key_that_makes_exactly_255_characters_is_accepted(namespace: str) -> None:
    """The longest key Stripe takes, namespace included, is accepted whole."""
    key = "k" * (STRIPE_KEY_MAX - len(namespace))

    assert namespace + key == check.idempotency_key(key, namespace=namespace)


@pytest.mark.parametrize("namespace", ["", "payflow:payments:"])
def test_a_key_one_character_longer_is_refused(namespace: str) -> None:
    """One character more than Stripe takes is refused before any request."""
    with pytest.raises(InvalidRequest) as raised:
        check.idempotency_key("k" * (STRIPE_KEY_MAX + 1 - len(namespace)), namespace=namespace)

    assert "idempotency_key" == raised.value.field
