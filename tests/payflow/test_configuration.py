"""A gateway is configured right or not built: every bad setting is a `ConfigurationError` when
the `Gateway` is built, naming the argument or the environment variable it came from."""

from __future__ import annotations

import os
import subprocess

import pytest

import payflow
from tests.payflow_asgi.asgi_support import start_serve, stop_serve

KEY = "sk_test_payflow"
BAD_BASES = ["notaurl", "127.0.0.1:8420", "ftp://x", "http://:80", "http://127.0.0.1:port"]


def refusal(**settings: str) -> str:
    """The message `Gateway.from_env` refuses these environment variables with."""
    with pytest.raises(payflow.ConfigurationError) as refused:
        payflow.Gateway.from_env({"STRIPE_SECRET_KEY": KEY, **settings})
    return refused.value.message


@pytest.mark.parametrize("base", BAD_BASES)
def test_a_bad_api_base_is_refused_when_built(base: str) -> None:
    """An api_base that is not an http(s) URL with a host never reaches a request."""
    with pytest.raises(payflow.ConfigurationError, match=r"^api_base must be an http"):
        payflow.Gateway(KEY, api_base=base)


@pytest.mark.parametrize("base", BAD_BASES)
def test_a_bad_stripe_api_base_names_the_variable(base: str) -> None:
    """From the environment, the message names STRIPE_API_BASE."""
    assert refusal(STRIPE_API_BASE=base).startswith("STRIPE_API_BASE must be an http")


def test_a_url_with_credentials_is_refused_without_repeating_them() -> None:
    """A proxy URL holding a password is refused, and the password is not in the message."""
    with pytest.raises(payflow.ConfigurationError) as refused:
        payflow.Gateway(KEY, proxy="http://user:hunter2@proxy.example:3128")

    assert False is ("hunter2" in str(refused.value) + repr(refused.value))


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PAYFLOW_STRIPE_MAX_RETRIES", "-3"),
        ("PAYFLOW_STRIPE_MAX_RETRIES", "two"),
        ("PAYFLOW_STRIPE_MAX_RETRIES", "1.5"),
        ("PAYFLOW_STRIPE_TIMEOUT", "0"),
        ("PAYFLOW_STRIPE_TIMEOUT", "-1"),
        ("PAYFLOW_STRIPE_TIMEOUT", "nan"),
        ("PAYFLOW_STRIPE_TIMEOUT", "inf"),
        ("PAYFLOW_STRIPE_TIMEOUT", "soon"),
    ],
)
def test_a_bad_number_names_its_variable(variable: str, value: str) -> None:
    """A bad number from the environment is refused in the variable's own name."""
    assert True is refusal(**{variable: value}).startswith(f"{variable} must be ")


@pytest.mark.parametrize(
    ("argument", "value"),
    [("timeout", 0), ("timeout", float("inf")), ("max_network_retries", -3),
     ("max_connections", 0), ("max_network_retries", True)],
)  # fmt: skip
def test_a_bad_number_argument_names_the_argument(argument: str, value: object) -> None:
    """The same rules for the constructor's arguments, in the argument's name."""
    with pytest.raises(payflow.ConfigurationError, match=f"^{argument} must be "):
        payflow.Gateway(KEY, **{argument: value})  # type: ignore[arg-type]


def test_a_missing_key_with_an_api_base_asks_for_the_key() -> None:
    """STRIPE_API_BASE set but no STRIPE_SECRET_KEY: the message asks for the key, not for the
    base the user already set."""
    with pytest.raises(payflow.ConfigurationError) as refused:
        payflow.Gateway.from_env({"STRIPE_API_BASE": "http://127.0.0.1:8420"})

    message = refused.value.message
    assert (True, False) == (
        message.startswith("STRIPE_SECRET_KEY is not set"),
        "set STRIPE_API_BASE" in message,
    )


def test_a_missing_key_without_an_api_base_offers_the_sandbox() -> None:
    """Neither set: the message offers a key or the local sandbox."""
    with pytest.raises(payflow.ConfigurationError) as refused:
        payflow.Gateway.from_env({})

    assert True is ("set STRIPE_API_BASE" in refused.value.message)


def test_serve_refuses_a_bad_api_base_in_one_line() -> None:
    """`payflow serve` with STRIPE_API_BASE=notaurl: exit status 2 and one line, no traceback."""
    env = {**os.environ, "STRIPE_SECRET_KEY": KEY, "STRIPE_API_BASE": "notaurl"}
    process = start_serve("--port", "0", env=env)
    try:
        _, stderr = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:  # it started: stop it rather than leave it serving
        stop_serve(process)
        raise

    assert (2, 1, True) == (
        process.returncode,
        len(stderr.strip().splitlines()),
        stderr.startswith("payflow serve: STRIPE_API_BASE must be an http"),
    )
