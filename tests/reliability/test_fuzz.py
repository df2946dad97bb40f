"""Fuzzing the HTTP face: hostile requests to all six routes, in process, against the sandbox.

Every answer, whatever was sent, keeps three invariants (`Api.send`): no 5xx (the sandbox is up,
so Stripe cannot be what failed), the JSON envelope, and no card number, CVC or Stripe key in
the response or in any log record written while answering.

Bounded for CI: `FUZZ` examples per test, `derandomize=True` so every run sends the same
requests and a failure found once is found again. Run with `--hypothesis-show-statistics` to
see the counts; raise `max_examples` locally to search further.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

import payflow
from payflow_asgi import create_app
from payflow_sandbox import Sandbox
from tests.reliability.hostile import (
    ID_FIELDS,
    ROUTES,
    Secrets,
    amount_bodies,
    any_json_bodies,
    card_bodies,
    envelope_problems,
    hostile_headers,
    log_text,
    malformed_bodies,
    response_text,
    shaped_bodies,
)

KEY: Final = "sk_test_fuzzKeyNeverShown7Qx2"
SECRETS: Final = Secrets(KEY)
JSON: Final = {"Content-Type": "application/json"}

FUZZ: Final = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    # One app and gateway serve every example of a test, as one server serves every client;
    # the hostile data is large and slow to generate on purpose.
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.large_base_example,
    ],
)

routes = st.sampled_from(sorted(ROUTES))


class Api:
    """The app over a real gateway to the sandbox, checking every answer's invariants."""

    def __init__(self, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
        self.client = client
        self.caplog = caplog

    async def send(
        self,
        path: str,
        content: bytes,
        *,
        method: str = "POST",
        headers: Mapping[str, str] | Mapping[bytes, bytes] = JSON,
        secrets: Secrets = SECRETS,
    ) -> httpx.Response:
        """Send a request as given, and check the invariants on its answer and the logs."""
        self.caplog.clear()
        response = await self.client.request(method, path, content=content, headers=headers)
        logged = log_text(self.caplog.records)
        assert [] == envelope_problems(response), response.text
        assert [] == secrets.found_in(response_text(response)), response.text
        assert [] == secrets.found_in(logged), logged
        return response


@pytest.fixture
async def api(sandbox: Sandbox, caplog: pytest.LogCaptureFixture) -> AsyncIterator[Api]:
    caplog.set_level(logging.DEBUG)
    async with (
        payflow.Gateway(KEY, api_base=sandbox.url, max_network_retries=0) as gateway,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(gateway)),
            base_url="http://payflow.test",
        ) as client,
    ):
        yield Api(client, caplog)


@FUZZ
@given(path=routes, body=any_json_bodies())
async def test_any_json_value_as_the_body_keeps_the_invariants(
    api: Api, path: str, body: bytes
) -> None:
    """Any JSON value as the whole body of any route keeps the invariants."""
    await api.send(path, body)


@FUZZ
@given(data=st.data())
async def test_wrong_types_and_hostile_strings_in_fields_keep_the_invariants(
    api: Api, data: st.DataObject
) -> None:
    """The route's fields holding any JSON value or number literal keep the invariants."""
    path = data.draw(routes)
    await api.send(path, data.draw(shaped_bodies(path)))


@FUZZ
@given(data=st.data())
async def test_hostile_amounts_keep_the_invariants(api: Api, data: st.DataObject) -> None:
    """Huge, tiny, exponent, negative and malformed amounts keep the invariants."""
    path = data.draw(st.sampled_from(["/api/payments", "/api/payments/refund"]))
    await api.send(path, data.draw(amount_bodies(path)))


@FUZZ
@given(path=routes, body=malformed_bodies())
async def test_malformed_bytes_keep_the_invariants(api: Api, path: str, body: bytes) -> None:
    """Bytes that are not UTF-8, not JSON, cut short or nested too deep keep the invariants."""
    await api.send(path, body)


@FUZZ
@given(path=routes, headers=hostile_headers(), body=any_json_bodies() | malformed_bodies())
async def test_hostile_headers_keep_the_invariants(
    api: Api, path: str, headers: dict[bytes, bytes], body: bytes
) -> None:
    """Random Content-Type, Content-Length, Idempotency-Key and Authorization keep them."""
    await api.send(path, body, headers=headers)


@FUZZ
@given(
    path=routes | st.just("/health"),
    method=st.sampled_from(["GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"])
    | st.from_regex(r"[A-Za-z]{1,12}", fullmatch=True),
    body=st.just(b"") | any_json_bodies(),
)
async def test_other_methods_are_refused_with_the_envelope(
    api: Api, path: str, method: str, body: bytes
) -> None:
    """Any method but the route's own is a 405 envelope."""
    # Starlette answers HEAD wherever GET is allowed.
    allowed = {"POST"} if path in ROUTES else {"GET", "HEAD"}
    assume(method.upper() not in allowed)

    response = await api.send(path, body, method=method, headers=JSON)

    assert 405 == response.status_code


@FUZZ
@given(card=card_bodies(), headers=st.just(JSON) | hostile_headers())
async def test_card_data_never_comes_back_nor_reaches_the_logs(
    api: Api, card: tuple[bytes, str], headers: Mapping[bytes, bytes] | Mapping[str, str]
) -> None:
    """Tokenizing the real test card number and a CVC, however sent, shows neither again."""
    body, cvc = card
    await api.send("/api/cards", body, headers=headers, secrets=Secrets(KEY, cvcs=(cvc,)))


@FUZZ
@given(data=st.data())
async def test_a_card_number_sent_as_an_id_never_comes_back(api: Api, data: st.DataObject) -> None:
    """The card number sent in an id field of any route is named in no answer and no log."""
    path = data.draw(st.sampled_from(sorted(ID_FIELDS)))
    number = data.draw(st.sampled_from(["4242424242424242", "4242 4242 4242 4242"]))
    body = {field: number for field in ID_FIELDS[path]} | {"amount": "10.00"}

    await api.send(path, json.dumps(body).encode())


@pytest.mark.parametrize("amount", ["1e-9999999999999999999", "1e9999999999999999999"])
async def test_a_number_beyond_decimal_exponents_is_invalid_json(api: Api, amount: str) -> None:
    """A number whose exponent Decimal cannot hold is a 400 invalid_json, not a 500."""
    body = f'{{"customer_id": "cus_1", "amount": {amount}, "payment_method": "card_1"}}'
    response = await api.send("/api/payments", body.encode())

    assert (400, "invalid_json") == (response.status_code, response.json()["error"]["code"])


# Schemathesis, driven by the OpenAPI document (the copy in docs/, which test_openapi pins to
# the document the app serves).
SCHEMA: Final = schemathesis.openapi.from_path(Path(__file__).parents[2] / "docs" / "openapi.json")
# Checks that hold for any request: no 5xx, a documented status, content type and body (the
# error envelope for errors). Not positive_data_acceptance: a request the schema allows still
# names objects that do not exist (404) or amounts Stripe refuses (400).
CHECKS: Final = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


async def _send_case(api: Api, case: schemathesis.Case[Any], secrets: Secrets) -> httpx.Response:
    kwargs = case.as_transport_kwargs()
    # Schemathesis gives requests' arguments: `json` for a JSON value, `data` for raw bytes.
    content = json.dumps(kwargs["json"]) if "json" in kwargs else kwargs.get("data") or b""
    assert isinstance(content, bytes | str), kwargs
    content = content.encode() if isinstance(content, str) else content
    return await api.send(
        case.formatted_path, content, method=case.method, headers=kwargs["headers"], secrets=secrets
    )


def _secrets_of(case: schemathesis.Case[Any]) -> Secrets:
    body = case.body if isinstance(case.body, dict) else {}
    number = body.get("number")
    digits = "".join(c for c in number if c.isdigit()) if isinstance(number, str) else ""
    # Only a number long enough to be a card's is a secret; a generated CVC (any 3 or 4
    # digits) could be a status code or an amount in the logs, so it is not checked here.
    return Secrets(KEY, card_numbers=(digits,) if len(digits) >= 12 else (), cvcs=())


OPERATIONS: Final = [*sorted(ROUTES), "/health"]


@pytest.mark.parametrize("path", OPERATIONS)
@settings(FUZZ, max_examples=100)
@given(data=st.data())
async def test_schema_conforming_requests_are_answered_as_documented(
    api: Api, path: str, data: st.DataObject
) -> None:
    """Requests the OpenAPI document allows get a documented status and body, never a 5xx."""
    operation = SCHEMA[path]["GET" if path == "/health" else "POST"]
    case = data.draw(operation.as_strategy(GenerationMode.POSITIVE))
    response = await _send_case(api, case, _secrets_of(case))

    case.validate_response(response, checks=CHECKS)


@pytest.mark.parametrize("path", sorted(ROUTES))
@settings(FUZZ, max_examples=100)
@given(data=st.data())
async def test_schema_violating_requests_are_rejected_as_documented(
    api: Api, path: str, data: st.DataObject
) -> None:
    """Requests the OpenAPI document forbids are refused with a documented 4xx envelope."""
    case = data.draw(SCHEMA[path]["POST"].as_strategy(GenerationMode.NEGATIVE))
    response = await _send_case(api, case, _secrets_of(case))

    case.validate_response(response, checks=[*CHECKS, negative_data_rejection])
