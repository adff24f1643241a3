"""Password and token hashing: stored forms, verification and the verification cache."""

from __future__ import annotations

import string

from services.auth.passwords import (
    API_TOKEN_LENGTH,
    VerifiedCache,
    generate_api_token,
    hash_password,
    hash_password_scrypt,
    hash_token,
    needs_rehash,
    verify_secret,
    verify_secret_cached,
)


def test_api_tokens_are_48_random_alphanumerics() -> None:
    tokens = {generate_api_token() for _ in range(50)}
    assert len(tokens) == 50
    for token in tokens:
        assert len(token) == API_TOKEN_LENGTH == 48
        assert set(token) <= set(string.ascii_letters + string.digits)


def test_token_hash_hides_the_token_and_verifies_it() -> None:
    token = generate_api_token()
    stored = hash_token(token)
    assert token not in stored
    assert stored.startswith("sha256$")
    assert verify_secret(stored, token)
    assert not verify_secret(stored, token[:-1])


def test_password_hash_is_salted_argon2id() -> None:
    first = hash_password("correct horse")
    second = hash_password("correct horse")
    assert first != second  # a fresh salt each time
    assert first.startswith("$argon2id$")
    assert "correct horse" not in first
    assert verify_secret(first, "correct horse")
    assert verify_secret(second, "correct horse")
    assert not verify_secret(first, "Correct horse")
    assert not needs_rehash(first)


def test_scrypt_hashes_stored_before_argon2_still_verify_and_ask_for_a_rehash() -> None:
    legacy = hash_password_scrypt("correct horse")
    assert legacy.startswith("scrypt$")
    assert verify_secret(legacy, "correct horse")
    assert not verify_secret(legacy, "Correct horse")
    assert needs_rehash(legacy)
    assert not needs_rehash(hash_token("token"))


def test_unknown_or_damaged_hashes_never_verify() -> None:
    assert not verify_secret("plain$secret", "secret")
    assert not verify_secret("secret", "secret")
    assert not verify_secret("scrypt$16384$8$1$!!$??", "secret")


async def test_cached_verification_remembers_only_successes() -> None:
    cache = VerifiedCache(ttl=60)
    stored = hash_password("pw")
    assert not await verify_secret_cached(stored, "wrong", cache)
    assert not cache.hit(stored, "wrong")
    assert await verify_secret_cached(stored, "pw", cache)
    assert cache.hit(stored, "pw")
    # A new hash for the same password (password changed) is a different entry.
    assert not cache.hit(hash_password("pw"), "pw")


def test_cache_entries_expire_and_are_bounded() -> None:
    expired = VerifiedCache(ttl=-1)
    expired.remember("h", "pw")
    assert not expired.hit("h", "pw")
    small = VerifiedCache(ttl=60, size=2)
    for i in range(3):
        small.remember(f"h{i}", "pw")
    assert not small.hit("h0", "pw")
    assert small.hit("h1", "pw") and small.hit("h2", "pw")
