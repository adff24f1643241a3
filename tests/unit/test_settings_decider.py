"""The settings decider (given/when/then) and its handler against the in-memory store:
which event a PUT gives, and how secrets sent as masks, empty or in clear are resolved."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from functools import partial
from typing import Any

import msgspec
import pytest

from events.settings import (
    PASSWORD_MASK,
    AppSettings,
    SettingsChanged,
    SMTPServer,
    default_settings,
)
from events.settings_secrets import open_secrets, seal_secrets
from events.store import ConcurrencyError
from kernel.errors import DomainError, InvalidInput
from readmodels.settings import StoredSettings, masked_json
from services.command_api.settings.commands import ChangeSettings, SettingsChange
from services.command_api.settings.decider import settings_decider
from services.command_api.settings.handlers import change_settings
from tests.fake_store import InMemoryEventStore, race, run
from tests.unit.given_when_then import when_deciding

T0 = datetime(2024, 1, 1, tzinfo=UTC)
T1 = datetime(2024, 1, 2, tzinfo=UTC)
KEY = os.urandom(32)
PROCESS = {"app.root_url": "https://process.example", "app.from_email": "P <p@example>"}
STREAM = "settings-app"
when = when_deciding(settings_decider)
r = msgspec.structs.replace


def defaults() -> AppSettings:
    return default_settings(root_url="https://process.example", from_email="P <p@example>")


def sealed(settings: AppSettings) -> ChangeSettings:
    s, lengths = seal_secrets(settings, KEY)
    return ChangeSettings(settings=s, secret_lengths=lengths, key_id=1,
                          process_values=PROCESS, at=T0)


def changed(command: ChangeSettings, **fields: Any) -> SettingsChanged:
    values: dict[str, Any] = {"settings": command.settings, "key_id": 1,
                              "secret_lengths": command.secret_lengths, "at": command.at}
    return SettingsChanged(**{**values, **fields})


# --- decider --------------------------------------------------------------------------------

def test_the_first_change_records_the_whole_object_following_the_process_urls() -> None:
    command = sealed(r(defaults(), app_site_name="News"))
    [event] = when([], command)
    assert event == changed(command, changed=["app.site_name", "smtp", "bounce.mailboxes"],
                            process_defaults=["app.root_url", "app.from_email"])


def test_the_same_settings_again_record_nothing() -> None:
    command = sealed(r(defaults(), app_site_name="News"))
    first = when([], command)
    assert when(first, command) == []


def test_a_process_url_set_through_the_api_stops_following_the_process() -> None:
    command = sealed(r(defaults(), app_root_url="https://lists.example/"))
    [event] = when([], command)
    assert isinstance(event, SettingsChanged)
    assert event.process_defaults == ["app.from_email"]
    assert event.settings.app_root_url == "https://lists.example"  # normalised


def test_only_the_keys_that_differ_are_named_changed() -> None:
    command = sealed(defaults())
    given = when([], command)
    second = r(command, settings=r(command.settings, app_message_rate=50,
                                   privacy_allow_wipe=False), at=T1)
    [event] = when(given, second)
    assert isinstance(event, SettingsChanged)
    assert event.changed == ["app.message_rate", "privacy.allow_wipe"]


def test_refused_settings_give_no_event() -> None:
    command = sealed(r(defaults(), smtp=[SMTPServer(host="h", enabled=False)]))
    with pytest.raises(InvalidInput, match="At least one SMTP block"):
        when([], command)


# --- handler: binding, uuids and secrets ---------------------------------------------------

class FixedKey:
    async def current(self) -> tuple[int, bytes]:
        return 1, KEY


def put(given: dict[str, Any], *uuids: str, at: datetime = T0) -> Any:
    change = SettingsChange(given=given, fresh_uuids=list(uuids), process_values=PROCESS, at=at)
    return partial(change_settings, change, settings_keys=FixedKey())


def stored(store: InMemoryEventStore) -> SettingsChanged:
    event = store.events(STREAM)[-1]
    assert isinstance(event, SettingsChanged)
    return event


def shown(store: InMemoryEventStore) -> dict[str, Any]:
    """What GET would answer (masked)."""
    event = stored(store)
    return masked_json(StoredSettings(settings=event.settings,
                                      secret_lengths=event.secret_lengths))


def opened(store: InMemoryEventStore) -> AppSettings:
    return open_secrets(stored(store).settings, KEY)


async def test_a_get_put_round_trip_keeps_the_default_secrets_sealed() -> None:
    store = InMemoryEventStore()
    body = masked_json(StoredSettings(settings=defaults()))
    await run(store, put(body))
    assert opened(store).smtp[0].password == "password"
    assert b":\"password\"" not in msgspec.json.encode(stored(store).settings)
    assert shown(store) == body
    assert await run(store, put(shown(store))) == {"changed": []}


async def test_masks_and_empty_passwords_keep_stored_secrets_by_uuid() -> None:
    store = InMemoryEventStore()
    body = masked_json(StoredSettings(settings=defaults()))
    body["smtp"][0]["password"] = "first-secret"
    body["bounce.sendgrid_key"] = "sg-key"
    await run(store, put(body))
    again = shown(store)
    assert again["smtp"][0]["password"] == PASSWORD_MASK * len("first-secret")
    again["smtp"].reverse()  # moved: still matched by uuid
    again["smtp"][1]["password"] = ""  # listmonk's UI sends "" for an untouched password
    again["bounce.sendgrid_key"] = ""  # kept, as listmonk keeps it
    await run(store, put(again))
    assert opened(store).smtp[1].password == "first-secret"
    assert opened(store).bounce_sendgrid_key == "sg-key"


async def test_a_secret_sent_in_clear_replaces_the_stored_one() -> None:
    store = InMemoryEventStore()
    await run(store, put({}))
    body = shown(store)
    body["smtp"][0]["password"] = "new-pass"
    assert await run(store, put(body, at=T1)) == {"changed": ["smtp"]}
    assert opened(store).smtp[0].password == "new-pass"
    assert shown(store)["smtp"][0]["password"] == PASSWORD_MASK * len("new-pass")


async def test_a_mask_for_a_new_server_is_refused_and_nothing_staged() -> None:
    store = InMemoryEventStore()
    body = masked_json(StoredSettings(settings=defaults()))
    body["smtp"].append({"host": "new.example", "password": PASSWORD_MASK * 5})
    with pytest.raises(InvalidInput, match="re-enter the full password"):
        await put(body, "fresh-uuid")(store)
    assert store.staged == []


async def test_new_items_get_the_route_s_uuids_and_secrets_are_checked_as_text() -> None:
    store = InMemoryEventStore()
    body = masked_json(StoredSettings(settings=defaults()))
    body["messengers"] = [{"name": "sms", "root_url": "https://h", "password": "pw"}]
    await run(store, put(body, "u-new"))
    assert opened(store).messengers[0].uuid == "u-new"
    assert opened(store).messengers[0].password == "pw"
    body = shown(store)
    body["messengers"][0]["password"] = "a\nb"
    with pytest.raises(DomainError, match="line break"):
        await put(body)(store)


async def test_a_put_of_some_keys_keeps_the_others() -> None:
    store = InMemoryEventStore()
    await run(store, put({"app.site_name": "News"}))
    await run(store, put({"app.message_rate": 5}, at=T1))
    assert (opened(store).app_site_name, opened(store).app_message_rate) == ("News", 5)


async def test_two_puts_on_the_same_version_conflict() -> None:
    store = InMemoryEventStore()
    with pytest.raises(ConcurrencyError):
        await race(store, put({"app.site_name": "A"}), put({"app.site_name": "B"}))


async def test_a_long_secret_is_kept_whole_and_an_over_long_one_refused() -> None:
    store = InMemoryEventStore()
    body = masked_json(StoredSettings(settings=defaults()))
    body["smtp"][0]["password"] = "p" * 2000
    await run(store, put(body))
    assert opened(store).smtp[0].password == "p" * 2000
    body["smtp"][0]["password"] = "p" * 2001
    with pytest.raises(DomainError, match="longer than 2000 bytes"):
        await put(body)(store)
