"""TOTP codes (RFC 6238, listmonk's pquerna/otp settings), secrets and QR codes."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from events.crypto import DecryptionError
from events.user_keys import seal
from services.auth import totp

SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # RFC 6238's test key "12345678901234567890"


def test_codes_match_the_rfc_test_vectors() -> None:
    at = datetime.fromtimestamp(59, UTC)
    assert totp.code_at(SECRET, at) == "287082"  # RFC 6238 (SHA-1, 8 digits: 94287082)
    at = datetime.fromtimestamp(1111111109, UTC)
    assert totp.code_at(SECRET, at) == "081804"  # 07081804


def test_one_step_of_skew_either_way_and_no_replay() -> None:
    at = datetime(2026, 5, 1, 12, 0, 10, tzinfo=UTC)
    step = int(at.timestamp()) // 30
    assert totp.matching_step(SECRET, totp.code_at(SECRET, at), at) == step
    assert totp.matching_step(SECRET, totp.code_at(SECRET, at - timedelta(seconds=30)), at) \
        == step - 1
    assert totp.matching_step(SECRET, totp.code_at(SECRET, at + timedelta(seconds=30)), at) \
        == step + 1
    assert totp.matching_step(SECRET, totp.code_at(SECRET, at + timedelta(seconds=90)), at) \
        is None
    assert totp.matching_step(SECRET, totp.code_at(SECRET, at), at, after_step=step) is None
    assert totp.matching_step(SECRET, "12345", at) is None
    assert totp.matching_step(SECRET, "abcdef", at) is None


def test_secrets_are_base32_and_normalised() -> None:
    fresh = totp.new_secret()
    assert len(fresh) == 32 and totp.normalise_secret(fresh) == fresh
    assert totp.normalise_secret("jbsw y3dp ehpk 3pxp==") == "JBSWY3DPEHPK3PXP"
    for bad in ("", "short", "JBSWY3DPEHPK3PX1", "A" * 129, "JBSWY3DP\x00EHPK3PXP"):
        assert totp.normalise_secret(bad) is None


def test_the_qr_code_is_a_png_of_the_otpauth_uri() -> None:
    uri = totp.provisioning_uri(SECRET, "ann@example.com", "Mailing list")
    assert uri.startswith("otpauth://totp/Mailing%20list:ann%40example.com?secret=" + SECRET)
    assert base64.b64decode(totp.qr_png_base64(uri)).startswith(b"\x89PNG\r\n\x1a\n")


def test_the_secret_is_sealed_with_the_users_key() -> None:
    key = bytes(range(32))
    token = totp.seal_secret(key, 7, SECRET)
    assert SECRET not in token
    assert totp.unseal_secret(key, 7, token) == SECRET
    with pytest.raises(DecryptionError):  # bound to its user
        totp.unseal_secret(key, 8, token)
    assert token != seal(key, 7, "email", SECRET)
