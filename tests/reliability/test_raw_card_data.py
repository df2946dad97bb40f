"""Raw card numbers never reach a live Stripe account unless that was explicitly allowed."""

from __future__ import annotations

import pytest

import payflow

NOWHERE = "http://127.0.0.1:9"  # nothing listens: any request would fail as unavailable
LIVE_KEY = "sk_live_51NotARealKeyAtAll"
CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2099, "cvc": "123"}


def test_live_key_refuses_raw_card_data_before_any_request() -> None:
    """With a live key, tokenizing a raw card number is refused before anything is sent."""
    with (
        payflow.Gateway(LIVE_KEY, api_base=NOWHERE, max_network_retries=0) as gw,
        pytest.raises(payflow.RawCardDataRefused) as caught,
    ):
        payflow.create_card_token(gw, **CARD)  # type: ignore[arg-type]

    assert "Stripe.js" in caught.value.message
    assert LIVE_KEY not in repr(caught.value) + str(caught.value)


async def test_live_key_refuses_raw_card_data_async() -> None:
    """The async step refuses it the same way."""
    async with payflow.Gateway(LIVE_KEY, api_base=NOWHERE, max_network_retries=0) as gw:
        with pytest.raises(payflow.RawCardDataRefused):
            await payflow.create_card_token_async(gw, **CARD)  # type: ignore[arg-type]


def test_allowing_raw_card_data_lets_the_request_go() -> None:
    """An explicit allow_raw_card_data=True sends the request (here: to nowhere)."""
    with (
        payflow.Gateway(
            LIVE_KEY, api_base=NOWHERE, max_network_retries=0, allow_raw_card_data=True
        ) as gw,
        pytest.raises(payflow.StripeUnavailable),
    ):
        payflow.create_card_token(gw, **CARD)  # type: ignore[arg-type]


def test_the_setting_comes_from_the_environment() -> None:
    """PAYFLOW_ALLOW_RAW_CARD_DATA=1 allows it; unset, a live key refuses it."""
    env = {"STRIPE_SECRET_KEY": LIVE_KEY, "STRIPE_API_BASE": NOWHERE}

    with (
        payflow.Gateway.from_env(env) as refusing,
        payflow.Gateway.from_env({**env, "PAYFLOW_ALLOW_RAW_CARD_DATA": "1"}) as allowing,
    ):
        assert (True, False, True) == (refusing.live, refusing.allow_raw_card_data,
                                       allowing.allow_raw_card_data)  # fmt: skip


def test_test_keys_tokenize_raw_cards() -> None:
    """Test keys are not live: raw test card numbers are how Stripe's test mode works."""
    with payflow.Gateway("sk_test_x", api_base=NOWHERE) as gw:
        assert (False, False) == (gw.live, gw.allow_raw_card_data)
