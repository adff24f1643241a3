"""Media through HTTP, as listmonk's ``/api/media``: upload, list, get, serve, thumbnail and
delete on the filesystem provider and on a real S3-protocol server (moto's, in this process);
bad uploads refused with listmonk's status and message shape; files served so that none acts as
a page of postlog's origin.

The upload settings are global, so these tests run on a postlog of their own
(``settings_stack``), each setting the provider it needs.
"""

from __future__ import annotations

import asyncio
import io
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import msgspec
import pytest
from moto.server import ThreadedMotoServer
from PIL import Image

from kernel.settings import Settings
from tests.integration.settings_support import ROOT_URL, SettingsStack, settings_stack

BUCKET = "postlog-media"
MEDIA_KEYS = ["id", "uuid", "filename", "content_type", "created_at", "thumb_url", "provider",
              "meta", "url"]


async def put_settings(stack: SettingsStack, changes: dict[str, Any]) -> None:
    """Change settings with one ``PUT /api/settings`` of the whole object (secrets sent back
    masked, as a client does); return once this process's live settings have them."""
    async with stack.client() as api:
        body = (await api.get("/api/settings")).json()["data"]
        body.update(changes)
        response = await api.put("/api/settings", json=body)
        assert response.status_code == 200, response.text

    def applied(current: Any) -> bool:
        shown = msgspec.to_builtins(current)
        return all(shown[key] == value for key, value in changes.items())

    assert await stack.runtime.live_settings.wait_for(applied, 10)


async def put_setting(stack: SettingsStack, key: str, value: Any) -> None:
    await put_settings(stack, {key: value})


@pytest.fixture(scope="module")
async def stack(admin_pg_url: str, settings: Settings) -> AsyncIterator[SettingsStack]:
    async with settings_stack(admin_pg_url, settings) as built:
        yield built


@pytest.fixture
async def api(stack: SettingsStack) -> AsyncIterator[httpx.AsyncClient]:
    async with stack.client() as client:
        yield client


@pytest.fixture
async def anon(stack: SettingsStack) -> AsyncIterator[httpx.AsyncClient]:
    async with stack.client(anonymous=True) as client:
        yield client


@pytest.fixture
async def uploads(stack: SettingsStack, tmp_path: Path) -> Path:
    """The filesystem provider, storing in a directory of the test's own."""
    directory = tmp_path / "uploads"
    await put_settings(stack, {
        "upload.provider": "filesystem", "upload.filesystem.upload_path": str(directory),
        "upload.filesystem.upload_uri": "/uploads", "upload.max_file_size": 5000,
        "upload.extensions": ["jpg", "jpeg", "png", "gif", "svg", "*"]})
    return directory


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
async def bucket(stack: SettingsStack, s3_server: str) -> Any:
    """The s3 provider on moto's server, a private bucket of the test's own."""
    name = f"{BUCKET}-{uuid.uuid4().hex[:8]}"
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test-secret")
    client.create_bucket(Bucket=name)
    await put_settings(stack, {
        "upload.s3.url": s3_server, "upload.s3.aws_access_key_id": "test",
        "upload.s3.aws_secret_access_key": "test-secret",
        "upload.s3.aws_default_region": "us-east-1", "upload.s3.bucket": name,
        "upload.s3.bucket_path": "/media", "upload.s3.bucket_type": "private",
        "upload.s3.public_url": "", "upload.s3.expiry": "1h", "upload.provider": "s3"})
    return client, name


def png(width: int = 600, height: int = 300, color: tuple[int, int, int] = (200, 30, 30)
        ) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


async def upload(api: httpx.AsyncClient, name: str, content: bytes,
                 content_type: str = "application/octet-stream") -> httpx.Response:
    return await api.post("/api/media", files={"file": (name, content, content_type)})


def stored_names(directory: Path) -> list[str]:
    return sorted(os.listdir(directory)) if os.path.isdir(directory) else []


def path_of(url: str) -> str:
    return httpx.URL(url).raw_path.decode()


async def test_upload_list_get_serve_and_delete_on_the_filesystem(
        api: httpx.AsyncClient, anon: httpx.AsyncClient, uploads: Path) -> None:
    response = await upload(api, "Summer photo.png", png(), "image/png")
    assert response.status_code == 200, response.text
    item = response.json()["data"]
    assert list(item) == MEDIA_KEYS
    assert item["filename"] == "Summer-photo.png"
    assert item["content_type"] == "image/png"
    assert item["provider"] == "filesystem"
    assert item["meta"] == {"width": 600, "height": 300}
    assert item["url"] == f"{ROOT_URL.rstrip('/')}/uploads/Summer-photo.png"
    assert item["thumb_url"] == f"{ROOT_URL.rstrip('/')}/uploads/thumb_Summer-photo.png"
    uuid.UUID(item["uuid"])
    assert (uploads / "Summer-photo.png").read_bytes() == png()

    # served publicly under upload_uri, as an image of its own
    served = await anon.get(path_of(item["url"]))
    assert served.status_code == 200
    assert served.content == png()
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in served.headers["content-security-policy"]
    thumb = await anon.get(path_of(item["thumb_url"]))
    assert thumb.status_code == 200
    assert Image.open(io.BytesIO(thumb.content)).size == (250, 125)

    # the same name again: a suffix, never an overwrite
    again = (await upload(api, "Summer photo.png", png(color=(0, 0, 255)), "image/png")).json()
    second = again["data"]["filename"]
    assert second != "Summer-photo.png"
    assert second.startswith("Summer-photo_") and second.endswith(".png")
    assert (uploads / "Summer-photo.png").read_bytes() == png()

    listed = (await api.get("/api/media", params={"query": "SUMMER", "per_page": 1})).json()
    assert listed["data"]["total"] == 2 and listed["data"]["per_page"] == 1
    assert listed["data"]["page"] == 1
    assert [m["filename"] for m in listed["data"]["results"]] == [second]  # newest first
    assert (await api.get("/api/media", params={"query": "winter"})).json()["data"]["total"] == 0
    got = await api.get(f"/api/media/{item['id']}")
    assert got.json() == {"data": item}

    deleted = await api.delete(f"/api/media/{item['id']}")
    assert deleted.status_code == 200 and deleted.json() == {"data": True}
    assert not (uploads / "Summer-photo.png").exists()
    assert not (uploads / "thumb_Summer-photo.png").exists()
    assert (await api.get(f"/api/media/{item['id']}")).status_code == 404
    assert (await api.get(f"/api/media/{item['id']}")).json() == {"message": "not found"}
    assert (await anon.get(path_of(item["url"]))).status_code == 404
    assert (await api.delete(f"/api/media/{item['id']}")).status_code == 404
    assert (await api.get("/api/media/0")).status_code == 400


async def test_bad_uploads_are_refused_and_nothing_is_stored(
        api: httpx.AsyncClient, uploads: Path, stack: SettingsStack) -> None:
    before = (await api.get("/api/media", params={"per_page": "all"})).json()["data"]["total"]
    cases = [
        ("fake.png", b"<html><script>alert(1)</script></html>", "image/png",
         "Invalid file: the content is an HTML page, which a .png file may not hold"),
        ("fake.jpg", b"just some text, not an image", "image/jpeg",
         "Invalid file: the content of a .jpg file is not a JPEG image"),
        ("page.html", b"<!doctype html><p>hi</p>", "text/html", "Unsupported file type (html)"),
        ("tool.exe", b"MZ\x90\x00\x03" + bytes(200), "application/octet-stream",
         "Unsupported file type (exe)"),
        ("notes.txt", b"MZ\x90\x00\x03" + bytes(200), "text/plain",
         "Invalid file: the content is a program, which a .txt file may not hold"),
        ("../../etc/passwd.png", png(), "image/png",
         "Invalid file: the file name must not contain a path"),
        ("..\\evil.png", png(), "image/png",
         "Invalid file: the file name must not contain a path"),
    ]
    for name, content, content_type, message in cases:
        response = await upload(api, name, content, content_type)
        assert response.status_code == 400, (name, response.text)
        assert response.json() == {"message": message}, name

    await put_setting(stack, "upload.max_file_size", 1)  # KB
    response = await upload(api, "big.png", png() + bytes(1025), "image/png")
    assert response.status_code == 400
    assert response.json() == {
        "message": "Invalid file: the file is larger than upload.max_file_size (1 KB)"}

    await put_settings(stack, {"upload.max_file_size": 5000,
                               "upload.extensions": ["jpg", "png"]})
    response = await upload(api, "doc.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")
    assert response.status_code == 400
    assert response.json() == {"message": "Unsupported file type (pdf)"}
    no_file = await api.post("/api/media", files={"other": ("a.png", png(), "image/png")})
    assert no_file.status_code == 400
    assert no_file.json() == {"message": "Invalid file: http: no such file"}

    after = (await api.get("/api/media", params={"per_page": "all"})).json()["data"]["total"]
    assert after == before
    assert await asyncio.to_thread(stored_names, uploads) == []


async def test_active_content_allowed_by_name_is_served_as_a_download(
        api: httpx.AsyncClient, anon: httpx.AsyncClient, uploads: Path,
        stack: SettingsStack) -> None:
    """An HTML page (allowed only when named in upload.extensions) or an SVG never runs as a
    page of postlog's origin."""
    await put_setting(stack, "upload.extensions", ["png", "svg", "html", "*"])
    page = (await upload(api, "page.html", b"<!doctype html><script>steal()</script>",
                         "text/html")).json()["data"]
    assert page["content_type"] == "text/html" and page["thumb_url"] is None
    assert page["meta"] == {}
    served = await anon.get(path_of(page["url"]))
    assert served.status_code == 200
    assert served.headers["content-disposition"].startswith("attachment;")
    assert "sandbox" in served.headers["content-security-policy"]
    assert served.headers["x-content-type-options"] == "nosniff"

    svg = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>x()</script></svg>'
    drawing = (await upload(api, "logo.svg", svg, "image/svg+xml")).json()["data"]
    assert drawing["content_type"] == "image/svg+xml"
    assert drawing["thumb_url"] == drawing["url"]  # an SVG is its own thumbnail (listmonk)
    served = await anon.get(path_of(drawing["url"]))
    assert served.headers["content-type"] == "image/svg+xml"
    assert "sandbox" in served.headers["content-security-policy"]
    assert "script-src" not in served.headers["content-security-policy"]
    # nothing outside the directory, nor hidden files, is ever served
    (uploads.parent / "secret.txt").write_text("secret")
    for path in ("/uploads/..%2Fsecret.txt", "/uploads/.upload-x", "/uploads/", "/uploads/a/b"):
        assert (await anon.get(path)).status_code == 404, path


async def test_upload_serve_thumbnail_and_delete_on_s3(
        api: httpx.AsyncClient, anon: httpx.AsyncClient, bucket: Any,
        stack: SettingsStack) -> None:
    client, name = bucket
    image = png(500, 500, (10, 200, 10))
    response = await upload(api, "logo.png", image, "image/png")
    assert response.status_code == 200, response.text
    item = response.json()["data"]
    assert list(item) == MEDIA_KEYS
    assert item["provider"] == "s3" and item["filename"] == "logo.png"
    assert item["meta"] == {"width": 500, "height": 500}
    objects = sorted(o["Key"] for o in client.list_objects_v2(Bucket=name)["Contents"])
    assert objects == ["media/logo.png", "media/thumb_logo.png"]
    assert client.get_object(Bucket=name, Key="media/logo.png")["Body"].read() == image

    # a private bucket without a public URL: pre-signed links that work
    assert "X-Amz-Signature=" in item["url"] and "X-Amz-Signature=" in item["thumb_url"]
    async with httpx.AsyncClient() as web:
        fetched = await web.get(item["url"])
        assert fetched.status_code == 200 and fetched.content == image
        thumb = await web.get(item["thumb_url"])
        assert Image.open(io.BytesIO(thumb.content)).size == (250, 250)

    # a public URL relative to the root: served by postlog from the bucket
    await put_setting(stack, "upload.s3.public_url", "/s3media")
    shown = (await api.get(f"/api/media/{item['id']}")).json()["data"]
    assert shown["url"] == f"{ROOT_URL.rstrip('/')}/s3media/media/logo.png"
    served = await anon.get("/s3media/media/logo.png")
    assert served.status_code == 200 and served.content == image
    assert served.headers["content-type"] == "image/png"
    assert "sandbox" in served.headers["content-security-policy"]

    again = (await upload(api, "logo.png", png(20, 20), "image/png")).json()["data"]
    assert again["filename"].startswith("logo_")
    assert client.get_object(Bucket=name, Key="media/logo.png")["Body"].read() == image
    listed = (await api.get("/api/media")).json()["data"]
    assert {m["provider"] for m in listed["results"]} == {"s3"}  # the provider in force only
    assert listed["total"] == 2

    assert (await api.delete(f"/api/media/{item['id']}")).json() == {"data": True}
    left = sorted(o["Key"] for o in client.list_objects_v2(Bucket=name).get("Contents", []))
    assert left == [f"media/{again['filename']}", f"media/thumb_{again['filename']}"]
    assert (await anon.get("/s3media/media/logo.png")).status_code == 404


async def test_a_campaign_keeps_its_media_and_shows_a_deleted_file_with_a_null_id(
        api: httpx.AsyncClient, uploads: Path) -> None:
    first = (await upload(api, "terms.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")).json()
    second = (await upload(api, "price.txt", b"prices", "text/plain")).json()
    one, two = first["data"], second["data"]
    assert one["content_type"] == "application/pdf" and one["thumb_url"] is None
    listed = await api.post("/api/lists", json={"name": "media list"})
    list_id = listed.json()["data"]["id"]
    created = await api.post("/api/campaigns", json={
        "name": "With files", "subject": "Files", "lists": [list_id], "body": "<p>hi</p>",
        "media": [one["id"], 999999, two["id"]]})
    assert created.status_code == 200, created.text
    campaign = created.json()["data"]
    assert campaign["media"] == [{"id": one["id"], "filename": "terms.pdf"},
                                 {"id": two["id"], "filename": "price.txt"}]
    # a PUT without media keeps them
    kept = await api.put(f"/api/campaigns/{campaign['id']}",
                         json={"name": "Renamed", "lists": [list_id]})
    assert kept.json()["data"]["media"] == campaign["media"]
    assert (await api.delete(f"/api/media/{one['id']}")).status_code == 200
    shown = (await api.get(f"/api/campaigns/{campaign['id']}")).json()["data"]
    assert shown["media"] == [{"id": None, "filename": "terms.pdf"},
                              {"id": two["id"], "filename": "price.txt"}]
    cleared = await api.put(f"/api/campaigns/{campaign['id']}",
                            json={"media": [], "lists": [list_id]})
    assert cleared.json()["data"]["media"] == []
