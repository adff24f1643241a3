"""Secrets of API users: argon2id password hashes, sha256 token hashes, constant-time checks.

Stored forms (``eventlog.api_users.password_hash``):

- ``$argon2id$v=19$m=...,t=...,p=...$<salt>$<hash>`` (argon2-cffi's PHC string) for passwords
  people choose; new passwords are hashed so;
- ``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>``: passwords stored before argon2; they keep
  verifying, and a login with one stores the argon2 hash instead (``needs_rehash``);
- ``sha256$<hex>`` for generated API tokens: 48 random alphanumeric characters carry ~285 bits,
  so a fast hash is as safe as a slow one and keeps every request cheap (listmonk does the same).

argon2id and scrypt cost ~50 ms and tens of MB on purpose, so a verified
``(stored hash, sha256(password))`` pair is remembered for a few minutes; keying on the stored
hash means a password change or a deleted user never matches a stale entry.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import secrets
import string
import time
from collections import OrderedDict

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

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


# argon2id with OWASP's recommended minimum (t=2, 19 MiB, p=1), not argon2-cffi's default
# (t=3, 64 MiB, p=4): every hash and verification holds its memory for a moment, in every API
# process, and unauthenticated requests can make verifications happen (a wrong Basic auth
# password, a login), so 64 MiB each made memory the easy thing to exhaust and put `postlog
# up` at ~180 MB from the admin's hash at start. Hashes made with other parameters still
# verify (the parameters are in the hash) and are re-hashed at the next login.
_ARGON2 = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_ARGON2_PREFIX = "$argon2"


def hash_password(password: str) -> str:
    """Stored form of a password: argon2id with a random salt, its parameters included."""
    return _ARGON2.hash(password)


def needs_rehash(stored: str) -> bool:
    """Whether a (verified) stored password hash should be replaced by ``hash_password``'s:
    an scrypt one, or argon2 with weaker parameters than today's."""
    if not stored.startswith(_ARGON2_PREFIX):
        return stored.startswith("scrypt$")
    try:
        return _ARGON2.check_needs_rehash(stored)
    except InvalidHashError:
        return False


def _verify_argon2(stored: str, password: str) -> bool:
    try:
        return _ARGON2.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def hash_password_scrypt(password: str, *, salt: bytes | None = None) -> str:
    """The scrypt form stored before argon2 (kept to test that such hashes still verify)."""
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
    if stored.startswith(_ARGON2_PREFIX):
        return _verify_argon2(stored, secret)
    return False


@functools.cache
def _dummy_hash() -> str:
    """A hash no password matches, verified when there is no user, so an unknown username
    costs what a wrong password does (no timing oracle for which usernames exist). Made on
    first use, not at import: an argon2 hash takes its 64 MiB of memory for a moment, and
    every process imports this module (the sender's peak RSS went from ~112 to ~180 MB)."""
    return _ARGON2.hash(secrets.token_urlsafe(16))


def verify_password_or_dummy(stored: str | None, password: str) -> bool:
    """``verify_secret`` for a login: with no stored hash, pays for a verification anyway."""
    if stored is None:
        _verify_argon2(_dummy_hash(), password)
        return False
    return verify_secret(stored, password)


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
    """``verify_secret`` that pays argon2/scrypt off the event loop and at most once per TTL."""
    if not stored.startswith(("scrypt$", _ARGON2_PREFIX)):
        return verify_secret(stored, secret)
    if cache.hit(stored, secret):
        return True
    ok = await asyncio.to_thread(verify_secret, stored, secret)
    if ok:
        cache.remember(stored, secret)
    return ok
