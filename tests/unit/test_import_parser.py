"""Reading import files and params as listmonk does, and the events a batch of rows produces."""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from events.crypto import decrypt_value, field_aad, new_data_key
from events.subscribers import (
    SubscribedToLists,
    SubscriberCreated,
    SubscriberStatusChanged,
    SubscriberUpdated,
    SubscriptionStatusChanged,
)
from services.command_api.imports.batch import Existing, NewSubscriber, plan_batch
from services.command_api.imports.params import (
    ImportOptions,
    ImportParams,
    ParamsError,
    parse_params,
)
from services.command_api.imports.parser import (
    CsvRows,
    ImportFileError,
    Row,
    count_lines,
    extract_csv,
)
from services.command_api.subscribers.decider import Active
from services.command_api.subscribers.index import email_hash

AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


# --- params -----------------------------------------------------------------------------------

def test_params_bind_like_go() -> None:
    assert parse_params('{"MODE": "subscribe", "Lists": [1, null, 3], "delim": ";",'
                        ' "subscription_status": "confirmed", "unknown": {}}') == ImportParams(
        mode="subscribe", subscription_status="confirmed", delim=";", lists=(1, 0, 3))
    assert parse_params("null") == ImportParams()


def test_old_overwrite_flag_sets_both_new_ones() -> None:
    both = parse_params('{"overwrite": true}')
    assert both.overwrite_userinfo and both.overwrite_subscription_status
    only = parse_params('{"overwrite_userinfo": true}')
    assert only.overwrite_userinfo and not only.overwrite_subscription_status


@pytest.mark.parametrize(("raw", "message"), [
    ("", "unexpected end of JSON input"),
    ('{"lists": ["1"]}',
     "json: cannot unmarshal string into Go struct field SessionOpt.lists of type int"),
    ('{"lists": [1.5]}',
     "json: cannot unmarshal number 1.5 into Go struct field SessionOpt.lists of type int"),
    ('{"overwrite": "yes"}',
     "json: cannot unmarshal string into Go struct field SessionOpt.overwrite of type bool"),
    ("[]", "json: cannot unmarshal array into Go value of type subimporter.SessionOpt"),
])
def test_params_errors_read_like_go(raw: str, message: str) -> None:
    with pytest.raises(ParamsError) as caught:
        parse_params(raw)
    assert str(caught.value) == message


# --- files ------------------------------------------------------------------------------------

def write(tmp_path: Path, content: str, name: str = "f.csv") -> str:
    path = tmp_path / name
    path.write_bytes(content.encode())
    return str(path)


@pytest.mark.parametrize(("content", "lines"), [
    ("", 0), ("email\n", 1), ("email\na@b.c", 2), ("email\na@b.c\n\n", 3)])
def test_lines_are_counted_like_listmonk(tmp_path: Path, content: str, lines: int) -> None:
    assert count_lines(write(tmp_path, content)) == lines


def read_all(path: str, delim: str = ",") -> tuple[list[Row], list[str]]:
    logged: list[str] = []
    reader = CsvRows(path, delim, logged.append, "f.csv")
    rows, done = reader.batch(100)
    reader.close()
    assert done
    return rows, logged


def test_rows_are_validated_and_bad_ones_logged(tmp_path: Path) -> None:
    path = write(tmp_path, (
        "\ufeffemail , name,attributes,extra\r\n"
        "John.Doe@Example.com,,\"{\"\"a\"\": 1}\",x\r\n"
        "\r\n"
        "bad@,Bad,,x\r\n"
        "ann@example.com,  Ann  ,[1],x\r\n"
        "too,few\r\n"
        "\"multi\nline\"@example.com,M,,x\r\n"))
    rows, logged = read_all(path)
    assert rows == [
        Row(1, "john.doe@example.com", email_hash("john.doe@example.com"), "John Doe",
            {"a": 1}),
        Row(3, "ann@example.com", email_hash("ann@example.com"), "Ann", None),
    ]
    assert logged == [
        "ignoring unknown header 'extra'",
        "skipping line 2: Invalid email.",
        "skipping invalid attributes JSON on line 3: json: cannot"
        " unmarshal array into Go value of type models.JSON",
        "skipping line 4. record on line 6: wrong number of fields",
        "skipping line 5: Invalid email.",
    ]


def test_batches_split_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "email\n" + "".join(f"u{i}@example.com\n" for i in range(5)))
    reader = CsvRows(path, "\t", lambda _: None, "f.csv")
    first, done = reader.batch(3)
    assert ([r.line for r in first], done) == ([1, 2, 3], False)
    rest, done = reader.batch(3)
    assert ([r.line for r in rest], done) == ([4, 5], True)
    reader.close()


def test_a_file_needs_an_email_column(tmp_path: Path) -> None:
    logged: list[str] = []
    with pytest.raises(ImportFileError):
        CsvRows(write(tmp_path, "name\nx\n"), ",", logged.append, "people.csv")
    assert logged[-1] == "'email' column not found in 'people.csv'"


def test_zip_yields_its_first_csv(tmp_path: Path) -> None:
    archive = tmp_path / "in.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("dir/", b"")
        z.writestr("notes.md", b"x")
        z.writestr("../../evil/first.CSV", b"email\n")
        z.writestr("second.csv", b"email\n")
    out = tmp_path / "out"
    out.mkdir()
    logged: list[str] = []
    path = extract_csv(str(archive), str(out), logged.append)
    assert path == str(out / "first.CSV")
    assert logged == ["skipping directory 'dir'", "skipping non .csv file 'notes.md'",
                      "extracting 'first.CSV'", "extracted 'first.CSV'"]
    with pytest.raises(ImportFileError, match="zip: not a valid zip file"):
        extract_csv(write(tmp_path, "plain"), str(out), logged.append)


# --- the events of a batch --------------------------------------------------------------------

def options(**changes: object) -> ImportOptions:
    values: dict[str, object] = {
        "name": "f.csv", "mode": "subscribe", "subscription_status": "unconfirmed",
        "overwrite_userinfo": False, "overwrite_subscription_status": False, "delim": ",",
        "list_ids": (1, 2)}
    values.update(changes)
    return ImportOptions(**values)  # type: ignore[arg-type]


def row(line: int, email: str, name: str = "N", attribs: dict[str, object] | None = None) -> Row:
    return Row(line, email, email_hash(email), name, attribs)


def active(sid: int, status: str = "enabled", subs: dict[int, str] | None = None) -> Active:
    return Active(subscriber_id=sid, uuid="u", email="enc-email", name="enc-name",
                  attribs="enc-attribs", status=status,  # type: ignore[arg-type]
                  subscriptions=subs or {}, updated_at=AT)  # type: ignore[arg-type]


def test_new_rows_create_subscribers_and_repeats_apply_to_them() -> None:
    key = new_data_key()
    rows = [row(1, "a@x.io", "A", {"k": 1}), row(2, "a@x.io", "Again")]
    plan = plan_batch(rows, {email_hash("a@x.io"): NewSubscriber(7, key)},
                      options(overwrite_userinfo=True), AT, lambda: "uuid-1")
    assert plan.imported == 2 and len(plan.appends) == 1
    created, subscribed, updated = plan.appends[0].events
    assert isinstance(created, SubscriberCreated) and created.status == "enabled"
    assert decrypt_value(key, created.email, field_aad(7, "email")) == "a@x.io"
    assert decrypt_value(key, created.attribs, field_aad(7, "attribs")) == {"k": 1}
    assert subscribed == SubscribedToLists(subscriber_id=7, list_ids=[1, 2],
                                           status="unconfirmed", at=AT)
    assert isinstance(updated, SubscriberUpdated) and updated.email == created.email
    assert decrypt_value(key, updated.name, field_aad(7, "name")) == "Again"
    assert plan.appends[0].expected_version == 0


def test_existing_subscriber_without_overwrite_only_gains_lists() -> None:
    state = active(5, subs={1: "confirmed"})
    plan = plan_batch([row(1, "b@x.io")], {email_hash("b@x.io"): Existing(5, state, 4, b"k")},
                      options(subscription_status="confirmed"), AT, lambda: "u")
    assert plan.appends[0].expected_version == 4
    assert list(plan.appends[0].events) == [
        SubscribedToLists(subscriber_id=5, list_ids=[2], status="confirmed", at=AT)]


def test_overwrite_status_moves_existing_subscriptions_blocklisted_ones_unsubscribed() -> None:
    state = active(5, status="blocklisted", subs={1: "unsubscribed"})
    plan = plan_batch([row(1, "b@x.io")], {email_hash("b@x.io"): Existing(5, state, 2, b"k")},
                      options(overwrite_subscription_status=True,
                              subscription_status="confirmed"), AT, lambda: "u")
    assert list(plan.appends[0].events) == [
        SubscribedToLists(subscriber_id=5, list_ids=[2], status="unsubscribed", at=AT)]
    state = active(6, subs={1: "unconfirmed"})
    plan = plan_batch([row(1, "c@x.io")], {email_hash("c@x.io"): Existing(6, state, 2, b"k")},
                      options(overwrite_subscription_status=True, list_ids=(1,),
                              subscription_status="confirmed"), AT, lambda: "u")
    assert list(plan.appends[0].events) == [SubscriptionStatusChanged(
        subscriber_id=6, list_ids=[1], status="confirmed", previous_status="unconfirmed",
        at=AT)]


def test_blocklist_mode() -> None:
    key = new_data_key()
    state = active(5, subs={1: "confirmed"})
    plan = plan_batch(
        [row(1, "old@x.io"), row(2, "new@x.io")],
        {email_hash("old@x.io"): Existing(5, state, 3, b"k"),
         email_hash("new@x.io"): NewSubscriber(9, key)},
        options(mode="blocklist", subscription_status="unsubscribed"), AT, lambda: "u")
    old, new = plan.appends
    assert list(old.events) == [
        SubscriberStatusChanged(subscriber_id=5, status="blocklisted", previous_status="enabled",
                                at=AT),
        SubscriptionStatusChanged(subscriber_id=5, list_ids=[1], status="unsubscribed",
                                  previous_status="confirmed", at=AT)]
    assert len(new.events) == 1
    assert isinstance(new.events[0], SubscriberCreated)
    assert new.events[0].status == "blocklisted"


def test_erased_subscriber_rows_are_skipped() -> None:
    state = active(5)
    plan = plan_batch([row(3, "gone@x.io")],
                      {email_hash("gone@x.io"): Existing(5, state, 3, None)},
                      options(), AT, lambda: "u")
    assert (plan.imported, plan.appends, len(plan.skipped)) == (0, [], 1)
