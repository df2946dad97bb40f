"""Hostile requests for the HTTP API, and the invariants every answer to them must keep.

The strategies build request bodies as bytes, so they can be anything a client can send: JSON
of the wrong shape or types, number literals no JSON encoder writes (`1e400`), escaped lone
surrogates, bytes that are not UTF-8, nesting deeper than a parser's recursion limit.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

import attrs
import httpx
from hypothesis import strategies as st

# The six routes and the request fields the spec gives each.
ROUTES: Final[Mapping[str, tuple[str, ...]]] = {
    "/api/customers": ("email", "name", "phone"),
    "/api/cards": ("number", "exp_month", "exp_year", "cvc"),
    "/api/cards/assign": ("userId", "source"),
    "/api/payments": ("customer_id", "amount", "payment_method"),
    "/api/payments/confirm": ("paymentId",),
    "/api/payments/refund": ("chargeId", "amount", "reason"),
}
# Fields holding a Stripe id: the server never echoes them, so a card number sent in one must
# not come back. (`name`, `phone` and `email` are the customer's own and are echoed by design.)
ID_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "/api/cards/assign": ("userId", "source"),
    "/api/payments": ("customer_id", "payment_method"),
    "/api/payments/confirm": ("paymentId",),
    "/api/payments/refund": ("chargeId",),
}

CARD_NUMBER: Final = "4242424242424242"
# Distinctive CVCs: one standing alone in a response or a log has leaked; it is not part of an
# id, a timestamp or a duration that happens to hold the same digits.
CVCS: Final = ("737", "918", "4826", "6071")
EXP_YEAR: Final = dt.date.today().year + 2

# Characters that break naive text handling: NUL, right-to-left marks and overrides, a BOM,
# line and paragraph separators, a combining mark, and lone surrogates (valid escaped JSON,
# invalid Unicode).
_NASTY_CHARACTERS: Final = "\x00\u202e\u200f\u200e\u2066\ufeff\u2028\u2029\u0301\ud800\udfff"

texts = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(codec=None, categories=["Cs", "Cc", "Cf", "Zl", "Zp"]), max_size=20),
    st.lists(st.sampled_from(_NASTY_CHARACTERS) | st.characters(), max_size=20).map("".join),
    st.sampled_from(
        [
            "",
            " ",
            "null",
            "cus_\u202e321",
            "tok_visa",
            "pm_card_visa",
            "ch_\x00",
            "../../../etc/passwd",
            "%s%s%n",
            "${jndi:ldap://x}",
            "requested_by_customer\x00",
            "DUPLICATE",
            "a@b",
            "john.doe@example.com\u202e",
        ]
    ),
    # Long strings: over Stripe's limits, and over the body limit (64 KiB).
    st.builds(
        lambda char, size: char * size,
        st.sampled_from(["a", "9", "é", "\u202e", "\x00", "\ud800"]),
        st.integers(200, 70_000),
    ),
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-(2**80), 2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    texts,
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(texts, children, max_size=4),
    max_leaves=12,
)

# Number literals as a client writes them, including ones no encoder produces.
number_literals = st.one_of(
    st.from_regex(r"-?(0|[1-9][0-9]{0,25})(\.[0-9]{1,25})?([eE][+-]?[0-9]{1,12})?", fullmatch=True),
    st.sampled_from(
        [
            "1e400",
            "1E-999999",
            "-1e400",
            "1e999999999",
            "1e-99999999999999999999",
            "1e999999999999999999",  # the largest exponent Decimal holds
            "1e-999999999999999999",
            "0e0",
            "-0",
            "-0.0",
            "0.5",
            "0.49",
            "0.50",
            "999999.99",
            "1000000.00",
            "19.999",
            "1" + "0" * 5000,
            "0." + "0" * 5000 + "1",
            "NaN",
            "Infinity",
            "-Infinity",
            "01",
            "1.",
            ".5",
            "+1",
            "0x10",
            "1_000",
        ]
    ),
)


def _json_text(value: object, ascii_only: bool) -> str:
    return json.dumps(value, ensure_ascii=ascii_only)


def _encode(text: str) -> bytes:
    # A lone surrogate written raw (not escaped) is not UTF-8: the bytes a broken client sends.
    return text.encode("utf-8", "surrogatepass")


def _object_text(pairs: Iterable[tuple[str, str]]) -> str:
    return "{" + ", ".join(f"{json.dumps(key)}: {value}" for key, value in pairs) + "}"


@st.composite
def field_values(draw: st.DrawFn) -> str:
    """A value for any field, as JSON text: any JSON value, or a bare number literal."""
    if draw(st.booleans()):
        return draw(number_literals)
    return _json_text(draw(json_values), draw(st.booleans()))


@st.composite
def shaped_bodies(draw: st.DrawFn, route: str) -> bytes:
    """A JSON object with some of the route's fields (repeated, maybe) and some others."""
    names = st.sampled_from(ROUTES[route]) | texts
    pairs = draw(st.lists(st.tuples(names, field_values()), max_size=6))
    return _encode(_object_text(pairs))


@st.composite
def any_json_bodies(draw: st.DrawFn) -> bytes:
    """Any JSON value as the whole body."""
    return _encode(_json_text(draw(json_values), draw(st.booleans())))


@st.composite
def amount_bodies(draw: st.DrawFn, route: str) -> bytes:
    """A valid-looking body whose amount (and only that) is hostile, written as it was drawn."""
    ids = {"customer_id": "cus_fuzz", "payment_method": "card_fuzz", "chargeId": "ch_fuzz"}
    amount = draw(number_literals | number_literals.map(json.dumps) | field_values())
    pairs = [(name, json.dumps(ids[name])) for name in ROUTES[route] if name in ids]
    return _encode(_object_text([*pairs, ("amount", amount)]))


@st.composite
def malformed_bodies(draw: st.DrawFn) -> bytes:
    """Bytes that are not a JSON object: random, not UTF-8, cut short, or nested too deep."""
    depth = draw(st.integers(1, 40_000))
    valid = _json_text({"email": "a@example.com", "amount": 10}, ascii_only=True)
    body: bytes = draw(
        st.one_of(
            st.binary(max_size=300),
            st.just(b""),
            st.sampled_from([b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"]).map(
                lambda bad: b'{"email": "' + bad + b'"}'
            ),
            st.just(valid.encode("utf-16")),
            st.just(valid.encode("utf-32")),
            st.just(b"\xef\xbb\xbf" + valid.encode()),
            st.integers(1, len(valid) - 1).map(lambda cut: valid[:cut].encode()),
            st.just(("[" * depth + "]" * depth).encode()),
            st.just(('{"email": ' + "[" * depth + "]" * depth + "}").encode()),
            st.just(('{"a":' * depth + "1" + "}" * depth).encode()),
            st.just(("[" * depth).encode()),
            st.just(valid.encode() + b"\x00"),
            st.just(valid.encode() + valid.encode()),
        )
    )
    return body


def header_values(*examples: str) -> st.SearchStrategy[bytes]:
    """Header values: the examples, printable ASCII, or any Latin-1 bytes (NUL, CR, LF too)."""
    return st.one_of(
        st.sampled_from(examples).map(str.encode),
        st.text(st.characters(codec="ascii"), max_size=250).map(str.encode),
        st.binary(max_size=60),
    )


_CONTENT_LENGTHS: Final = (
    *"0 1 65536 65537 -1 abc 1e3 0x10 99999999999999999999999999".split(),
    "",
    " 10",
    "\u0661\u0662",  # Arabic-Indic digits: str.isdigit() says yes
)


@st.composite
def hostile_headers(draw: st.DrawFn) -> dict[bytes, bytes]:
    """Random Content-Type, Content-Length, Idempotency-Key and Authorization headers."""
    candidates = {
        "Content-Type": header_values(
            "application/json",
            "application/json; charset=utf-8",
            "application/json; charset=latin-1",
            "APPLICATION/JSON",
            "application/merchant+json",
            "application/+json",
            "application/jsonx",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "",
            ";",
        ),
        "Content-Length": header_values(*_CONTENT_LENGTHS),
        "Idempotency-Key": header_values("order-42", "a" * 200, "a" * 201, " ", "a b", "ключ"),
        "Authorization": header_values(
            "Bearer token", "Bearer ", "Basic dXNlcjpwYXNz", "bearer x", "Bearer " + "x" * 5000
        ),
    }
    chosen = draw(st.lists(st.sampled_from(sorted(candidates)), unique=True))
    return {name.encode(): draw(candidates[name]) for name in chosen}


@st.composite
def card_bodies(draw: st.DrawFn) -> tuple[bytes, str]:
    """A valid-looking card body with the real test card number; and the CVC it sends."""
    cvc = draw(st.sampled_from(CVCS))
    number = draw(
        st.sampled_from(
            [
                CARD_NUMBER,
                "4242 4242 4242 4242",
                "4242-4242-4242-4242",
                f" {CARD_NUMBER} ",
                f"{CARD_NUMBER}\x00",
                f"\u202e{CARD_NUMBER}",
                f"{CARD_NUMBER}0",
                CARD_NUMBER[:-1] + "3",  # fails the Luhn check
            ]
        )
    )
    months = st.integers(-3, 15) | st.just(12)
    years = st.integers(EXP_YEAR - 10, EXP_YEAR + 30) | st.integers(-(2**40), 2**40)
    fields: dict[str, Any] = {
        "number": draw(st.just(number) | st.just(int(CARD_NUMBER))),
        "exp_month": draw(months | months.map(str)),
        "exp_year": draw(years.filter(lambda year: str(year) not in CVCS)),
        "cvc": draw(st.just(cvc) | st.just(int(cvc)) | st.just(f" {cvc}")),
    }
    # Sometimes a field is missing, or the CVC and the number trade places.
    fields = draw(st.sampled_from([fields, {k: v for k, v in fields.items() if k != "exp_month"}]))
    if draw(st.booleans()):
        fields["number"], fields["cvc"] = fields["cvc"], fields["number"]
    return _encode(_json_text(fields, draw(st.booleans()))), cvc


@attrs.frozen
class Secrets:
    """What must never appear in a response or a log: card numbers, CVCs and the Stripe key."""

    key: str
    card_numbers: tuple[str, ...] = (CARD_NUMBER,)
    cvcs: tuple[str, ...] = ()

    def found_in(self, text: str) -> list[str]:
        """Which of the secrets `text` holds (a card number even when split by spaces or -)."""
        digits = re.sub(r"(?<=\d)[ -](?=\d)", "", text)
        found = [f"card number {n[-4:]}" for n in self.card_numbers if n in digits]
        found += [
            f"CVC {cvc}"
            for cvc in self.cvcs
            if re.search(rf"(?<![0-9A-Za-z.]){cvc}(?![0-9A-Za-z.])", text)
        ]
        return found + (["Stripe key"] if self.key in text else [])


def response_text(response: httpx.Response) -> str:
    """The status line, every header and the body of a response, as one text."""
    headers = "\n".join(f"{name}: {value}" for name, value in response.headers.multi_items())
    body = response.content.decode("utf-8", "replace")
    return f"{response.status_code}\n{headers}\n\n{body}"


_FORMATTER: Final = logging.Formatter("%(name)s %(levelname)s %(message)s")


def log_text(records: Iterable[logging.LogRecord]) -> str:
    """Every record in full: the formatted message and traceback, and all of its attributes
    (its raw arguments and any `extra` fields), so that nothing a handler could write is missed."""
    return "\n".join(f"{_FORMATTER.format(r)}\n{vars(r)!r}" for r in records)


def envelope_problems(response: httpx.Response) -> list[str]:
    """How a response breaks the rules every answer keeps: no 5xx, and the JSON envelope."""
    problems = [] if response.status_code < 500 else [f"status {response.status_code}"]
    if response.headers.get("content-type") != "application/json":
        problems.append(f"content-type {response.headers.get('content-type')!r}")
    if response.request.method == "HEAD" and not response.content:
        return problems  # a HEAD answer has no body (RFC 9110, 9.3.2)
    try:
        body = response.json()
    except ValueError:
        return [*problems, "the body is not JSON"]
    if not isinstance(body, dict):
        return [*problems, "the body is not a JSON object"]
    if not isinstance(body.get("status"), bool) or not isinstance(body.get("message"), str):
        problems.append("no boolean status and string message")
    if body.get("status") is True:
        if response.status_code != 200 or not isinstance(body.get("data"), dict):
            problems.append("a success without status 200 and a data object")
    elif not isinstance(body.get("error"), dict) or not isinstance(body["error"].get("code"), str):
        problems.append("a failure without error.code")
    elif response.is_success:
        problems.append("a failure with a 2xx status")
    return problems
