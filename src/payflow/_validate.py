"""Checks on a step's input, made before any network call, against the limits in `rules`.

Each failure names its field and the rule it broke, with the rule's parameters; no message
repeats the value it refused.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Final
from urllib.parse import urlsplit

from . import rules
from ._errors import InvalidAmount, InvalidRequest
from ._money import MINIMUM_CHARGE, Money, major_units, maximum_minor_units, smallest_amount

__all__ = [
    "card",
    "chargeable",
    "email",
    "id_of_kind",
    "idempotency_key",
    "object_id",
    "optional_text",
    "reason",
    "refundable",
    "return_url",
]

_EMAIL: Final = re.compile(rules.EMAIL_PATTERN)
_ID: Final = re.compile(rules.ID_PATTERN)
_IDEMPOTENCY_KEY: Final = re.compile(rules.IDEMPOTENCY_KEY_PATTERN)
_DIGITS: Final = re.compile(r"[0-9]+")


def _text(value: object, field: str, *, max_length: int) -> str:
    if not isinstance(value, str):
        raise InvalidRequest(
            f"{field} must be a string", field=field, rule="type", params={"expected": "string"}
        )
    if not value.strip():
        raise InvalidRequest(f"{field} must not be empty", field=field, rule="empty")
    if len(value) > max_length:
        raise InvalidRequest(
            f"{field} is longer than {max_length} characters",
            field=field,
            rule="too_long",
            params={"max_length": max_length},
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: valid in JSON, not sendable to Stripe
        raise InvalidRequest(f"{field} is not valid text", field=field, rule="text") from None
    return value


def email(value: object) -> str:
    text = _text(value, "email", max_length=rules.EMAIL_MAX_LENGTH)
    if not _EMAIL.fullmatch(text):
        raise InvalidRequest("email is not an e-mail address", field="email", rule="email")
    return text


def optional_text(value: object, field: str, *, max_length: int) -> str | None:
    return None if value is None else _text(value, field, max_length=max_length)


def _not_an_id(field: str) -> InvalidRequest:
    example = rules.ID_EXAMPLES.get(field, "cus_123abc")
    return InvalidRequest(
        f"{field} must be a Stripe id such as {example}",
        field=field,
        rule="id",
        params={"example": example},
    )


def object_id(value: object, field: str) -> str:
    """A Stripe id; never a client secret (`pi_..._secret_...`), which would reach a URL and
    the SDK's log lines."""
    if not isinstance(value, str) or not _ID.fullmatch(value) or "_secret_" in value:
        raise _not_an_id(field)
    return value


def idempotency_key(value: object, *, namespace: str = "") -> str:
    """`value` checked as an idempotency key, with `namespace` before it (keys in different
    namespaces never collide at Stripe); the whole stays within Stripe's limit."""
    max_length = rules.IDEMPOTENCY_KEY_MAX_LENGTH - len(namespace)
    if not (
        isinstance(value, str) and len(value) <= max_length and _IDEMPOTENCY_KEY.fullmatch(value)
    ):
        raise InvalidRequest(
            f"idempotency_key must be 1 to {max_length} printable ASCII characters",
            field="idempotency_key",
            rule="idempotency_key",
            params={"max_length": max_length},
        )
    return namespace + value


def _luhn(number: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _integer(value: object, field: str, bounds: tuple[int, int]) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(
            f"{field} must be an integer", field=field, rule="type", params={"expected": "integer"}
        )
    minimum, maximum = bounds
    if not minimum <= value <= maximum:
        raise InvalidRequest(
            f"{field} must be from {minimum} to {maximum}",
            field=field,
            rule="range",
            params={"minimum": minimum, "maximum": maximum},
        )
    return value


def _digits(value: object, field: str, bounds: tuple[int, int], rule: rules.Rule) -> str:
    minimum, maximum = bounds
    if not (
        isinstance(value, str) and _DIGITS.fullmatch(value) and minimum <= len(value) <= maximum
    ):
        raise InvalidRequest(
            f"{field} must be a string of {minimum} to {maximum} digits",
            field=field,
            rule=rule,
            params={"min_digits": minimum, "max_digits": maximum},
        )
    return value


def card(
    *, number: object, exp_month: object, exp_year: object, cvc: object, today: dt.date
) -> tuple[str, int, int, str]:
    """The card's fields, checked. Messages never repeat the number or the CVC."""
    digits = number.replace(" ", "") if isinstance(number, str) else number
    digits = _digits(digits, "number", rules.CARD_NUMBER_DIGITS, "card_number")
    if not _luhn(digits):
        raise InvalidRequest("number is not a valid card number", field="number", rule="luhn")
    month = _integer(exp_month, "exp_month", rules.EXP_MONTH)
    year = _integer(exp_year, "exp_year", rules.EXP_YEAR)
    if (year, month) < (today.year, today.month):
        raise InvalidRequest("the card has expired", field="exp_year", rule="expired")
    return digits, month, year, _digits(cvc, "cvc", rules.CVC_DIGITS, "cvc")


def _money(value: object) -> Money:
    if not isinstance(value, Money):
        raise InvalidRequest(
            "amount must be a payflow.Money",
            field="amount",
            rule="type",
            params={"expected": "Money"},
        )
    return value


def _at_most_maximum(money: Money) -> Money:
    # Compared as Decimals: the maximum is not always a valid Money (99999.999 KWD).
    maximum = major_units(maximum_minor_units(money.currency), money.currency)
    if money.amount > maximum:
        raise InvalidAmount(
            f"the maximum amount in {money.currency.upper()} is {maximum}",
            field="amount",
            rule="above_maximum",
            params={"maximum": maximum, "currency": money.currency},
        )
    return money


def chargeable(value: object) -> Money:
    """An amount Stripe can charge: at least the currency's minimum, at most its maximum."""
    money = _money(value)
    minimum = MINIMUM_CHARGE.get(money.currency) or smallest_amount(money.currency)
    if money.amount < minimum:
        raise InvalidAmount(
            f"the minimum charge in {money.currency.upper()} is {minimum}",
            field="amount",
            rule="below_minimum",
            params={"minimum": minimum, "currency": money.currency},
        )
    return _at_most_maximum(money)


def refundable(value: object) -> Money:
    """An amount that can be refunded: more than zero, no more than Stripe's maximum."""
    money = _money(value)
    if money.amount.is_zero():
        raise InvalidAmount("a refund must be greater than zero", field="amount", rule="zero")
    return _at_most_maximum(money)


def reason(value: object) -> str | None:
    if value is None or (isinstance(value, str) and value in rules.REFUND_REASONS):
        return value
    raise InvalidRequest(
        "reason must be one of: " + ", ".join(rules.REFUND_REASONS),
        field="reason",
        rule="choice",
        params={"allowed": rules.REFUND_REASONS},
    )


_RETURN_URL: Final = re.compile(rules.RETURN_URL_PATTERN)


def return_url(value: object) -> str | None:
    """An absolute https:// URL, or http:// to a local host (`rules.RETURN_URL_LOCAL_HOSTS`);
    None stays None."""
    if value is None:
        return None
    url = _text(value, "return_url", max_length=rules.RETURN_URL_MAX_LENGTH)
    refused = InvalidRequest(
        "return_url must be an absolute https:// URL (http:// only to "
        + " or ".join(rules.RETURN_URL_LOCAL_HOSTS)
        + ")",
        field="return_url",
        rule="return_url",
        params={"local_hosts": rules.RETURN_URL_LOCAL_HOSTS},
    )
    if not _RETURN_URL.fullmatch(url):
        raise refused
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError:
        raise refused from None
    host = parts.hostname
    local = parts.scheme == "http" and host in rules.RETURN_URL_LOCAL_HOSTS
    if not host or parts.username is not None or not (parts.scheme == "https" or local):
        raise refused
    return url


def id_of_kind(value: object, field: str) -> str:
    """A Stripe id of the kind `field` names, told by its example's prefix (`pi_` for
    `payment_id`: a charge id there is refused before it reaches Stripe)."""
    checked = object_id(value, field)
    if not checked.startswith(rules.ID_EXAMPLES[field].split("_", 1)[0] + "_"):
        raise _not_an_id(field)
    return checked
