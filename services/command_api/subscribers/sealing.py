"""Sealing a subscriber's personal fields into tokens for its events, and opening them again.

Each token is bound to the subscriber and the field (``events.crypto.field_aad``), so it cannot
be moved to another subscriber or field.
"""

from __future__ import annotations

from typing import Any

from events.crypto import PersonalValue, decrypt_value, encrypt_value, field_aad


def seal(key: bytes, subscriber_id: int, field: str, value: PersonalValue) -> str:
    return encrypt_value(key, value, field_aad(subscriber_id, field))


def unseal(key: bytes, subscriber_id: int, field: str, token: str) -> Any:
    return decrypt_value(key, token, field_aad(subscriber_id, field))
