"""How the log export opens personal data (no database: keys are given, as a batch loads them)."""

from __future__ import annotations

import os
from typing import Any

from events.crypto import encrypt_value, field_aad
from postlog.export import UNDECRYPTABLE, personal_data_opener

KEY = os.urandom(32)


def record(data: dict[str, Any], category: str = "subscriber") -> dict[str, Any]:
    return {"position": "1:1", "stream_id": "subscriber-7", "category": category,
            "type": "subscriber.created", "data": data, "metadata": {}}


def sealed(value: Any, field: str, subscriber_id: int = 7, key: bytes = KEY) -> str:
    return encrypt_value(key, value, field_aad(subscriber_id, field))


PROFILE = {"subscriber_id": 7, "uuid": "u-7", "status": "enabled",
           "email": sealed("ada@example.com", "email"), "name": sealed("Ada", "name"),
           "attribs": sealed({"city": "London"}, "attribs")}


def test_a_live_subscribers_fields_are_opened() -> None:
    opened = personal_data_opener({7: KEY})(record(PROFILE))
    assert opened["data"] == {"subscriber_id": 7, "uuid": "u-7", "status": "enabled",
                              "email": "ada@example.com", "name": "Ada",
                              "attribs": {"city": "London"}}
    assert opened["metadata"] == {} and opened["position"] == "1:1"


def test_an_erased_subscribers_fields_read_erased() -> None:
    opened = personal_data_opener({})(record({**PROFILE, "nothing": sealed(None, "nothing")}))
    assert {k: opened["data"][k] for k in ("email", "name", "attribs", "nothing")} == dict.fromkeys(
        ("email", "name", "attribs", "nothing"), "[erased]")
    assert (opened["data"]["uuid"], opened["data"]["status"]) == ("u-7", "enabled")


def test_a_token_that_does_not_open_is_marked_and_the_rest_still_opens() -> None:
    moved = {**PROFILE, "name": sealed("Ada", "name", subscriber_id=8)}  # wrong aad
    opened = personal_data_opener({7: KEY})(record(moved))
    assert (opened["data"]["email"], opened["data"]["name"]) == ("ada@example.com", UNDECRYPTABLE)


def test_without_usable_keys_tokens_stay_as_stored() -> None:
    assert personal_data_opener(None)(record(PROFILE)) == record(PROFILE)


def test_records_without_sealed_fields_are_unchanged() -> None:
    opener = personal_data_opener({7: KEY})
    for plain in (record({"subscriber_id": 7, "list_ids": [1]}),
                  record({"list_id": 1, "name": "News"}, category="list"),
                  record({"subscriber_id": "7", "email": PROFILE["email"]})):
        assert opener(plain) == plain
