"""Media without I/O: the decider, the handlers on the in-memory store, the projection's
statements, what an upload may be (names, extensions, content) and the providers' URLs."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime

import msgspec
import pytest
from PIL import Image
from psycopg import sql

from events.base import Event
from events.campaigns import CampaignContent, CampaignCreated, CampaignDeleted, CampaignMedia
from events.media import MediaDeleted, MediaUploaded, fold_media
from events.registry import category_of, decode_event, encode_data, schema_version_of
from events.settings import AppSettings
from events.store import Position, RecordedEvent
from kernel.errors import Conflict, NotFound
from projections.media import MediaProjection
from services.command_api.media import handlers
from services.command_api.media.decider import DeleteMedia, UploadMedia, media_decider
from services.media_storage.files import (
    FileRefused,
    check_file,
    sanitize_filename,
    sniff,
    with_suffix,
)
from services.media_storage.providers import expiry_seconds, store_for, upload_uri
from tests.fake_store import InMemoryEventStore, run
from tests.unit.given_when_then import when_deciding

T0 = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
DEFAULTS = ["jpg", "jpeg", "png", "gif", "svg", "*"]
when = when_deciding(media_decider)


def uploaded(media_id: int = 7, **changes: object) -> MediaUploaded:
    fields: dict[str, object] = {
        "media_id": media_id, "uuid": "5f0c0a39-1111-4bbb-8ccc-000000000007",
        "provider": "filesystem", "key": "a.png", "filename": "a.png",
        "content_type": "image/png", "size": 10, "thumb_key": "thumb_a.png", "width": 600,
        "height": 300, "at": T0}
    fields.update(changes)
    return MediaUploaded(**fields)  # type: ignore[arg-type]


def upload_command(media_id: int = 7) -> UploadMedia:
    e = uploaded(media_id)
    return UploadMedia(media_id=media_id, uuid=e.uuid, provider=e.provider, key=e.key,
                       filename=e.filename, content_type=e.content_type, size=e.size,
                       thumb_key=e.thumb_key, width=e.width, height=e.height, at=T0)


def png(width: int = 40, height: int = 20) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (1, 2, 3)).save(out, format="PNG")
    return out.getvalue()


# --- decider and handlers -----------------------------------------------------------------


def test_an_upload_is_recorded_once_and_a_delete_names_the_objects() -> None:
    assert when([], upload_command()) == [uploaded()]
    with pytest.raises(Conflict):
        when([uploaded()], upload_command())
    assert when([uploaded()], DeleteMedia(media_id=7, at=T0)) == [MediaDeleted(
        media_id=7, provider="filesystem", key="a.png", thumb_key="thumb_a.png", at=T0)]
    for given in ([], [uploaded(), MediaDeleted(media_id=7, provider="filesystem", key="a.png",
                                                at=T0)]):
        with pytest.raises(NotFound, match="not found"):
            when(given, DeleteMedia(media_id=7, at=T0))


def test_events_round_trip_through_the_codec_and_fold() -> None:
    event = uploaded()
    assert decode_event(event.event_type, schema_version_of(event),
                        msgspec.json.decode(encode_data(event))) == event
    assert category_of(event) == "media"
    assert fold_media([event]) is not None
    assert fold_media([event, MediaDeleted(media_id=7, provider="s3", key="a.png",
                                           at=T0)]) is None


async def test_handlers_take_an_id_and_resolve_only_live_media() -> None:
    store = InMemoryEventStore()
    stored = handlers.StoredObjects(msgspec.structs.replace(upload_command(), media_id=0))
    first = await run(store, lambda s: handlers.record_upload(stored, s))
    second = await run(store, lambda s: handlers.record_upload(stored, s))
    assert first["media_id"] != second["media_id"]
    gone = await run(store, lambda s: handlers.delete_media(
        DeleteMedia(media_id=first["media_id"], at=T0), s))
    assert gone["key"] == "a.png" and gone["thumb_key"] == "thumb_a.png"
    found = await handlers.live_media(store, [first["media_id"], second["media_id"], 999,
                                             second["media_id"]])
    assert found == [CampaignMedia(id=second["media_id"], filename="a.png")]


# --- projection ---------------------------------------------------------------------------


def recorded(event: Event, stream: str) -> RecordedEvent:
    return RecordedEvent(
        position=Position(100, 1), event_id=uuid.uuid4(), stream_id=stream,
        category=category_of(event), version=1, type=event.event_type,
        schema_version=schema_version_of(event), data=msgspec.json.decode(encode_data(event)),
        metadata={}, recorded_at=T0)


TABLES = {"media": sql.Identifier("readmodel", "media"),
          "campaign_media": sql.Identifier("readmodel", "campaign_media")}


def test_the_projection_writes_files_and_campaign_attachments() -> None:
    projection = MediaProjection()
    (insert,) = projection.apply(recorded(uploaded(), "media-7"), TABLES)
    assert "INSERT INTO" in repr(insert[0])
    params = list(insert[1])
    assert params[0] == 7 and params[5] == "a.png" and params[6] == "thumb_a.png"
    assert params[8].obj == {"width": 600, "height": 300}
    svg = projection.apply(recorded(uploaded(width=0, height=0), "media-7"), TABLES)
    assert list(svg[0][1])[8].obj == {}  # only images have width and height (listmonk)

    deleted = projection.apply(recorded(MediaDeleted(media_id=7, provider="filesystem",
                                                     key="a.png", at=T0), "media-7"), TABLES)
    assert [list(p) for _, p in deleted] == [[7], [7]]
    assert "SET media_id = NULL" in repr(deleted[1][0])

    content = CampaignContent(name="c", subject="s", from_email="a@b.c",
                              media=[CampaignMedia(id=7, filename="a.png"),
                                     CampaignMedia(id=8, filename="b.pdf")])
    created = projection.apply(recorded(CampaignCreated(
        campaign_id=3, uuid=str(uuid.uuid4()), campaign_type="regular", content=content,
        at=T0), "campaign-3"), TABLES)
    assert [list(p) for _, p in created] == [[3], [3, 0, 7, "a.png"], [3, 1, 8, "b.pdf"]]
    assert projection.apply(recorded(CampaignDeleted(campaign_id=3, at=T0), "campaign-3"),
                            TABLES)[0][1] == (3,)


def test_campaign_events_recorded_before_media_decode_without_it() -> None:
    content = CampaignContent(name="c", subject="s", from_email="a@b.c")
    data = msgspec.json.decode(encode_data(CampaignCreated(
        campaign_id=3, uuid="u", campaign_type="regular", content=content, at=T0)))
    del data["content"]["media"]
    event = decode_event("campaign.created", 1, data)
    assert isinstance(event, CampaignCreated) and event.content.media == []


# --- what an upload may be ------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "safe"), [
    ("Summer photo.png", "Summer-photo.png"),
    ("  été  2024 .JPG ", "été-2024-.JPG"),
    (".htaccess", "htaccess"),
    ("a<b>c\"d.png", "a-b-c-d.png"),
    ("x" * 300 + ".png", "x" * 196 + ".png"),
])
def test_file_names_are_sanitised(raw: str, safe: str) -> None:
    assert sanitize_filename(raw) == safe


@pytest.mark.parametrize("raw", ["../../etc/passwd", "..\\x.png", "a/b.png", "..", "a\x00.png",
                                 "a\nb.png"])
def test_names_with_paths_or_control_characters_are_refused(raw: str) -> None:
    with pytest.raises(FileRefused, match="Invalid file"):
        sanitize_filename(raw)


def test_an_empty_name_becomes_random_and_a_taken_one_gets_a_suffix() -> None:
    assert len(sanitize_filename("   ")) == 10
    assert with_suffix("a.b.png", "XyZ123") == "a.b_XyZ123.png"
    assert with_suffix("README", "XyZ123") == "README_XyZ123"


@pytest.mark.parametrize(("data", "kind"), [
    (png(), "png"), (b"\xff\xd8\xff\xe0rest", "jpeg"), (b"GIF89a...", "gif"),
    (b"%PDF-1.7", "pdf"), (b"MZ\x90\x00", "program"), (b"\x7fELF\x02", "program"),
    (b"#!/bin/sh\nrm -rf /", "program"), (b"  <!DOCTYPE html><p>", "html"),
    (b"<script>alert(1)</script>", "html"),
    (b'<?xml version="1.0"?>\n<!-- x --><svg xmlns="http://www.w3.org/2000/svg"/>', "svg"),
    (b"plain words", "text"), (b"\x00\x01\x02", "binary"), (b"PK\x03\x04", "zip"),
])
def test_content_is_sniffed(data: bytes, kind: str) -> None:
    assert sniff(data) == kind


def test_an_image_is_measured_and_thumbnailed_at_listmonks_width() -> None:
    checked = check_file("a.png", png(500, 100), DEFAULTS, "image/png")
    assert checked.content_type == "image/png" and checked.image is not None
    assert (checked.image.width, checked.image.height) == (500, 100)
    assert Image.open(io.BytesIO(checked.image.thumbnail)).size == (250, 50)


@pytest.mark.parametrize(("name", "data", "allowed", "message"), [
    ("a.exe", b"MZ\x00", DEFAULTS, "Unsupported file type (exe)"),
    ("a.html", b"<html>", DEFAULTS, "Unsupported file type (html)"),
    ("a.pdf", b"%PDF-", ["png"], "Unsupported file type (pdf)"),
    ("a.png", b"<html><body>", DEFAULTS,
     "Invalid file: the content is an HTML page, which a .png file may not hold"),
    ("a.dat", b"MZ\x00\x00", DEFAULTS,
     "Invalid file: the content is a program, which a .dat file may not hold"),
    ("a.gif", png(), DEFAULTS, "Invalid file: the content of a .gif file is not a GIF image"),
    ("a.png", b"\x89PNG\r\n\x1a\nbroken", DEFAULTS, "Invalid file: the image does not decode"),
    ("a.png", b"", DEFAULTS, "Invalid file: the file is empty"),
])
def test_bad_files_are_refused_with_listmonks_message_shape(
        name: str, data: bytes, allowed: list[str], message: str) -> None:
    with pytest.raises(FileRefused) as refused:
        check_file(name, data, allowed)
    assert refused.value.message.startswith(message)


def test_active_types_are_accepted_only_when_named() -> None:
    checked = check_file("a.html", b"<!doctype html><p>x", ["html"], "text/html")
    assert checked.content_type == "text/html" and checked.image is None
    assert check_file("a.svg", b"<svg/>", DEFAULTS).content_type == "image/svg+xml"
    # the client's type is not trusted for active content
    assert check_file("notes.qqq", b"words", DEFAULTS, "text/html").content_type == "text/plain"


# --- providers' URLs --------------------------------------------------------------------------


def settings(**changes: object) -> AppSettings:
    return msgspec.structs.replace(AppSettings(app_root_url="https://news.example.org"),
                                   **changes)


def test_filesystem_urls_follow_root_url_and_upload_uri() -> None:
    store = store_for(settings(upload_filesystem_upload_uri="uploads/"))
    assert upload_uri(settings(upload_filesystem_upload_uri="uploads/")) == "/uploads"
    assert store.url("a b.png") == "https://news.example.org/uploads/a%20b.png"


def test_s3_urls_are_listmonks() -> None:
    base = {"upload_provider": "s3", "upload_s3_url": "https://s3.example.org/",
            "upload_s3_bucket": "bkt", "upload_s3_bucket_path": "/media/",
            "upload_s3_aws_access_key_id": "k", "upload_s3_aws_secret_access_key": "s"}
    public = store_for(settings(**base))
    assert public.key_for("a.png") == "media/a.png"
    assert public.url("media/a.png") == "https://s3.example.org/bkt/media/a.png"
    relative = store_for(settings(**base, upload_s3_public_url="/files"))
    assert relative.url("media/a.png") == "https://news.example.org/files/media/a.png"
    cdn = store_for(settings(**base, upload_s3_public_url="https://cdn.example.org"))
    assert cdn.url("media/a.png") == "https://cdn.example.org/media/a.png"
    private = store_for(settings(**base, upload_s3_bucket_type="private"))
    link = private.url("media/a.png")
    assert link.startswith("https://s3.example.org/bkt/media/a.png?")
    assert "X-Amz-Expires=601200" in link  # 167h: listmonk's default
    assert expiry_seconds("1h") == 3600 and expiry_seconds("") == 601200
    assert expiry_seconds("9999h") == 7 * 24 * 3600 and expiry_seconds("nonsense") == 601200
