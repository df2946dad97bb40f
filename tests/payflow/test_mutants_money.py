"""Money's behaviours that mutation testing found untested (docs/mutation.md)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from payflow import InvalidRequest, Money


def test_an_unknown_currency_of_ten_characters_is_quoted_whole() -> None:
    """The refusal of a mistyped code quotes it, so that the caller can see what was sent."""
    with pytest.raises(InvalidRequest) as raised:
        Money(Decimal("1"), "us dollars")

    assert "'us dollars'" in raised.value.message


def test_an_unknown_currency_is_quoted_to_ten_characters_at_most() -> None:
    """A long (hostile) value is cut in the message: the message stays short."""
    with pytest.raises(InvalidRequest) as raised:
        Money(Decimal("1"), "x" * 10_000)

    assert "'xxxxxxxxxx'" in raised.value.message
    assert "x" * 11 not in raised.value.message
