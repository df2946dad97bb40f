"""The adapter's reading of a request, as docs/http-api.md describes it, tested without a server:
behaviours mutation testing found untested (docs/mutation.md)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import pytest
from starlette.requests import Request
from starlette.types import Message

import payflow
from payflow_asgi import _parse as parse
from payflow_asgi._errors import Problem

LIMIT = 64


def request(
    chunks: Sequence[bytes] = (b"{}",),
    headers: Sequence[tuple[str, str]] = (("content-type", "application/json"),),
    *,
    disconnect: bool = False,
) -> Request:
    """A Starlette request whose body arrives in `chunks` (then a disconnect, if asked)."""
    messages: list[Message] = [
        {"type": "http.request", "body": chunk, "more_body": disconnect or i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    if disconnect:
        messages.append({"type": "http.disconnect"})

    async def receive() -> Message:
        return messages.pop(0)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/customers",
        "headers": [(name.encode(), value.encode()) for name, value in headers],
    }
    return Request(scope, receive)


async def problem(req: Request, limit: int = LIMIT) -> Problem:
    with pytest.raises(Problem) as raised:
        await parse.body(req, limit)
    return raised.value


class TestMediaType:
    @pytest.mark.parametrize(
        "content_type",
        [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/merge-patch+json",
        ],
    )
    async def test_json_types_are_read(self, content_type: str) -> None:
        """application/json, with a charset, in any case, and +json types are JSON (415 row)."""
        req = request([b'{"a": 1}'], [("content-type", content_type)])

        assert {"a": 1} == await parse.body(req, LIMIT)

    @pytest.mark.parametrize("content_type", ["text/plain", "text/plain+json", "application/xml"])
    async def test_other_types_are_415(self, content_type: str) -> None:
        """A body not sent as JSON is refused with 415 unsupported_media_type."""
        found = await problem(request([b"{}"], [("content-type", content_type)]))

        assert (415, "unsupported_media_type") == (found.status, found.code)

    async def test_no_content_type_is_415(self) -> None:
        """A body without a Content-Type is not taken for JSON."""
        found = await problem(request([b"{}"], []))

        assert (415, "unsupported_media_type") == (found.status, found.code)


class TestLimit:
    async def test_a_body_of_exactly_the_limit_is_read(self) -> None:
        """Only a body over the limit is refused: one of the limit's size is read."""
        body = b'{"a": "' + b"x" * (LIMIT - 9) + b'"}'
        assert LIMIT == len(body)
        headers = [("content-type", "application/json"), ("content-length", str(LIMIT))]

        assert {"a": "x" * (LIMIT - 9)} == await parse.body(request([body], headers), LIMIT)

    async def test_a_streamed_body_of_exactly_the_limit_is_read(self) -> None:
        """Read in pieces without a Content-Length, a body of the limit's size is whole."""
        body = b'{"a": "' + b"x" * (LIMIT - 9) + b'"}'
        chunks = [body[:20], body[20:40], body[40:]]

        assert {"a": "x" * (LIMIT - 9)} == await parse.body(request(chunks), LIMIT)

    async def test_a_streamed_body_one_byte_over_is_413(self) -> None:
        """A streamed body is cut off as soon as it passes the limit."""
        body = b'{"a": "' + b"x" * (LIMIT - 8) + b'"}'
        found = await problem(request([body[:30], body[30:]]))

        assert (413, "payload_too_large", {"limit": LIMIT}) == (
            found.status,
            found.code,
            found.params,
        )

    async def test_a_declared_length_one_byte_over_is_413(self) -> None:
        """A Content-Length over the limit is refused before the body is read."""
        headers = [("content-type", "application/json"), ("content-length", str(LIMIT + 1))]
        found = await problem(request([b"{}"], headers))

        assert (413, "payload_too_large") == (found.status, found.code)

    async def test_a_zero_padded_length_is_its_number(self) -> None:
        """Content-Length is digits (RFC 9110, 8.6): 18 of them, zero-padded, can be small."""
        headers = [("content-type", "application/json"), ("content-length", "2".zfill(18))]

        assert {} == await parse.body(request([b"{}"], headers), LIMIT)

    async def test_a_message_without_more_body_is_the_last(self) -> None:
        """more_body is optional in an ASGI http.request message and defaults to False (ASGI
        HTTP spec: https://asgi.readthedocs.io/en/latest/specs/www.html#request-receive-event)."""
        messages: list[Message] = [{"type": "http.request", "body": b'{"a": 1}'}]

        async def receive() -> Message:
            return messages.pop(0)

        scope = {"type": "http", "headers": [(b"content-type", b"application/json")]}

        assert {"a": 1} == await parse.body(Request(scope, receive), LIMIT)

    async def test_a_disconnect_is_400(self) -> None:
        """A client gone before its body arrived is a 400 client_disconnected."""
        found = await problem(request([b'{"a"'], disconnect=True))

        assert (400, "client_disconnected") == (found.status, found.code)


class TestJson:
    @pytest.mark.parametrize(
        "body",
        [
            b"\xff{}",  # not UTF-8
            b'{"a": }',  # malformed
            b'{"a": NaN}',  # not JSON
            b"[" * 50_000,  # nested too deep
            b'{"a": 1e-9999999999999999999}',  # an exponent Decimal cannot hold
        ],
    )
    async def test_what_is_not_json_is_400_invalid_json(self, body: bytes) -> None:
        """Each way a body fails to be JSON is the same 400 invalid_json (docs: Errors)."""
        found = await problem(request([body]), limit=len(body))

        assert (400, "invalid_json") == (found.status, found.code)

    async def test_json_that_is_not_an_object_is_400(self) -> None:
        """A JSON array is JSON, but not the object each route reads."""
        found = await problem(request([b"[]"]))

        assert (400, "invalid_json", "not_an_object") == (found.status, found.code, found.key)

    async def test_numbers_with_a_point_are_exact(self) -> None:
        """19.99 is read as Decimal('19.99'), never a float."""
        data = await parse.body(request([b'{"amount": 19.99}']), LIMIT)

        assert Decimal("19.99") == data["amount"]
        assert isinstance(data["amount"], Decimal)


def field(data: parse.Body, kind: parse.Kind, *, required: bool = True) -> object:
    return parse.field(data, "amount", kind, required=required, currency="eur")


def refusal(data: parse.Body, kind: parse.Kind) -> tuple[int, str, str, str | None]:
    with pytest.raises(Problem) as raised:
        field(data, kind)
    found = raised.value
    return found.status, found.code, found.key, found.field


class TestField:
    def test_a_required_field_left_out_is_400_missing(self) -> None:
        """A required field that is absent names itself."""
        assert (400, "invalid_request", "missing", "amount") == refusal({}, "amount")

    def test_a_required_field_sent_as_null_is_400_missing(self) -> None:
        """null is the same as leaving a field out."""
        assert (400, "invalid_request", "missing", "amount") == refusal({"amount": None}, "amount")

    @pytest.mark.parametrize("data", [{}, {"amount": None}])
    def test_an_optional_field_left_out_is_none(self, data: parse.Body) -> None:
        """An optional field may be left out or null (docs: Routes)."""
        assert None is field(data, "amount", required=False)

    def test_a_string_is_kept(self) -> None:
        """A text field's string is passed on as sent (the library checks its content)."""
        assert "x" == field({"amount": "x"}, "string")

    @pytest.mark.parametrize("value", [1, True, ["x"]])
    def test_a_string_field_refuses_other_types(self, value: object) -> None:
        """A text field given another JSON type is 400 not_string."""
        assert (400, "invalid_request", "not_string", "amount") == refusal(
            {"amount": value}, "string"
        )

    def test_an_integer_is_kept(self) -> None:
        """An integer field's integer is passed on as sent."""
        assert 12 == field({"amount": 12}, "integer")

    @pytest.mark.parametrize("value", [True, "12", Decimal("12.0")])
    def test_an_integer_field_refuses_other_types(self, value: object) -> None:
        """true is not an integer, nor is "12" or 12.0."""
        assert (400, "invalid_request", "not_integer", "amount") == refusal(
            {"amount": value}, "integer"
        )

    @pytest.mark.parametrize(
        ("value", "expected"),
        [(50, "50"), (Decimal("50.00"), "50.00"), ("50.00", "50.00"), ("50", "50")],
    )
    def test_amounts_are_money_in_the_currency(self, value: object, expected: str) -> None:
        """A number, or a string of digits with an optional decimal part, is the same amount."""
        assert payflow.Money(Decimal(expected), "eur") == field({"amount": value}, "amount")

    @pytest.mark.parametrize("value", ["50,00", "1e3", " 50", "", True, False, {"a": 1}, [1]])
    def test_other_amounts_are_400_not_amount(self, value: object) -> None:
        """Other strings, booleans and objects are not amounts (docs: Amounts)."""
        assert (400, "invalid_request", "not_amount", "amount") == refusal(
            {"amount": value}, "amount"
        )


class TestIdempotencyKey:
    def test_no_header_is_none(self) -> None:
        """Without an Idempotency-Key header, the route passes no key on."""
        assert None is parse.idempotency_key(request(headers=[]), "payments")

    def test_the_key_is_namespaced_by_route(self) -> None:
        """payflow:<route>:<key> at Stripe, so one key on two routes never collides."""
        req = request(headers=[("idempotency-key", "k-1")])

        assert "payflow:payments:k-1" == parse.idempotency_key(req, "payments")

    def test_a_repeated_header_is_400(self) -> None:
        """Two Idempotency-Key headers are refused naming the header."""
        req = request(headers=[("idempotency-key", "a"), ("idempotency-key", "b")])
        with pytest.raises(Problem) as raised:
            parse.idempotency_key(req, "payments")

        assert ("idempotency_key_repeated", "Idempotency-Key") == (
            raised.value.key,
            raised.value.field,
        )
