"""The compose topology (one process per service behind nginx) behaves exactly like ``postlog up``.

The same listmonk client session is played against both deployments; every answer must have
the same status code and the same JSON, apart from values that are random or clock-bound
(uuids, timestamps). Integer ids come from sequences in fresh databases, so they must agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import ADMIN, Deployment

pytestmark = pytest.mark.e2e

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
CLOCK_KEYS = {"created_at", "updated_at"}


@dataclass(frozen=True)
class Answer:
    step: str
    status: int
    body: Any


def normalise(value: Any) -> Any:
    """Replace uuids and timestamps (which differ between deployments) with placeholders."""
    if isinstance(value, dict):
        return {
            key: "<timestamp>" if key in CLOCK_KEYS and item else normalise(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [normalise(item) for item in value]
    if isinstance(value, str) and UUID_RE.match(value):
        return "<uuid>"
    return value


class Session:
    """Records every answer of a client session against one deployment."""

    def __init__(self, base_url: str) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=30)
        self.answers: list[Answer] = []

    def call(
        self, step: str, method: str, path: str, *, anonymous: bool = False, **kwargs: Any
    ) -> Any:
        auth = None if anonymous else ADMIN
        response = self.client.request(method, path, auth=auth, **kwargs)
        is_json = response.headers.get("content-type", "").startswith("application/json")
        body = response.json() if is_json and response.content else response.text
        self.answers.append(Answer(step, response.status_code, normalise(body)))
        return body

    def create(self, step: str, path: str, payload: dict[str, Any]) -> int:
        """POST a new resource and return its id; the rest of the session builds on it."""
        body = self.call(step, "POST", path, json=payload)
        answer = self.answers[-1]
        assert answer.status == 200 and isinstance(body, dict), f"{step}: {answer}"
        return int(body["data"]["id"])


def listmonk_session(base_url: str) -> list[Answer]:
    """A client creating, reading, filtering, updating and deleting lists, as listmonk users do."""
    s = Session(base_url)
    with s.client:
        s.call("health", "GET", "/api/health")
        s.call("health without credentials", "GET", "/api/health", anonymous=True)
        s.call(
            "create without credentials",
            "POST",
            "/api/lists",
            anonymous=True,
            json={"name": "Sneaky", "type": "public", "optin": "single"},
        )
        news = s.create(
            "create public list",
            "/api/lists",
            {
                "name": "Newsletter",
                "type": "public",
                "optin": "single",
                "tags": ["news", "weekly"],
                "description": "Weekly news",
            },
        )
        beta = s.create(
            "create private double opt-in list",
            "/api/lists",
            {"name": "Beta testers", "type": "private", "optin": "double", "tags": ["beta"]},
        )
        promo = s.create(
            "create another public list",
            "/api/lists",
            {"name": "Spring promo", "type": "public", "optin": "single"},
        )
        s.call(
            "create with an invalid type",
            "POST",
            "/api/lists",
            json={"name": "Broken", "type": "nonsense", "optin": "single"},
        )
        s.call("get one list", "GET", f"/api/lists/{news}")
        s.call("get a missing list", "GET", "/api/lists/987654")
        s.call("list all", "GET", "/api/lists")
        s.call("filter by tag", "GET", "/api/lists", params={"tag": "beta"})
        s.call("search by name", "GET", "/api/lists", params={"query": "news"})
        s.call("filter by type", "GET", "/api/lists", params={"type": "public"})
        s.call("second page", "GET", "/api/lists", params={"per_page": 1, "page": 2})
        s.call("minimal list", "GET", "/api/lists", params={"minimal": "true", "per_page": "all"})
        s.call("list without credentials", "GET", "/api/lists", anonymous=True)
        s.call("public lists", "GET", "/api/public/lists", anonymous=True)
        s.call(
            "update a list",
            "PUT",
            f"/api/lists/{news}",
            json={
                "name": "Weekly newsletter",
                "type": "public",
                "optin": "single",
                "tags": ["news"],
                "description": "",
            },
        )
        s.call("read the update", "GET", f"/api/lists/{news}")
        s.call(
            "update a missing list",
            "PUT",
            "/api/lists/987654",
            json={"name": "Ghost", "type": "public", "optin": "single"},
        )
        s.call("delete a list", "DELETE", f"/api/lists/{promo}")
        s.call("get the deleted list", "GET", f"/api/lists/{promo}")
        s.call("delete by id query", "DELETE", "/api/lists", params={"id": beta})
        s.call("list after deletes", "GET", "/api/lists")
        s.call("public lists after deletes", "GET", "/api/public/lists", anonymous=True)
        s.call("metrics", "GET", "/metrics")
    return s.answers


@pytest.fixture(scope="module")
def split_answers(split_deployment: Deployment) -> list[Answer]:
    return listmonk_session(split_deployment.base_url)


@pytest.fixture(scope="module")
def single_answers(single_deployment: Deployment) -> list[Answer]:
    return listmonk_session(single_deployment.base_url)


def by_step(answers: list[Answer]) -> dict[str, Answer]:
    return {answer.step: answer for answer in answers}


def test_split_services_answer_exactly_like_postlog_up(
    split_answers: list[Answer], single_answers: list[Answer]
) -> None:
    split = [a for a in split_answers if a.step != "metrics"]
    single = [a for a in single_answers if a.step != "metrics"]
    for got, expected in zip(split, single, strict=True):
        assert (got.step, got.status, got.body) == (expected.step, expected.status, expected.body)


def test_the_session_sees_its_own_writes(split_answers: list[Answer]) -> None:
    answers = by_step(split_answers)
    assert (answers["health"].status, answers["health"].body) == (200, {"data": True})
    assert answers["health without credentials"].status == 403
    assert answers["create without credentials"].status == 403
    assert answers["list without credentials"].status == 403
    created = answers["create public list"]
    assert created.status == 200
    assert created.body["data"]["name"] == "Newsletter"
    assert answers["get one list"].body["data"]["name"] == "Newsletter"
    assert answers["read the update"].body["data"]["name"] == "Weekly newsletter"
    assert answers["get a missing list"].status == 404
    assert answers["get the deleted list"].status == 404
    remaining = [item["name"] for item in answers["list after deletes"].body["data"]["results"]]
    assert remaining == ["Weekly newsletter"]
    public = [item["name"] for item in answers["public lists after deletes"].body]
    assert public == ["Weekly newsletter"]


def test_gateway_routes_reads_to_the_query_api_and_writes_to_the_command_api(
    split_answers: list[Answer], split_deployment: Deployment
) -> None:
    ports = split_deployment.service_ports
    query, command = f"127.0.0.1:{ports['query-api']}", f"127.0.0.1:{ports['command-api']}"
    routed = [
        line.split()
        for line in (split_deployment.log_dir / "nginx-access.log").read_text().splitlines()
    ]
    api_lines = [fields for fields in routed if fields[1].startswith("/api/")]
    assert {fields[0] for fields in api_lines} >= {"GET", "POST", "PUT", "DELETE"}
    for method, uri, _status, upstream in api_lines:
        expected = query if method in ("GET", "HEAD") else command
        assert upstream == expected, f"{method} {uri} went to {upstream}"


def test_metrics_stay_behind_the_gateway_but_each_api_serves_its_own(
    split_answers: list[Answer], split_deployment: Deployment
) -> None:
    assert by_step(split_answers)["metrics"].status == 404
    for name in ("command-api", "query-api"):
        port = split_deployment.service_ports[name]
        response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
        assert response.status_code == 200, name


def test_a_disabled_or_deleted_user_is_refused_at_once_by_every_process(
    split_deployment: Deployment,
) -> None:
    """Users change through the command API process; the query API process refuses a disabled
    or deleted user on its very next request (no cache between processes)."""
    with httpx.Client(base_url=split_deployment.base_url, timeout=30, auth=ADMIN) as admin:
        role = admin.post("/api/roles/users", json={"name": "e2e readers",
                                                    "permissions": ["lists:get_all"]})
        assert role.status_code == 200, role.text
        role_id = role.json()["data"]["id"]
        created = admin.post("/api/users", json={"username": "e2e-bot", "type": "api",
                                                 "status": "enabled", "user_role_id": role_id})
        assert created.status_code == 200, created.text
        user = created.json()["data"]
        bot = (user["username"], user["password"])
        assert admin.get("/api/lists", auth=bot).status_code == 200
        assert admin.put(f"/api/users/{user['id']}", json={
            "username": "e2e-bot", "type": "api", "status": "disabled",
            "user_role_id": role_id}).status_code == 200
        assert admin.get("/api/lists", auth=bot).status_code == 403
        assert admin.post("/api/lists", json={"name": "x"}, auth=bot).status_code == 403
        assert admin.put(f"/api/users/{user['id']}", json={
            "username": "e2e-bot", "type": "api", "status": "enabled",
            "user_role_id": role_id}).status_code == 200
        assert admin.get("/api/lists", auth=bot).status_code == 200
        assert admin.delete(f"/api/users/{user['id']}").json() == {"data": True}
        refused = admin.get("/api/lists", auth=bot)
        assert (refused.status_code, refused.json()) == (
            403, {"message": "invalid API credentials"})


def test_every_process_stops_cleanly_within_the_compose_grace_period(
    split_answers: list[Answer],
    single_answers: list[Answer],
    split_deployment: Deployment,
    single_deployment: Deployment,
) -> None:
    """Runs last in this module: it stops both deployments (their fixtures then find nothing).

    ``docker compose stop`` sends SIGTERM and SIGKILLs after 10 s; every process must exit 0
    before that, so in-flight work is finished rather than cut off.
    """
    codes = {
        **split_deployment.processes.terminate(grace=10.0),
        **single_deployment.processes.terminate(grace=10.0),
    }
    assert codes == dict.fromkeys(codes, 0)
