"""Sealing a subscriber's personal fields into tokens for its events, and opening them again.

Each token is bound to the subscriber and the field (``events.crypto.field_aad``), so it cannot
be moved to another subscriber or field.

Sealing is also the last guard of the validation boundary for personal data: the store cannot
see inside a token, so ``seal`` refuses (``InvalidText``, a 400) an e-mail or name that is not
one valid line of at most 2000 bytes, and attribs holding a NUL or nested too deep, whichever
path (API, public pages, import) the value came from.
"""

from __future__ import annotations

from typing import Any

from events.crypto import PersonalValue, decrypt_value, encrypt_value, field_aad
from events.validation import check_json, check_line


def seal(key: bytes, subscriber_id: int, field: str, value: PersonalValue) -> str:
    if isinstance(value, str) and field in ("email", "name"):
        check_line(value, field)
    else:
        check_json(value, field)
    return encrypt_value(key, value, field_aad(subscriber_id, field))


def unseal(key: bytes, subscriber_id: int, field: str, token: str) -> Any:
    return decrypt_value(key, token, field_aad(subscriber_id, field))
