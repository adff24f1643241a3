"""``privacy.domain_blocklist`` / ``privacy.domain_allowlist`` through HTTP, as listmonk: the
public sign-up (API and form), subscribers created or changed by the API and imported records.
Settings are global: a postlog of its own (``settings_support.settings_stack``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from kernel.settings import Settings
from tests.integration.settings_support import SettingsStack, put_setting, settings_stack
from tests.integration.subscribers_support import make_list

REFUSED = {"message": "The e-mail domain is blocklisted."}


@pytest.fixture(scope="module")
async def stack(admin_pg_url: str, settings: Settings) -> AsyncIterator[SettingsStack]:
    async with settings_stack(admin_pg_url, settings) as own:
        yield own


async def _lists(stack: SettingsStack) -> tuple[int, str]:
    async with stack.client() as api:
        listed = await make_list(api, type="public", optin="single")
    return int(listed["id"]), str(listed["uuid"])


async def test_blocklist_refuses_public_and_admin_sign_ups(stack: SettingsStack) -> None:
    await put_setting(stack, "privacy.domain_allowlist", [])
    await put_setting(stack, "privacy.domain_blocklist", ["spam.test", "*.junk.test"])
    list_id, list_uuid = await _lists(stack)
    async with stack.client(anonymous=True) as anon:
        public = await anon.post("/api/public/subscription",
                                 json={"email": "a@spam.test", "list_uuids": [list_uuid]})
        wildcard = await anon.post("/api/public/subscription",
                                   json={"email": "a@mx.junk.test", "list_uuids": [list_uuid]})
        bare = await anon.post("/api/public/subscription",
                               json={"email": "b@junk.test", "list_uuids": [list_uuid]})
        form = await anon.post("/subscription/form",
                               data={"email": "c@SPAM.test", "l": [list_uuid]})
        fine = await anon.post("/api/public/subscription",
                               json={"email": "d@good.test", "list_uuids": [list_uuid]})
    assert (public.status_code, public.json()) == (400, REFUSED)
    assert (wildcard.status_code, wildcard.json()) == (400, REFUSED)
    assert (bare.status_code, bare.json()) == (400, REFUSED)
    assert form.status_code == 400 and "blocklisted" in form.text
    assert fine.status_code == 200
    async with stack.client() as api:
        created = await api.post("/api/subscribers", json={"email": "e@spam.test",
                                                           "name": "E", "lists": [list_id]})
        ok = await api.post("/api/subscribers", json={"email": "f@good.test", "name": "F"})
        assert ok.status_code == 200
        moved = await api.put(f"/api/subscribers/{ok.json()['data']['id']}",
                              json={"email": "f@spam.test", "name": "F"})
        patched = await api.patch(f"/api/subscribers/{ok.json()['data']['id']}",
                                  json={"email": "f@x.junk.test"})
    assert (created.status_code, created.json()) == (400, REFUSED)
    assert (moved.status_code, moved.json()) == (400, REFUSED)
    assert (patched.status_code, patched.json()) == (400, REFUSED)
    rows = await stack.rows("SELECT count(*) FROM readmodel.subscribers WHERE email LIKE %s",
                            "%spam.test")
    assert rows == [(0,)]


async def test_allowlist_accepts_only_its_domains(stack: SettingsStack) -> None:
    await put_setting(stack, "privacy.domain_blocklist", ["allowed.test"])  # not consulted
    await put_setting(stack, "privacy.domain_allowlist", ["allowed.test", "*.corp.test"])
    _, list_uuid = await _lists(stack)
    async with stack.client(anonymous=True) as anon:
        results = {email: (await anon.post("/api/public/subscription", json={
            "email": email, "list_uuids": [list_uuid]})).status_code
            for email in ("a@allowed.test", "b@eu.corp.test", "c@corp.test", "d@other.test",
                          "e@sub.allowed.test")}
    assert results == {"a@allowed.test": 200, "b@eu.corp.test": 200, "c@corp.test": 200,
                       "d@other.test": 400, "e@sub.allowed.test": 400}


async def test_imports_skip_refused_domains(stack: SettingsStack) -> None:
    await put_setting(stack, "privacy.domain_allowlist", [])
    await put_setting(stack, "privacy.domain_blocklist", ["blocked.test"])
    list_id, _ = await _lists(stack)
    csv = "email,name\nkeep@fine.test,Keep\ndrop@blocked.test,Drop\n"
    async with stack.client() as api:
        response = await api.post(
            "/api/import/subscribers",
            data={"params": json.dumps({"mode": "subscribe", "delim": ",", "lists": [list_id]})},
            files={"file": ("people.csv", csv.encode(), "text/csv")})
        assert response.status_code == 200, response.text
        deadline = asyncio.get_running_loop().time() + 20
        while (status := (await api.get("/api/import/subscribers")).json()["data"])[
                "status"] not in ("finished", "failed"):
            assert asyncio.get_running_loop().time() < deadline, status
            await asyncio.sleep(0.05)
        logs = (await api.get("/api/import/subscribers/logs")).json()["data"]
    assert status["status"] == "finished" and status["imported"] == 1
    assert "The e-mail domain is blocklisted." in logs
    query = "SELECT email FROM readmodel.subscribers WHERE email IN (%s, %s)"
    deadline = asyncio.get_running_loop().time() + 20
    while (rows := await stack.rows(query, "keep@fine.test", "drop@blocked.test")) == []:
        assert asyncio.get_running_loop().time() < deadline, "the import was never projected"
        await asyncio.sleep(0.05)
    assert rows == [("keep@fine.test",)]
