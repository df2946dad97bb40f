"""Checks on a step's input, made before any network call. Each failure names its field."""

from __future__ import annotations

import datetime as dt
import re
from typing import Final
from urllib.parse import urlsplit

from ._errors import InvalidAmount, InvalidRequest
from ._money import MAXIMUM_MINOR_UNITS, MINIMUM_CHARGE, Money, major_units, smallest_amount

__all__ = [
    "REFUND_REASONS",
    "card",
    "chargeable",
    "email",
    "object_id",
    "optional_text",
    "reason",
    "refundable",
    "return_url",
    "stripe_id",
]

REFUND_REASONS: Final = frozenset({"duplicate", "fraudulent", "requested_by_customer"})

# Deliberately loose: one @, no spaces, a dot in the domain. Stripe checks the rest.
_EMAIL: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
# Stripe ids are ASCII letters, digits and underscores (cus_..., tok_..., pi_..., ch_...).
# Stripe ids are a prefix, an underscore and letters or digits (cus_..., tok_..., pi_...); the
# prefix keeps a card number sent as an id out of the URL, and so out of the SDK's logs.
_ID: Final = re.compile(r"[A-Za-z]{1,32}_[A-Za-z0-9_]{1,222}")
_DIGITS: Final = re.compile(r"[0-9]+")


def _text(value: object, field: str, *, max_length: int) -> str:
    if not isinstance(value, str):
        raise InvalidRequest(f"{field} must be a string", field=field)
    if not value.strip():
        raise InvalidRequest(f"{field} must not be empty", field=field)
    if len(value) > max_length:
        raise InvalidRequest(f"{field} is longer than {max_length} characters", field=field)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: valid in JSON, not sendable to Stripe
        raise InvalidRequest(f"{field} is not valid text", field=field) from None
    return value


def email(value: object) -> str:
    text = _text(value, "email", max_length=512)
    if not _EMAIL.fullmatch(text):
        raise InvalidRequest("email is not an e-mail address", field="email")
    return text


def optional_text(value: object, field: str, *, max_length: int) -> str | None:
    return None if value is None else _text(value, field, max_length=max_length)


def object_id(value: object, field: str) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise InvalidRequest(f"{field} must be a Stripe id such as cus_123abc", field=field)
    return value


def _luhn(number: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _integer(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"{field} must be an integer", field=field)
    return value


def card(
    *, number: object, exp_month: object, exp_year: object, cvc: object, today: dt.date
) -> tuple[str, int, int, str]:
    """The card's fields, checked. Messages never repeat the number or the CVC."""
    if not isinstance(number, str):
        raise InvalidRequest("number must be a string of digits", field="number")
    digits = number.replace(" ", "")
    if not (_DIGITS.fullmatch(digits) and 12 <= len(digits) <= 19):
        raise InvalidRequest("number must have 12 to 19 digits", field="number")
    if not _luhn(digits):
        raise InvalidRequest("number is not a valid card number", field="number")
    month = _integer(exp_month, "exp_month")
    if not 1 <= month <= 12:
        raise InvalidRequest("exp_month must be from 1 to 12", field="exp_month")
    year = _integer(exp_year, "exp_year")
    if not 1000 <= year <= 9999:
        raise InvalidRequest("exp_year must have four digits", field="exp_year")
    if (year, month) < (today.year, today.month):
        raise InvalidRequest("the card has expired", field="exp_year")
    if not isinstance(cvc, str) or not (_DIGITS.fullmatch(cvc) and 3 <= len(cvc) <= 4):
        raise InvalidRequest("cvc must be a string of 3 or 4 digits", field="cvc")
    return digits, month, year, cvc


def _money(value: object) -> Money:
    if not isinstance(value, Money):
        raise InvalidRequest("amount must be a payflow.Money", field="amount")
    return value


def _at_most_maximum(money: Money) -> Money:
    # Compared as Decimals: a hostile exponent (1E+999999999) must not become a huge integer.
    maximum = major_units(MAXIMUM_MINOR_UNITS, money.currency)
    if money.amount > maximum:
        raise InvalidAmount(
            f"the maximum amount in {money.currency.upper()} is {maximum}", field="amount"
        )
    return money


def chargeable(value: object) -> Money:
    """An amount Stripe can charge: at least the currency's minimum, at most its maximum."""
    money = _money(value)
    minimum = MINIMUM_CHARGE.get(money.currency)
    if money.amount.is_zero() or (minimum is not None and money.amount < minimum):
        raise InvalidAmount(
            f"the minimum charge in {money.currency.upper()} is"
            f" {minimum or smallest_amount(money.currency)}",
            field="amount",
        )
    return _at_most_maximum(money)


def refundable(value: object) -> Money:
    """An amount that can be refunded: more than zero, no more than Stripe's maximum."""
    money = _money(value)
    if money.amount.is_zero():
        raise InvalidAmount("a refund must be greater than zero", field="amount")
    return _at_most_maximum(money)


def reason(value: object) -> str | None:
    if value is None or (isinstance(value, str) and value in REFUND_REASONS):
        return value
    raise InvalidRequest(
        "reason must be one of: " + ", ".join(sorted(REFUND_REASONS)), field="reason"
    )


# Where Stripe may send the payer's browser back after 3-D Secure: https in general, and plain
# http only to this machine, for development. At most Stripe's 5,000 characters, and only the
# characters RFC 3986 allows in a URL (no spaces, no backslashes, no raw non-ASCII).
_LOCAL_HOSTS: Final = frozenset({"localhost", "127.0.0.1"})
_URL: Final = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]{1,5000}")


def return_url(value: object) -> str | None:
    """An absolute https:// URL, or http:// to localhost or 127.0.0.1; None stays None."""
    if value is None:
        return None
    problem = "return_url must be an absolute https:// URL (http:// only to localhost or 127.0.0.1)"
    if not isinstance(value, str) or not _URL.fullmatch(value):
        raise InvalidRequest(problem, field="return_url")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError:
        raise InvalidRequest(problem, field="return_url") from None
    host = parts.hostname
    local = parts.scheme == "http" and host in _LOCAL_HOSTS
    if not host or parts.username is not None or not (parts.scheme == "https" or local):
        raise InvalidRequest(problem, field="return_url")
    return value


def stripe_id(value: object, field: str, prefix: str) -> str:
    """A Stripe id of one kind, told by its prefix (`pi_` for a PaymentIntent)."""
    if not isinstance(value, str) or not value.startswith(prefix):
        raise InvalidRequest(f"{field} must be a Stripe id starting with {prefix}", field=field)
    return object_id(value, field)
