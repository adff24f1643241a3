"""Personal values sealed with a subscriber's data key read back only with that key, and read as
redaction markers once the key is destroyed."""

from __future__ import annotations

import base64

import pytest
from pydantic import SecretStr

from events.crypto import (
    REDACTED_TEXT,
    TOKEN_PREFIX,
    DecryptionError,
    decrypt_value,
    encrypt_value,
    field_aad,
    is_encrypted,
    master_key_from,
    new_data_key,
)

KEY = new_data_key()
EMAIL = field_aad(42, "email")


@pytest.mark.parametrize(
    "value", ["ada@example.com", "", {"city": "Zürich", "tags": [1, 2]}, {}, None]
)
def test_values_round_trip(value: object) -> None:
    token = encrypt_value(KEY, value, EMAIL)  # type: ignore[arg-type]
    assert token.startswith(TOKEN_PREFIX) and is_encrypted(token)
    assert decrypt_value(KEY, token, EMAIL) == value


def test_token_hides_the_value_and_differs_every_time() -> None:
    first = encrypt_value(KEY, "ada@example.com", EMAIL)
    assert "ada" not in first
    assert first != encrypt_value(KEY, "ada@example.com", EMAIL)


def test_wrong_key_fails() -> None:
    token = encrypt_value(KEY, "ada@example.com", EMAIL)
    with pytest.raises(DecryptionError):
        decrypt_value(new_data_key(), token, EMAIL)


def test_token_of_another_subscriber_or_field_fails() -> None:
    token = encrypt_value(KEY, "ada@example.com", EMAIL)
    with pytest.raises(DecryptionError):
        decrypt_value(KEY, token, field_aad(43, "email"))
    with pytest.raises(DecryptionError):
        decrypt_value(KEY, token, field_aad(42, "name"))


def test_tampered_token_fails() -> None:
    token = encrypt_value(KEY, "ada@example.com", EMAIL)
    kind, body = token[len(TOKEN_PREFIX):].split(":")
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[-1] ^= 1
    tampered = f"{TOKEN_PREFIX}{kind}:{base64.urlsafe_b64encode(bytes(raw)).decode()}"
    with pytest.raises(DecryptionError):
        decrypt_value(KEY, tampered, EMAIL)
    # Relabelling a string as an object is tampering too.
    with pytest.raises(DecryptionError):
        decrypt_value(KEY, f"{TOKEN_PREFIX}o:{body}", EMAIL)
    with pytest.raises(DecryptionError):
        decrypt_value(KEY, f"{TOKEN_PREFIX}s:", EMAIL)


def test_erased_values_read_as_redaction_markers() -> None:
    assert decrypt_value(None, encrypt_value(KEY, "Ada", EMAIL), EMAIL) == REDACTED_TEXT
    assert decrypt_value(None, encrypt_value(KEY, {"city": "x"}, EMAIL), EMAIL) == {}
    assert decrypt_value(None, encrypt_value(KEY, None, EMAIL), EMAIL) is None


def test_plain_values_pass_through() -> None:
    assert decrypt_value(KEY, "not a token", EMAIL) == "not a token"
    assert decrypt_value(None, {"a": 1}, EMAIL) == {"a": 1}


def test_only_strings_dicts_and_none_are_encrypted() -> None:
    with pytest.raises(TypeError):
        encrypt_value(KEY, 42, EMAIL)  # type: ignore[arg-type]


def test_master_key_setting_is_base64_of_32_bytes() -> None:
    raw = bytes(range(32))
    assert master_key_from(SecretStr(base64.b64encode(raw).decode())) == raw
    assert master_key_from(None) is None
    with pytest.raises(ValueError):
        master_key_from(base64.b64encode(b"short").decode())
    with pytest.raises(ValueError):
        master_key_from("not base64!")
