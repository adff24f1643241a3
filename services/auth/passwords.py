"""Secrets of API users: scrypt password hashes, sha256 token hashes, constant-time checks.

Stored forms (``eventlog.api_users.password_hash``):

- ``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>`` for passwords people choose (the admin);
- ``sha256$<hex>`` for generated API tokens: 48 random alphanumeric characters carry ~285 bits,
  so a fast hash is as safe as a slow one and keeps every request cheap (listmonk does the same).

scrypt costs ~50 ms and 16 MB on purpose, so a verified ``(stored hash, sha256(password))`` pair
is remembered for a few minutes; keying on the stored hash means a password change or a deleted
user never matches a stale entry.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import string
import time
from collections import OrderedDict

API_TOKEN_LENGTH = 48
GENERATED_PASSWORD_LENGTH = 24
_ALPHABET = string.ascii_letters + string.digits

_SCRYPT_N = 2**14
_SCRYPT_R = 8
_SCRYPT_P = 1
_SCRYPT_DKLEN = 32
_SALT_BYTES = 16


def random_secret(length: int) -> str:
    """A cryptographically random alphanumeric string (API tokens, generated passwords)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def generate_api_token() -> str:
    return random_secret(API_TOKEN_LENGTH)


def hash_token(token: str) -> str:
    """Stored form of a high-entropy API token."""
    return "sha256$" + hashlib.sha256(token.encode()).hexdigest()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """Stored form of a password: scrypt with a random salt and its parameters."""
    salt = salt if salt is not None else secrets.token_bytes(_SALT_BYTES)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=_SCRYPT_DKLEN
    )
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def _verify_scrypt(stored: str, password: str) -> bool:
    try:
        _, n, r, p, salt_b64, hash_b64 = stored.split("$")
        salt = base64.b64decode(salt_b64, validate=True)
        expected = base64.b64decode(hash_b64, validate=True)
        digest = hashlib.scrypt(
            password.encode(), salt=salt, n=int(n), r=int(r), p=int(p), dklen=len(expected),
            maxmem=int(n) * int(r) * 256,
        )
    except ValueError:
        return False
    return hmac.compare_digest(digest, expected)


def verify_secret(stored: str, secret: str) -> bool:
    """Whether ``secret`` matches a stored hash of either form; constant time in the secret."""
    scheme = stored.partition("$")[0]
    if scheme == "sha256":
        return hmac.compare_digest(hash_token(secret), stored)
    if scheme == "scrypt":
        return _verify_scrypt(stored, secret)
    return False


class VerifiedCache:
    """Remembers recently verified ``(stored hash, sha256(secret))`` pairs for ``ttl`` seconds."""

    def __init__(self, ttl: float = 300.0, size: int = 1024) -> None:
        self.ttl = ttl
        self.size = size
        self._entries: OrderedDict[tuple[str, str], float] = OrderedDict()

    @staticmethod
    def _key(stored: str, secret: str) -> tuple[str, str]:
        return stored, hashlib.sha256(secret.encode()).hexdigest()

    def hit(self, stored: str, secret: str) -> bool:
        key = self._key(stored, secret)
        expires = self._entries.get(key)
        if expires is None:
            return False
        if expires < time.monotonic():
            del self._entries[key]
            return False
        return True

    def remember(self, stored: str, secret: str) -> None:
        self._entries[self._key(stored, secret)] = time.monotonic() + self.ttl
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()


# Process-wide: verification results depend only on (stored hash, secret), never on a request.
VERIFIED = VerifiedCache()


async def verify_secret_cached(stored: str, secret: str, cache: VerifiedCache = VERIFIED) -> bool:
    """``verify_secret`` that pays scrypt off the event loop and at most once per TTL."""
    if not stored.startswith("scrypt$"):
        return verify_secret(stored, secret)
    if cache.hit(stored, secret):
        return True
    ok = await asyncio.to_thread(_verify_scrypt, stored, secret)
    if ok:
        cache.remember(stored, secret)
    return ok
