"""The error hierarchy, and the one table translating the Stripe SDK's errors into it.

The SDK errors are built as the SDK builds them from an HTTP answer
(`stripe._api_requestor._APIRequestor.specific_v1_api_error`): the error object in `json_body`,
the request id in the `request-id` header, and the class chosen by the HTTP status.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
import stripe
from hypothesis import given
from pyreqwest.exceptions import ConnectTimeoutError, ReadTimeoutError

import payflow
from payflow import (
    AuthenticationFailed,
    CardDeclined,
    ConfigurationError,
    Conflict,
    IdempotencyConflict,
    InvalidAmount,
    InvalidRequest,
    NotFound,
    PayflowError,
    RateLimited,
    RawCardDataRefused,
    StripeFailure,
    StripeRejected,
    StripeServerError,
    StripeTimeout,
    StripeUnavailable,
)
from payflow._gateway import translate
from tests.payflow.strategies import api_keys

REQUEST_ID = "req_8Vj2mBW3aBBKe3"
HEADERS = {"request-id": REQUEST_ID}


def body(**error: Any) -> dict[str, Any]:
    return {"error": error}


def card_error(message: str, *, code: str, decline_code: str | None = None) -> stripe.CardError:
    """A 402 card_error, as Stripe sends it when an issuer declines."""
    error = {"type": "card_error", "message": message, "code": code}
    if decline_code is not None:
        error["decline_code"] = decline_code
    return stripe.CardError(  # type: ignore[no-untyped-call]
        message, None, code, http_status=402, json_body=body(**error), headers=HEADERS
    )


def invalid_request(
    message: str, *, param: str | None = None, code: str | None = None, status: int = 400
) -> stripe.InvalidRequestError:
    """A 400 or 404 invalid_request_error."""
    error = {"type": "invalid_request_error", "message": message, "param": param, "code": code}
    return stripe.InvalidRequestError(  # type: ignore[no-untyped-call]
        message, param, code, http_status=status, json_body=body(**error), headers=HEADERS
    )


def api_error(status: int, *, code: str | None = None, type_: str = "api_error") -> stripe.APIError:
    """What the SDK raises for any other status: it picks the class by status alone."""
    message = "An error occurred with our connection to Stripe."
    error = {"type": type_, "message": message, "code": code}
    return stripe.APIError(message, http_status=status, json_body=body(**error), headers=HEADERS)


def connection_error(cause: BaseException | None = None) -> stripe.APIConnectionError:
    """What payflow's transport raises when the network fails, chained to the cause."""
    error = stripe.APIConnectionError(  # type: ignore[no-untyped-call]
        "Network error talking to Stripe: ConnectError", should_retry=True
    )
    error.__cause__ = cause
    return error


DECLINE = card_error(
    "Your card was declined.", code="card_declined", decline_code="generic_decline"
)
NO_SUCH_CUSTOMER = invalid_request(
    "No such customer: 'cus_nope'", param="id", code="resource_missing", status=404
)


class TestHierarchy:
    @pytest.mark.parametrize(
        ("error", "parent"),
        [
            (InvalidRequest, ValueError),
            (InvalidAmount, InvalidRequest),
            (StripeRejected, StripeFailure),
            (StripeRejected, InvalidRequest),
            (CardDeclined, StripeFailure),
            (NotFound, StripeFailure),
            (Conflict, StripeFailure),
            (IdempotencyConflict, Conflict),
            (AuthenticationFailed, StripeFailure),
            (RateLimited, StripeFailure),
            (StripeUnavailable, StripeFailure),
            (StripeTimeout, StripeUnavailable),
            (StripeServerError, StripeFailure),
            (StripeFailure, PayflowError),
            (ConfigurationError, PayflowError),
            (RawCardDataRefused, PayflowError),
            (InvalidRequest, PayflowError),
        ],
    )
    def test_parents(self, error: type[PayflowError], parent: type[Exception]) -> None:
        """Each error sits where the errors module's docstring draws it."""
        assert True is issubclass(error, parent)

    @pytest.mark.parametrize(
        ("error", "code"),
        [
            (InvalidRequest, "invalid_request"),
            (InvalidAmount, "invalid_amount"),
            (StripeRejected, "invalid_request"),
            (CardDeclined, "card_declined"),
            (NotFound, "not_found"),
            (Conflict, "conflict"),
            (IdempotencyConflict, "idempotency_conflict"),
            (AuthenticationFailed, "authentication_failed"),
            (RateLimited, "rate_limited"),
            (StripeUnavailable, "stripe_unavailable"),
            (StripeTimeout, "stripe_timeout"),
            (StripeServerError, "stripe_error"),
            (ConfigurationError, "configuration_error"),
            (RawCardDataRefused, "raw_card_data_refused"),
        ],
    )
    def test_stable_codes(self, error: type[PayflowError], code: str) -> None:
        """Each error has a stable machine-readable code."""
        assert code == error.code

    def test_stripe_failures_are_not_value_errors_unless_rejected(self) -> None:
        """Only StripeRejected, of Stripe's answers, is a ValueError: it is bad input too."""
        assert (False, True) == (
            issubclass(NotFound, ValueError),
            issubclass(StripeRejected, ValueError),
        )

    def test_repr_shows_message_code_and_field(self) -> None:
        """An error's repr shows its message, code and field."""
        error = InvalidRequest("bad email", field="email")

        assert "InvalidRequest('bad email', code='invalid_request', field='email')" == repr(error)


class TestCardDeclined:
    def test_card_error_becomes_card_declined(self) -> None:
        """A CardError is a CardDeclined."""
        assert CardDeclined is type(translate(DECLINE))

    def test_decline_code_is_kept(self) -> None:
        """The issuer's decline_code comes through."""
        error = translate(DECLINE)
        assert isinstance(error, CardDeclined)

        assert "generic_decline" == error.decline_code

    def test_stripe_code_and_request_id_are_kept(self) -> None:
        """Stripe's error code and the request id come through."""
        error = translate(DECLINE)

        assert ("card_declined", REQUEST_ID) == (error.stripe_code, error.request_id)

    def test_message_is_stripes(self) -> None:
        """Stripe's message, meant for the customer, is the error's message."""
        assert "Your card was declined." == translate(DECLINE).message

    def test_without_decline_code_the_code_stands_in(self) -> None:
        """A card error without decline_code (expired_card, incorrect_cvc) reports its code."""
        error = translate(card_error("Your card has expired.", code="expired_card"))
        assert isinstance(error, CardDeclined)

        assert "expired_card" == error.decline_code

    @pytest.mark.parametrize(
        "number", ["4000000000000002", "4000 0000 0000 0002", "4000-0000-0000-0002"]
    )
    def test_card_number_in_message_is_redacted(self, number: str) -> None:
        """A card number quoted in Stripe's message does not reach the payflow error."""
        error = translate(card_error(f"Card {number} was declined.", code="card_declined"))

        assert "Card [redacted] was declined." == error.message


class TestInvalidRequest:
    def test_404_is_not_found(self) -> None:
        """A 404 resource_missing is NotFound."""
        assert NotFound is type(translate(NO_SUCH_CUSTOMER))

    def test_not_found_keeps_request_id_and_code(self) -> None:
        """NotFound carries Stripe's request id and its code resource_missing."""
        error = translate(NO_SUCH_CUSTOMER)

        assert (REQUEST_ID, "resource_missing") == (error.request_id, error.stripe_code)

    def test_missing_object_named_in_body_is_not_found(self) -> None:
        """A 400 resource_missing (an id passed as a parameter) is NotFound naming the param."""
        exc = invalid_request(
            "No such PaymentMethod: 'pm_nope'", param="payment_method", code="resource_missing"
        )
        error = translate(exc)

        assert (NotFound, "payment_method") == (type(error), error.field)

    @pytest.mark.parametrize(
        "code", ["charge_already_refunded", "payment_intent_unexpected_state", "token_already_used"]
    )
    def test_wrong_state_is_conflict(self, code: str) -> None:
        """Stripe's wrong-state codes become Conflict."""
        error = translate(invalid_request("Charge ch_1 has already been refunded.", code=code))

        assert Conflict is type(error)

    def test_bad_parameter_is_stripe_rejected_naming_it(self) -> None:
        """Any other invalid request is StripeRejected, naming the parameter Stripe named."""
        exc = invalid_request(
            "Refund amount (€60.00) is greater than charge amount (€50.00)", param="amount"
        )
        error = translate(exc)

        assert (StripeRejected, "amount") == (type(error), error.field)

    def test_stripe_rejected_is_an_invalid_request(self) -> None:
        """A caller catching InvalidRequest catches Stripe's refusals of parameters too."""
        assert isinstance(
            translate(invalid_request("Invalid integer", param="amount")), InvalidRequest
        )

    def test_missing_message_gets_a_default(self) -> None:
        """An error without a message still explains itself."""
        exc = stripe.InvalidRequestError(None, None, http_status=400)  # type: ignore[no-untyped-call]

        assert "Stripe refused the request" == translate(exc).message


class TestIdempotency:
    def test_idempotency_error_is_idempotency_conflict(self) -> None:
        """Reusing a key with other parameters (idempotency_error, 400) is IdempotencyConflict."""
        message = (
            "Keys for idempotent requests can only be used with the same parameters they were"
            " first used with. Try using a key other than 'k1' if you meant to execute a"
            " different request."
        )
        exc = stripe.IdempotencyError(
            message, None, 400, body(type="idempotency_error", message=message), HEADERS
        )

        assert IdempotencyConflict is type(translate(exc))

    def test_key_in_use_is_conflict(self) -> None:
        """A concurrent request with the same key (409 idempotency_key_in_use) is a Conflict.

        The SDK picks the error class by status: a 409 becomes a plain stripe.APIError.
        """
        exc = api_error(409, code="idempotency_key_in_use", type_="invalid_request_error")
        exc.code = None  # as the SDK leaves it: the code is only in the error's body

        translated = translate(exc)
        assert (True, "idempotency_key_in_use") == (
            isinstance(translated, Conflict), translated.stripe_code
        )  # fmt: skip

    def test_any_409_is_a_conflict(self) -> None:
        """A 409 is a conflict with another request whatever its code
        (https://docs.stripe.com/api/errors: "409 Conflict")."""
        exc = api_error(409, code="lock_timeout", type_="invalid_request_error")

        assert True is isinstance(translate(exc), Conflict)


class TestAccess:
    def test_authentication_error_is_authentication_failed(self) -> None:
        """A 401 is AuthenticationFailed."""
        exc = stripe.AuthenticationError(
            "Invalid API Key provided: sk_test_****abcd", http_status=401, headers=HEADERS
        )

        assert AuthenticationFailed is type(translate(exc))

    def test_permission_error_is_authentication_failed(self) -> None:
        """A 403 (a restricted key without the permission) is AuthenticationFailed."""
        exc = stripe.PermissionError(
            "The provided key does not have the required permissions", http_status=403
        )

        assert AuthenticationFailed is type(translate(exc))

    def test_rate_limit_is_rate_limited(self) -> None:
        """A 429 is RateLimited."""
        exc = stripe.RateLimitError("Too many requests", http_status=429, headers=HEADERS)

        assert RateLimited is type(translate(exc))

    def test_echoed_api_key_never_reaches_the_error(self) -> None:
        """Even if an answer quoted the API key, the payflow error would not show it."""
        key = "sk_test_51HxQ2hKj7a9dLm3PqR8sT4uV"
        exc = stripe.AuthenticationError(f"Invalid API Key provided: {key}", http_status=401)
        error = translate(exc)

        assert False is (key in str(error) + repr(error))


class TestNetwork:
    def test_connection_error_is_unavailable(self) -> None:
        """A network failure is StripeUnavailable."""
        assert StripeUnavailable is type(translate(connection_error(OSError("refused"))))

    @pytest.mark.parametrize(
        "cause",
        [
            TimeoutError(),
            ReadTimeoutError("slow", {"causes": None}),
            ConnectTimeoutError("slow", {"causes": None}),
        ],
    )
    def test_timeout_is_stripe_timeout(self, cause: BaseException) -> None:
        """A network failure caused by a timeout (pyreqwest's or asyncio's) is StripeTimeout."""
        assert StripeTimeout is type(translate(connection_error(cause)))

    def test_server_error_is_stripe_server_error(self) -> None:
        """A 500 is StripeServerError."""
        assert StripeServerError is type(translate(api_error(500)))

    def test_503_is_unavailable(self) -> None:
        """A 503 is StripeUnavailable: try again later."""
        assert StripeUnavailable is type(translate(api_error(503)))

    def test_server_error_keeps_request_id(self) -> None:
        """Stripe's request id survives a 500, for support."""
        assert REQUEST_ID == translate(api_error(500)).request_id


class TestSecretsInReprs:
    @given(api_keys())
    def test_gateway_repr_never_shows_the_key(self, key: str) -> None:
        """A gateway's repr and str show the key's kind, never its secret part."""
        with payflow.Gateway(key, api_base="http://127.0.0.1:9") as gw:
            shown = repr(gw) + str(gw)

        assert False is (key[8:] in shown or key[8:16] in shown)

    def test_gateway_repr_shows_kind_and_base(self) -> None:
        """The repr says which kind of key and which Stripe, and that is all."""
        with payflow.Gateway("sk_test_51HxQ2hKj7a9dLm3P", api_base="http://127.0.0.1:9") as gw:
            assert "Gateway(api_key='sk_test_…', api_base='http://127.0.0.1:9')" == repr(gw)

    @pytest.mark.parametrize("key", ["pk_live_51HxQ2hKj7a9dLm3PqR8s", "51HxQ2hKj7a9dLm3PqR8s", ""])
    def test_refused_key_is_not_repeated(self, key: str) -> None:
        """A key that is not a secret key is refused without repeating it."""
        with pytest.raises(ConfigurationError) as info:
            payflow.Gateway(key)

        assert False is (bool(key) and key in str(info.value) + repr(info.value))

    def test_missing_key_in_env_says_what_to_set(self) -> None:
        """from_env without STRIPE_SECRET_KEY says which variable to set."""
        with pytest.raises(ConfigurationError) as info:
            payflow.Gateway.from_env({})

        assert True is ("STRIPE_SECRET_KEY" in info.value.message)

    def test_from_env_reads_key_and_base(self) -> None:
        """from_env builds a gateway to STRIPE_API_BASE with STRIPE_SECRET_KEY."""
        env = {"STRIPE_SECRET_KEY": "sk_test_abc123", "STRIPE_API_BASE": "http://127.0.0.1:9"}

        with payflow.Gateway.from_env(env) as gw:
            assert "http://127.0.0.1:9" == gw.api_base


class TestSecretsInTheSdkLogs:
    """The SDK logs every request on the `stripe` logger whatever STRIPE_LOG says; a gateway
    guards that logger."""

    @pytest.fixture
    def stripe_records(self, caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
        caplog.set_level(logging.DEBUG, logger="stripe")
        payflow.Gateway("sk_test_abc123", api_base="http://127.0.0.1:9").close()
        return caplog

    def test_debug_records_are_dropped(self, stripe_records: pytest.LogCaptureFixture) -> None:
        """DEBUG records, which hold whole request bodies, never reach a handler."""
        logging.getLogger("stripe").debug("Post details post_data=card[cvc]=123")

        assert [] == stripe_records.records

    @given(api_keys())
    def test_card_numbers_and_keys_are_redacted(self, key: str) -> None:
        """A card number or key in an INFO record (a URL, Stripe's message) is blanked out."""
        payflow.Gateway("sk_test_abc123", api_base="http://127.0.0.1:9").close()
        url = "/v1/customers/4242 4242 4242 4242/sources"
        record = logging.makeLogRecord(
            {"levelno": logging.INFO, "msg": "url=%s key=%s", "args": (url, key)}
        )

        assert (True, "url=/v1/customers/[redacted]/sources key=[redacted]") == (
            logging.getLogger("stripe").filter(record),
            record.getMessage(),
        )
