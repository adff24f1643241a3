"""The public form's altcha captcha (``security.captcha``) through HTTP: the form carries a
signed challenge, a solved one subscribes (once), a missing, forged or replayed one is refused.
Settings are global: a postlog of its own (``settings_support.settings_stack``)."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator
from html import unescape
from typing import Any

import pytest
from altcha import v1 as altcha_v1

from kernel.settings import Settings
from tests.integration.settings_support import SettingsStack, settings_stack
from tests.integration.subscribers_support import make_list, unique_email

COMPLEXITY = 2000  # small: the test solves it


@pytest.fixture(scope="module")
async def stack(admin_pg_url: str, settings: Settings) -> AsyncIterator[SettingsStack]:
    async with settings_stack(admin_pg_url, settings) as own:
        async with own.client() as api:
            response = await api.put("/api/settings/security.captcha", json={
                "altcha": {"enabled": True, "complexity": COMPLEXITY},
                "hcaptcha": {"enabled": False, "key": "", "secret": ""}})
            assert response.status_code == 200, response.text
        assert await own.runtime.live_settings.wait_for(
            lambda s: s.security_captcha.altcha.enabled, 10)
        yield own


def solve(challenge: dict[str, Any], *, number: int | None = None) -> str:
    """What the page's script puts in the ``altcha`` field."""
    if number is None:
        solution = altcha_v1.solve_challenge(challenge["challenge"], challenge["salt"],
                                             challenge["algorithm"], challenge["maxNumber"], 0)
        assert solution is not None
        number = solution.number
    payload = {"algorithm": challenge["algorithm"], "challenge": challenge["challenge"],
               "number": number, "salt": challenge["salt"], "signature": challenge["signature"]}
    return base64.b64encode(json.dumps(payload).encode()).decode()


async def _form_challenge(stack: SettingsStack) -> tuple[str, dict[str, Any]]:
    async with stack.client() as api:
        listed = await make_list(api, type="public", optin="single")
        page = await api.get("/subscription/form")
    assert page.status_code == 200
    found = re.search(r'name="altcha" value="" data-challenge="([^"]+)"', page.text)
    assert found, "the form has no captcha"
    assert "script-src 'sha256-" in page.headers["content-security-policy"]
    return listed["uuid"], json.loads(unescape(found.group(1)))


async def _subscribe(stack: SettingsStack, list_uuid: str, **extra: str) -> tuple[int, str]:
    email = unique_email("captcha")
    async with stack.client(anonymous=True) as anon:
        response = await anon.post("/subscription/form",
                                   data={"email": email, "l": [list_uuid], **extra})
    return response.status_code, response.text


async def subscribed(stack: SettingsStack) -> int:
    rows = await stack.rows("SELECT count(*) FROM readmodel.subscribers")
    return int(rows[0][0])


async def test_config_names_altcha(stack: SettingsStack) -> None:
    async with stack.client() as api:
        config = (await api.get("/api/config")).json()["data"]["public_subscription"]
    assert config["captcha_enabled"] is True and config["captcha_provider"] == "altcha"
    assert config["altcha_complexity"] == COMPLEXITY


async def test_challenge_endpoint_answers_listmonks_json(stack: SettingsStack) -> None:
    async with stack.client(anonymous=True) as anon:
        response = await anon.get("/api/public/captcha/altcha")
    assert response.status_code == 200
    challenge = response.json()
    assert set(challenge) == {"algorithm", "challenge", "maxNumber", "salt", "signature"}
    assert challenge["maxNumber"] == COMPLEXITY and "expires=" in challenge["salt"]


async def test_a_solved_challenge_subscribes_once(stack: SettingsStack) -> None:
    list_uuid, challenge = await _form_challenge(stack)
    answer = solve(challenge)
    before = await subscribed(stack)
    status, page = await _subscribe(stack, list_uuid, altcha=answer)
    assert status == 200, page
    assert "You are subscribed." in page
    assert await subscribed(stack) == before + 1
    replayed, page = await _subscribe(stack, list_uuid, altcha=answer)
    assert replayed == 400 and "Invalid captcha" in page


async def test_missing_or_forged_answers_are_refused(stack: SettingsStack) -> None:
    list_uuid, challenge = await _form_challenge(stack)
    before = await subscribed(stack)
    solution = altcha_v1.solve_challenge(challenge["challenge"], challenge["salt"],
                                         challenge["algorithm"], challenge["maxNumber"], 0)
    assert solution is not None
    forged_key = altcha_v1.create_challenge(altcha_v1.ChallengeOptions(
        max_number=COMPLEXITY, hmac_key=b"not the server's key"))
    for extra in ({}, {"altcha": ""}, {"altcha": "bm90IGpzb24="},
                  {"altcha": solve(challenge, number=solution.number + 1)},
                  {"altcha": solve(forged_key.to_dict())}):
        status, page = await _subscribe(stack, list_uuid, **extra)
        assert status == 400, extra
        assert "Invalid captcha" in page
    assert await subscribed(stack) == before
