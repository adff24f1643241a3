"""``erasure.subjects``: how a command's result names the people its stored answer is about."""

from __future__ import annotations

import hashlib

from services.command_api.erasure import subjects


def test_subjects_name_subscribers_by_id_and_addresses_by_their_index_hash() -> None:
    digest = hashlib.sha256(b"ana@example.com").hexdigest()
    assert subjects([7, None, 7], [" Ana@Example.com", "", "ana@example.com"]) == [
        f"email:{digest}", "subscriber:7"]
    assert subjects() == []
