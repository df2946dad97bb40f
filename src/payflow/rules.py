"""The limits and patterns payflow checks a step's input against, written once.

`payflow` checks them before any request reaches Stripe; anything that describes an input (the
HTTP adapter's OpenAPI document, its error messages, a form in your own front end) reads them
from here rather than restating them. An `InvalidRequest` names the `Rule` it broke in `.rule`,
with the rule's parameters in `.params`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

__all__ = [
    "CARD_NUMBER_DIGITS",
    "CVC_DIGITS",
    "EMAIL_MAX_LENGTH",
    "EMAIL_PATTERN",
    "EXP_MONTH",
    "EXP_YEAR",
    "IDEMPOTENCY_KEY_MAX_LENGTH",
    "IDEMPOTENCY_KEY_PATTERN",
    "ID_EXAMPLES",
    "ID_PATTERN",
    "MONEY_MAX_INTEGER_DIGITS",
    "NAME_MAX_LENGTH",
    "PHONE_MAX_LENGTH",
    "REFUND_REASONS",
    "RETURN_URL_LOCAL_HOSTS",
    "RETURN_URL_MAX_LENGTH",
    "RETURN_URL_PATTERN",
    "VISIBLE_ASCII",
    "Rule",
]

# Stripe's limits on a customer: https://docs.stripe.com/api/customers/create
EMAIL_MAX_LENGTH: Final = 512
NAME_MAX_LENGTH: Final = 256
PHONE_MAX_LENGTH: Final = 20
# Deliberately loose: one @, no spaces, a dot in the domain. Stripe checks the rest.
EMAIL_PATTERN: Final = r"[^@\s]+@[^@\s]+\.[^@\s.]+"

# A card number's digits (spaces between them are allowed), the CVC's digits, the expiry's range.
CARD_NUMBER_DIGITS: Final = (12, 19)
CVC_DIGITS: Final = (3, 4)
EXP_MONTH: Final = (1, 12)
EXP_YEAR: Final = (1000, 9999)

# Stripe ids are a prefix, an underscore and letters or digits (cus_..., tok_..., pi_...); the
# prefix keeps a card number sent as an id out of the URL, and so out of the SDK's logs.
ID_PATTERN: Final = r"[A-Za-z]{1,32}_[A-Za-z0-9_]{1,222}"
# The kind of object each step's id argument names, as an example id: a card number sent as
# `source` is told that a token id is expected.
ID_EXAMPLES: Final[Mapping[str, str]] = {
    "customer_id": "cus_123abc",
    "source": "tok_123abc",
    "payment_method": "card_123abc",
    "payment_id": "pi_123abc",
    "charge_id": "ch_123abc",
}

# Stripe takes keys of up to 255 characters: https://docs.stripe.com/api/idempotent_requests
# Printable ASCII without spaces keeps a key a valid header value.
IDEMPOTENCY_KEY_MAX_LENGTH: Final = 255
# Visible ASCII: what an HTTP header can carry without quoting (a key, a bearer token).
VISIBLE_ASCII: Final = r"[\x21-\x7e]+"
IDEMPOTENCY_KEY_PATTERN: Final = VISIBLE_ASCII

# https://docs.stripe.com/api/refunds/create#create_refund-reason
REFUND_REASONS: Final = ("duplicate", "fraudulent", "requested_by_customer")

# Where Stripe may send the payer's browser back after 3-D Secure: an absolute https URL, or a
# plain http one only to this machine, for development. At most 5,000 characters (Stripe's limit
# on such strings), only the characters RFC 3986 allows in a URL: no spaces, no backslashes, no
# raw non-ASCII.
RETURN_URL_MAX_LENGTH: Final = 5000
RETURN_URL_LOCAL_HOSTS: Final = ("localhost", "127.0.0.1")
RETURN_URL_PATTERN: Final = r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+"

# A Money holds fewer than this many digits before the point (10**18 major units, far above any
# amount Stripe charges), so that every operation on it costs microseconds whatever its exponent.
MONEY_MAX_INTEGER_DIGITS: Final = 18

Rule = Literal[
    "type",  # not the Python type expected (params: expected)
    "empty",  # only white space
    "too_long",  # params: max_length
    "text",  # not valid Unicode text (a lone surrogate)
    "email",  # not an e-mail address
    "id",  # not a Stripe id (params: example, e.g. "tok_123abc")
    "card_number",  # not 12 to 19 digits (params: min_digits, max_digits)
    "luhn",  # a card number whose check digit is wrong
    "range",  # an integer outside its range (params: minimum, maximum)
    "expired",  # a card whose expiry has passed
    "cvc",  # not 3 or 4 digits (params: min_digits, max_digits)
    "currency",  # a currency Stripe does not charge in
    "not_finite",  # NaN or an infinity
    "negative",  # an amount below zero
    "decimal_places",  # more decimals than the currency has (params: places, currency)
    "too_large",  # params: max_integer_digits
    "below_minimum",  # params: minimum (a Decimal), currency
    "above_maximum",  # params: maximum (a Decimal), currency
    "zero",  # a refund of nothing
    "choice",  # not one of the allowed values (params: allowed)
    "idempotency_key",  # params: max_length
    "return_url",  # not https://, nor http:// to a local host (params: local_hosts)
]
