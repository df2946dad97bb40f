"""Settings: every operator setting from the environment, refused with the variable's name."""

from __future__ import annotations

import pytest

import payflow
from payflow_asgi import Settings


def test_every_setting_comes_from_the_environment() -> None:
    """PAYFLOW_CURRENCY, PAYFLOW_MAX_BODY_BYTES, PAYFLOW_API_TOKEN and PAYFLOW_LANGUAGE set the
    settings; the token stays out of the repr."""
    token = "t" * 20
    settings = Settings.from_env(
        {
            "PAYFLOW_CURRENCY": "JPY",
            "PAYFLOW_MAX_BODY_BYTES": "1024",
            "PAYFLOW_API_TOKEN": token,
            "PAYFLOW_LANGUAGE": "en",
        }
    )

    assert ("jpy", 1024, token, "en") == (
        settings.currency, settings.max_body_bytes, settings.api_token, settings.language
    )  # fmt: skip
    assert token not in repr(settings)


def test_unset_or_empty_keeps_the_defaults() -> None:
    """An empty environment, or empty values, give the defaults: EUR, 64 KiB, no token, es."""
    empty = {name: "" for name in ("PAYFLOW_CURRENCY", "PAYFLOW_LANGUAGE", "PAYFLOW_API_TOKEN")}

    assert Settings() == Settings.from_env({}) == Settings.from_env(empty)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PAYFLOW_CURRENCY", "xyz"),
        ("PAYFLOW_MAX_BODY_BYTES", "-5"),
        ("PAYFLOW_MAX_BODY_BYTES", "0"),
        ("PAYFLOW_MAX_BODY_BYTES", "64k"),
        ("PAYFLOW_LANGUAGE", "fr"),
        ("PAYFLOW_API_TOKEN", "short"),
    ],
)
def test_a_bad_value_is_refused_naming_its_variable(name: str, value: str) -> None:
    """A value that cannot work is a ConfigurationError that names the variable, never the
    value of a token."""
    with pytest.raises(payflow.ConfigurationError) as info:
        Settings.from_env({name: value})

    assert name in info.value.message
    assert "short" not in info.value.message
