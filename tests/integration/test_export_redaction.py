"""Personal data in ``postlog events export``: readable for live subscribers, ``[erased]`` for
erased ones, and an erased subscriber's e-mail appears nowhere in the output.
"""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg

from kernel.settings import Settings
from postlog.export import ExportFilter, export_events
from services.runtime import Runtime
from tests.integration.bounces_support import record_bounce
from tests.integration.subscribers_support import create, unique_email
from tests.integration.test_cli import cli_env, run_cli


async def export_text(settings: Settings, stream: str | None = None) -> str:
    out = io.BytesIO()
    assert settings.database_url
    async with await psycopg.AsyncConnection.connect(settings.database_url,
                                                     autocommit=True) as conn:
        await export_events(conn, out, ExportFilter(stream=stream))
    return out.getvalue().decode()


def records(text: str, stream: str) -> list[dict[str, Any]]:
    found = [json.loads(line) for line in text.splitlines()]
    return [r for r in found if r["stream_id"] == stream]


async def test_live_subscribers_export_readable(
    api: httpx.AsyncClient, runtime: Runtime, settings: Settings
) -> None:
    email = unique_email("ada")
    sub = await create(api, email=email, name="Ada Lovelace", attribs={"city": "London"})
    response = await api.patch(f"/api/subscribers/{sub['id']}", json={"name": "Ada King"})
    assert response.status_code == 200
    await record_bounce(runtime, sub["id"])
    stream = f"subscriber-{sub['id']}"
    created, updated, bounce = records(await export_text(settings, stream), stream)
    assert (created["type"], updated["type"], bounce["type"]) == (
        "subscriber.created", "subscriber.updated", "subscriber.bounce_recorded")
    assert {k: created["data"][k] for k in ("email", "name", "attribs", "status")} == {
        "email": email, "name": "Ada Lovelace", "attribs": {"city": "London"},
        "status": "enabled"}
    assert (updated["data"]["email"], updated["data"]["name"]) == (email, "Ada King")
    assert bounce["data"]["meta"] == {"some": "parameter"}


async def test_an_export_after_a_delete_shows_the_events_with_personal_data_erased(
    api: httpx.AsyncClient, runtime: Runtime, settings: Settings, tmp_path: Path
) -> None:
    email = unique_email("grace")
    name = f"Grace {uuid.uuid4().hex[:8]}"
    sub = await create(api, email=email, name=name, attribs={"city": "Arlington"})
    await record_bounce(runtime, sub["id"])
    kept = await create(api, name="Still Here")
    response = await api.post("/api/subscribers/query/delete",
                              json={"query": f"subscribers.id = {sub['id']}"})
    assert response.json() == {"data": True}

    stream = f"subscriber-{sub['id']}"
    text = await export_text(settings)  # the whole log
    assert email not in text and name not in text and "Arlington" not in text
    created, bounce, deleted = records(text, stream)
    assert (created["type"], bounce["type"], deleted["type"]) == (
        "subscriber.created", "subscriber.bounce_recorded", "subscriber.deleted")
    assert {k: created["data"][k] for k in ("email", "name", "attribs", "uuid")} == {
        "email": "[erased]", "name": "[erased]", "attribs": "[erased]", "uuid": sub["uuid"]}
    assert bounce["data"]["meta"] == "[erased]"
    [other] = [r for r in records(text, f"subscriber-{kept['id']}")
               if r["type"] == "subscriber.created"]
    assert other["data"]["name"] == "Still Here"

    # The command a user runs gives the same.
    assert settings.database_url
    done = run_cli("events", "export", "--stream", stream, cwd=tmp_path,
                   env=cli_env(database_url=settings.database_url,
                               data_dir=str(tmp_path / "data")))
    assert done.returncode == 0, done.stderr
    assert email not in done.stdout
    assert [r["data"].get("email") for r in records(done.stdout, stream)] == [
        "[erased]", None, None]
