"""The message catalog in Spanish and English: complete, chosen by Accept-Language, amounts in the
server's currency and the language's format, and the spec's Spanish untouched."""

from __future__ import annotations

import json
import re
import string
from decimal import Decimal
from typing import Any, get_args

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

import payflow
from payflow_asgi import Settings
from payflow_asgi._errors import STATUS
from payflow_asgi._limits import Limits
from payflow_asgi._messages import CATALOG, LANGUAGES, Language, negotiate, render
from payflow_asgi._protocol import answers
from payflow_asgi._routes import ROUTES
from payflow_sandbox import Sandbox
from tests.payflow_asgi.asgi_support import EXP_YEAR, VISA, Post, app_client, data_of

# The spec's success messages, word for word (the original service's document).
SPEC_MESSAGES = {
    "/api/customers": "Cliente creado correctamente",
    "/api/cards": "Tarjeta tokenizada correctamente",
    "/api/cards/assign": "Tarjeta añadida con éxito",
    "/api/payments": "Intento de pago creado correctamente",
    "/api/payments/confirm": "Pago confirmado correctamente",
    "/api/payments/refund": "Reembolso creado correctamente",
}

# A value for every parameter any message takes.
SAMPLE_PARAMS: dict[str, object] = {
    "field": "amount",
    "limit": 65536,
    "max_length": 236,
    "example": "tok_123abc",
    "min_digits": 3,
    "max_digits": 4,
    "minimum": Decimal("0.50"),
    "maximum": Decimal("999999.99"),
    "currency": "eur",
    "places": 2,
    "max_integer_digits": 18,
    "allowed": ("duplicate", "fraudulent", "requested_by_customer"),
    "object": "el cliente",
    "allow": "POST",
    "local_hosts": ("localhost", "127.0.0.1"),
    "max_head_bytes": 16384,
}


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


class TestCatalog:
    @pytest.mark.parametrize("key", sorted(CATALOG))
    def test_every_message_renders_in_both_languages(self, key: str) -> None:
        """Each message exists in Spanish and English, takes the same parameters in both, and
        renders with no placeholder left over."""
        es, en = (CATALOG[key][language] for language in ("es", "en"))
        rendered = [render(key, language, SAMPLE_PARAMS) for language in LANGUAGES]

        assert _placeholders(es) == _placeholders(en)
        assert [] == [text for text in rendered if re.search(r"\{\w*\}", text) or not text]
        assert es != en

    def test_every_rule_of_the_library_has_a_message(self) -> None:
        """Each rule payflow can refuse input by has its message: a new rule cannot reach a
        client as a bare default."""
        rules = get_args(payflow.rules.Rule)

        assert [] == [rule for rule in rules if f"rule.{rule}" not in CATALOG]

    def test_every_error_class_and_route_has_a_message(self) -> None:
        """The status table and the route table only name messages that exist."""
        keys = [key for _, key in STATUS.values()]
        keys += [key for route in ROUTES for key in route.success_messages]

        assert [] == [key for key in keys if key not in CATALOG]

    def test_the_spanish_success_messages_are_the_specs(self) -> None:
        """The routes' Spanish messages are the spec's sentences."""
        spec_routes = [route for route in ROUTES if route.path in SPEC_MESSAGES]

        assert SPEC_MESSAGES == {route.path: CATALOG[route.name]["es"] for route in spec_routes}


class TestNegotiation:
    @pytest.mark.parametrize(
        ("header", "expected"),
        [
            (None, "es"),
            ("", "es"),
            ("en", "en"),
            ("EN-us", "en"),
            ("es-ES,es;q=0.9,en;q=0.8", "es"),
            ("fr-FR, en;q=0.5, es;q=0.4", "en"),
            ("es;q=0.2, en;q=0.7", "en"),
            ("en;q=0, es", "es"),
            ("fr, de", "es"),
            ("*", "es"),
            ("en;q=abc", "es"),
            ("en;q=2", "es"),
            ("en;q=nan", "es"),
        ],
    )
    def test_the_preferred_language_we_speak(self, header: str | None, expected: str) -> None:
        """The highest q-value among es and en wins; q=0, bad q-values and other languages
        leave the default (RFC 9110, section 12.5.4)."""
        assert expected == negotiate(header, "es")

    def test_the_default_is_a_setting(self) -> None:
        """With nothing we speak asked for, the server's default language answers."""
        assert ("en", "en") == (negotiate("fr", "en"), negotiate(None, "en"))

    @given(st.text())
    def test_any_header_gives_one_of_our_languages(self, header: str) -> None:
        """No header, however broken, makes negotiation fail."""
        assert negotiate(header, "es") in LANGUAGES


def _english(headers: dict[str, str] | None = None) -> dict[str, str]:
    return {"Accept-Language": "en", **(headers or {})}


class TestOverHttp:
    async def test_the_six_steps_answer_in_english(self, post: Post) -> None:
        """With Accept-Language: en, each route's message is English, with Content-Language."""
        answers = [await post("/api/customers", {"email": "en@example.com"}, _english())]
        customer = data_of(answers[0])["id"]
        card = {"number": VISA, "exp_month": 12, "exp_year": EXP_YEAR, "cvc": "123"}
        answers.append(await post("/api/cards", card, _english()))
        token = data_of(answers[-1])["token_id"]
        body = {"userId": customer, "source": token}
        answers.append(await post("/api/cards/assign", body, _english()))
        body = {
            "customer_id": customer,
            "amount": "20.00",
            "payment_method": data_of(answers[-1])["cardId"],
        }
        answers.append(await post("/api/payments", body, _english()))
        answers.append(
            await post(
                "/api/payments/confirm", {"paymentId": data_of(answers[-1])["id"]}, _english()
            )
        )
        charge = data_of(answers[-1])["charges"]["data"][0]["id"]
        answers.append(await post("/api/payments/refund", {"chargeId": charge}, _english()))

        names = {route.path: route.name for route in ROUTES}
        assert [CATALOG[names[path]]["en"] for path in SPEC_MESSAGES] == [
            answer.json()["message"] for answer in answers
        ]
        assert {"en"} == {answer.headers["content-language"] for answer in answers}

    async def test_spanish_is_the_default_and_says_so(self, post: Post) -> None:
        """Without Accept-Language the answer is the spec's Spanish, with Content-Language: es."""
        response = await post("/api/customers", {"email": "es@example.com"})

        assert ("Cliente creado correctamente", "es") == (
            response.json()["message"], response.headers["content-language"]
        )  # fmt: skip

    async def test_errors_answer_in_english_too(self, post: Post) -> None:
        """An error's message follows Accept-Language as well."""
        response = await post("/api/customers", {"name": "no e-mail"}, _english())

        assert ('The required field “email” is missing.', "en") == (
            response.json()["message"], response.headers["content-language"]
        )  # fmt: skip

    async def test_unknown_routes_and_health_answer_in_english(
        self, client: httpx.AsyncClient
    ) -> None:
        """Starlette's own refusals and /health speak the asked language."""
        missing = await client.get("/nowhere", headers=_english())
        health = await client.get("/health", headers=_english())

        assert ("No route has this address.", "Service available") == (
            missing.json()["message"], health.json()["message"]
        )  # fmt: skip

    async def test_the_default_language_setting(self, sandbox: Sandbox) -> None:
        """Settings(language="en") answers English to a client that asks for nothing."""
        async with app_client(sandbox.url, settings=Settings(language="en")) as http:
            response = await http.post("/api/customers", json={"email": "x@example.com"})

        assert "Customer created" == response.json()["message"]


async def _amount_message(sandbox: Sandbox, currency: str, amount: str, language: str) -> Any:
    async with app_client(sandbox.url, settings=Settings(currency=currency)) as http:
        response = await http.post(
            "/api/payments",
            json={"customer_id": "cus_1", "amount": amount, "payment_method": "card_1"},
            headers={"Accept-Language": language},
        )
    assert (400, "amount") == (response.status_code, response.json()["error"]["field"])
    return response.json()["message"]


class TestAmounts:
    """Stripe's minimum charges (https://docs.stripe.com/currencies#minimum-and-maximum-charge-
    amounts): 0.50 EUR, 50 JPY. The message states the server's currency, in the language's
    format, as CLDR writes it."""

    @pytest.mark.parametrize(
        ("currency", "language", "expected"),
        [("eur", "es", "0,50\xa0€"), ("eur", "en", "€0.50"), ("jpy", "es", "50\xa0JPY"),
         ("jpy", "en", "¥50")],
    )  # fmt: skip
    async def test_the_minimum_in_the_servers_currency(
        self, sandbox: Sandbox, currency: str, language: str, expected: str
    ) -> None:
        """An amount below the minimum names the currency's own minimum, never euros for yen."""
        message = await _amount_message(
            sandbox, currency, "10" if currency == "jpy" else "0.10", language
        )

        assert message.endswith(f"{expected}.")

    async def test_the_maximum_in_the_servers_currency(self, sandbox: Sandbox) -> None:
        """Above the maximum (99,999,999 minor units: 999,999.99 EUR), the maximum is named."""
        message = await _amount_message(sandbox, "eur", "1000000.00", "en")

        assert message.endswith("€999,999.99.")

    @pytest.mark.parametrize(
        ("amount", "expected"),
        [
            ("-1", "must not be negative"),
            ("19.999", "more decimals than its currency takes (EUR, 2)"),
            ("1e30", "fewer than 18 digits before the point"),
        ],
    )
    async def test_why_an_amount_is_refused(
        self, sandbox: Sandbox, amount: str, expected: str
    ) -> None:
        """Each refusal says its own reason (the library's rule), not a guess."""
        async with app_client(sandbox.url) as http:
            response = await http.post(
                "/api/payments",
                content=f'{{"customer_id": "cus_1", "amount": {amount}, "payment_method": "c_1"}}',
                headers={"Accept-Language": "en", "Content-Type": "application/json"},
            )

        assert expected in response.json()["message"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_refusals_below_the_app_speak_the_servers_language(language: Language) -> None:
    """What `payflow serve` refuses before the app (a head too large, a timeout) is answered in
    the envelope, in the server's language, saying so in Content-Language."""
    limits = Limits.from_env(4096, {"PAYFLOW_MAX_HEAD_BYTES": "16384"})

    _, head_and_body = answers(limits, language)["request_header_fields_too_large"]
    head, _, body = head_and_body.partition(b"\r\n\r\n")

    assert f"content-language: {language}".encode() in head
    assert (
        render("refusal.request_header_fields_too_large", language, {"max_head_bytes": 16384})
        == (json.loads(body)["message"])
    )
