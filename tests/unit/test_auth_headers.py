"""Parsing of listmonk's ``Authorization`` header forms (no I/O)."""

from __future__ import annotations

import base64

import pytest

from kernel.settings import Settings
from services.auth.guard import (
    Credentials,
    MalformedAuthorization,
    is_settings_admin,
    parse_authorization,
    parse_credentials,
)


def basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "header",
    [
        basic("api-bot:s3cret"),
        "token api-bot:s3cret",
        "Bearer api-bot:s3cret",
        "  token   api-bot:s3cret  ",
        "TOKEN api-bot:s3cret",
        "bearer api-bot:s3cret",
    ],
)
def test_every_accepted_form_yields_user_and_secret(header: str) -> None:
    assert parse_authorization(header) == Credentials("api-bot", "s3cret")


def test_secret_may_contain_colons() -> None:
    assert parse_authorization(basic("admin:pa:ss")) == Credentials("admin", "pa:ss")


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Basic !!!notbase64", "invalid Base64 value in Basic Authorization header"),
        ("Digest abc", "unknown Authorization scheme"),
        ("api-bot:s3cret", "unknown Authorization scheme"),
        ("token api-bot", "api_key:token missing"),
        (basic("api-bot"), "api_key:token missing"),
        ("token :s3cret", "empty `api_key` or `token`"),
        ("Bearer api-bot:", "empty `api_key` or `token`"),
    ],
)
def test_malformed_headers_say_what_is_wrong(header: str, message: str) -> None:
    with pytest.raises(MalformedAuthorization, match=message):
        parse_authorization(header)
    assert parse_credentials(header) is None


def test_settings_admin_matches_only_exact_user_and_password() -> None:
    settings = Settings(admin_user="admin", admin_password="admin-password")
    assert is_settings_admin(settings, Credentials("admin", "admin-password"))
    assert not is_settings_admin(settings, Credentials("admin", "admin-passwor"))
    assert not is_settings_admin(settings, Credentials("root", "admin-password"))


def test_no_settings_password_means_no_settings_admin() -> None:
    settings = Settings(admin_user="admin", admin_password=None)
    assert not is_settings_admin(settings, Credentials("admin", ""))
    assert not is_settings_admin(settings, Credentials("admin", "anything"))


def test_settings_admin_user_defaults_to_admin() -> None:
    settings = Settings(admin_user=None, admin_password="pw")
    assert is_settings_admin(settings, Credentials("admin", "pw"))
