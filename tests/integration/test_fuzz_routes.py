"""A bounded fuzz run over every route of the app: no input, with or without credentials, gets
a 5xx, and nothing the API accepts stalls a projection or the relay.

Every route the app registers is fuzzed (a new route is picked up without editing this file),
with request bodies shaped like the listmonk fields each command binds (``ROUTE_FIELDS``) and
every value sometimes swapped for hostile text (NUL, line separators, over-long, template
syntax), a value of the wrong JSON type, or a malformed body (bad JSON, invalid UTF-8, deep
nesting). Path parameters are real ids and uuids or junk; query strings are junk too.

The run has its own database and NATS prefix, so whatever it creates or deletes stays out of
the other tests. Examples per route: ``POSTLOG_FUZZ_EXAMPLES`` (default 25, about 15 s on
two cores); raise it for a soak run, e.g. ``POSTLOG_FUZZ_EXAMPLES=500 .venv/bin/pytest
tests/integration/test_fuzz_routes.py``. Hypothesis prints the failing request to reproduce.
"""

from __future__ import annotations

import json
import os
import re
import urllib.parse
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar import Litestar
from litestar.testing import AsyncTestClient

from events.store import head_position
from kernel.nats import connect, ensure_stream
from kernel.settings import Settings
from postlog.app import create_app
from postlog.migrate import migrate
from postlog.supervisor import background_services
from projections.registry import ensure_read_models
from projections.waiter import ProjectionWaiter
from services.command_api.templates.seed import ensure_default_templates
from services.runtime import Runtime, open_runtime
from tests import servers

EXAMPLES = int(os.environ.get("POSTLOG_FUZZ_EXAMPLES", "25"))
# /api/events is an endless stream of server-sent events (its query string is only `type`;
# tests/integration/test_server_info.py reads it as a stream).
SKIPPED_ROUTES = frozenset({"/metrics", "/health", "/api/health", "/api/events"})

# --- values ------------------------------------------------------------------------------------

HOSTILE_TEXT = [
    "", " ", "\x00", "a\x00b", "\u2028", "x\x85y", "\x0b\x0c\x1c", "Eve\x0bBcc: a@evil", "\t",
    "\r\n", "'; DROP TABLE subscribers; --", "{{ .Subscriber.Name }}", "{{", "{{ template \"x\" }}",
    "%00", "x" * 3000, "é" * 1500, "\U0010ffff", "null", "0", "-1", "99999999999999999999",
    "<script>alert(1)</script>", "a@b.co", "ADMIN@EXAMPLE.COM", "subscribers.id > 0",
    "subscribers.name ~ '(a+)+$'", "pg_sleep(10)", "1e400", "[]", "{}", "../../etc/passwd",
    "richtext", "public", "double", "running", "tx", "campaign", "blocklisted", "unsubscribed",
]
texts = st.one_of(
    st.sampled_from(HOSTILE_TEXT),
    st.text(max_size=30),
    st.text(st.characters(max_codepoint=0x206F, exclude_categories=("Cs",)), max_size=12),
)
ints = st.one_of(st.integers(-3, 50), st.sampled_from([0, -1, 2**31, 2**63 - 1, 2**63, 2**70]))
json_values = st.recursive(
    st.none() | st.booleans() | ints | st.floats(allow_nan=False, allow_infinity=False) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=12,
)


def future() -> str:
    return (datetime.now(UTC) + timedelta(days=1)).isoformat()


KINDS: dict[str, st.SearchStrategy[Any]] = {
    "text": texts,
    "email": st.one_of(st.emails().map(str), texts),
    "int": ints,
    "ids": st.lists(ints, max_size=4),
    "bool": st.booleans(),
    "json": st.one_of(st.dictionaries(texts, json_values, max_size=4), json_values),
    "strings": st.lists(texts, max_size=4),
    "headers": st.lists(st.dictionaries(texts, texts, max_size=2), max_size=3),
    "datetime": st.one_of(st.builds(future), st.just("2001-01-01T00:00:00Z"), texts),
}


def enum(*values: str) -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(values), texts)


def kind(name: str) -> st.SearchStrategy[Any]:
    """A field's values: mostly of its kind, sometimes any JSON value (a wrong type)."""
    return st.one_of(KINDS[name], KINDS[name], json_values)


LIST = {"name": kind("text"), "type": enum("public", "private", "temporary"),
        "optin": enum("single", "double"), "status": enum("active", "archived"),
        "tags": kind("strings"), "description": kind("text")}
SUBSCRIBER = {"email": kind("email"), "name": kind("text"),
              "status": enum("enabled", "disabled", "blocklisted"), "lists": kind("ids"),
              "attribs": kind("json"), "preconfirm_subscriptions": kind("bool")}
BULK = {"ids": kind("ids"), "action": enum("add", "remove", "unsubscribe"),
        "target_list_ids": kind("ids"), "status": enum("confirmed", "unconfirmed", "unsubscribed"),
        "query": kind("text"), "list_ids": kind("ids"), "search": kind("text"), "all": kind("bool"),
        "subscription_status": kind("text")}
TEMPLATE = {"name": kind("text"), "type": enum("campaign", "campaign_visual", "tx"),
            "subject": kind("text"), "body": kind("text"), "body_source": kind("text"),
            "template_type": kind("text")}
CAMPAIGN = {"name": kind("text"), "subject": kind("text"), "from_email": kind("email"),
            "body": kind("text"), "altbody": kind("text"), "body_source": kind("text"),
            "content_type": enum("richtext", "html", "markdown", "plain", "visual"),
            "send_at": kind("datetime"), "headers": kind("headers"), "attribs": kind("json"),
            "tags": kind("strings"), "messenger": enum("email", "postback"),
            "archive": kind("bool"), "archive_slug": kind("text"),
            "archive_template_id": kind("int"), "archive_meta": kind("json"),
            "type": enum("regular", "optin"), "lists": kind("ids"), "template_id": kind("int"),
            "status": enum("scheduled", "running", "paused", "cancelled", "draft"),
            "subscribers": kind("strings")}
TX = {"subscriber_emails": kind("strings"), "subscriber_ids": kind("ids"),
      "subscriber_email": kind("email"), "subscriber_id": kind("int"),
      "subscriber_mode": enum("default", "fallback", "external"), "template_id": kind("int"),
      "data": kind("json"), "from_email": kind("email"), "headers": kind("headers"),
      "content_type": enum("html", "plain", "markdown"), "messenger": enum("email"),
      "subject": kind("text"), "altbody": kind("text")}
SMTP_SERVER = {"name": kind("text"), "uuid": enum("", str(uuid.uuid4())), "enabled": kind("bool"),
               "host": st.one_of(st.sampled_from(["127.0.0.1", "localhost", ""]), texts),
               # closed ports: a test send is refused at once, never waits on a real service
               "port": st.one_of(st.sampled_from([1, 9, 0, 70000]), st.just("25")),
               "auth_protocol": enum("none", "login", "cram", "plain"),
               "username": kind("text"), "password": enum("\u2022" * 8, "", "secret"),
               "email_headers": kind("headers"), "max_conns": kind("int"),
               "max_msg_retries": kind("int"), "msg_retry_delay": enum("10ms", "1s", "x"),
               "idle_timeout": enum("15s", "0", "1d"), "wait_timeout": enum("5s", "-1s"),
               "tls_type": enum("none", "STARTTLS", "TLS"), "tls_skip_verify": kind("bool"),
               "from_addresses": kind("strings")}
SMTP_TEST = {**SMTP_SERVER, "email": kind("email")}
SETTINGS = {"app.site_name": kind("text"), "app.root_url": kind("text"),
            "app.from_email": kind("email"), "app.notify_emails": kind("strings"),
            "app.concurrency": kind("int"), "app.message_rate": kind("int"),
            "app.batch_size": kind("int"), "app.max_send_errors": kind("int"),
            "app.message_sliding_window": kind("bool"),
            "app.message_sliding_window_duration": enum("1h", "30m", "1d", ""),
            "app.cache_slow_queries": kind("bool"),
            "app.cache_slow_queries_interval": enum("0 3 * * *", "@daily", "61 * * * *"),
            "privacy.domain_blocklist": kind("strings"),
            "privacy.individual_tracking": kind("bool"),
            "security.trusted_urls": st.lists(enum("*", "https://example.org", "ftp://x"),
                                              max_size=3),
            "security.oidc": st.fixed_dictionaries({}, optional={
                "enabled": kind("bool"), "client_secret": kind("text"),
                "auto_create_users": kind("bool"), "default_user_role_id": kind("int")}),
            "upload.extensions": kind("strings"),
            "upload.s3.aws_secret_access_key": enum("\u2022" * 4, "", "key"),
            "smtp": st.one_of(st.lists(st.fixed_dictionaries({}, optional=SMTP_SERVER),
                                       max_size=3), json_values),
            "messengers": st.lists(st.fixed_dictionaries({}, optional={
                "name": kind("text"), "enabled": kind("bool"), "password": kind("text"),
                "root_url": enum("https://sms.example.org", ""), "timeout": enum("5s", "x"),
                "max_conns": kind("int")}), max_size=2),
            "bounce.mailboxes": st.lists(st.fixed_dictionaries({}, optional={
                "host": kind("text"), "port": kind("int"), "scan_interval": enum("15m", "1s"),
                "password": kind("text")}), max_size=2),
            "bounce.actions": kind("json"), "maintenance.db": kind("json"),
            "appearance.admin.custom_css": kind("text")}
PUBLIC = {"email": kind("email"), "name": kind("text"), "list_uuids": kind("strings"),
          "l": kind("strings"), "nonce": kind("text"), "manage": kind("bool"),
          "blocklist": kind("bool")}

# Which fields a route's body may carry, by the first path segments after /api/.
ROUTE_FIELDS: list[tuple[str, dict[str, st.SearchStrategy[Any]]]] = [
    ("/api/lists", LIST),
    ("/api/subscribers/query", BULK),
    ("/api/subscribers/lists", BULK),
    ("/api/subscribers/blocklist", BULK),
    ("/api/subscribers", {**SUBSCRIBER, **BULK}),
    ("/api/templates", TEMPLATE),
    ("/api/campaigns", CAMPAIGN),
    ("/api/tx", TX),
    ("/api/settings/smtp/test", SMTP_TEST),
    ("/api/settings", SETTINGS),
    ("/api/public", PUBLIC),
    ("/subscription", PUBLIC),
]
QUERY = {name: texts for name in (
    "page", "per_page", "query", "order_by", "order", "list_id", "id", "tag", "tags", "status",
    "search", "no_body", "minimal", "subscription_status", "campaign_id", "from", "to", "all",
    "source", "type")}


def fields_of(path: str) -> dict[str, st.SearchStrategy[Any]]:
    for prefix, fields in ROUTE_FIELDS:
        if path.startswith(prefix):
            return fields
    return {name: json_values for name in ("id", "name", "data")}


# --- requests ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Known:
    """Ids and uuids of real resources, so requests reach past the 404s."""

    ids: list[str] = field(default_factory=list)
    uuids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Call:
    method: str
    url: str
    headers: dict[str, str]
    content: bytes | None = None
    files: dict[str, Any] | None = None
    data: dict[str, Any] | None = None

    def describe(self) -> str:
        body = (self.content or b"")[:300]
        return f"{self.method} {self.url} headers={self.headers} body={body!r} data={self.data}"


_PARAM = re.compile(r"\{(\w+):\w+\}")
RAW_BODIES = [b"{", b'{"name": "caf\xe9"}', b"[" * 2000 + b"]" * 2000, b"null", b"[]", b'"x"',
              b"\x00", b'{"name": ' + b"{\"a\": " * 200 + b"1" + b"}" * 200 + b"}"]
CSV_ROWS = st.lists(st.tuples(st.one_of(st.emails().map(str), texts), texts, texts), max_size=4)


def _csv(rows: list[tuple[str, str, str]]) -> bytes:
    lines = ["email,name,attributes"] + [",".join(json.dumps(v) for v in row) for row in rows]
    return "\n".join(lines).encode("utf-8", "surrogatepass")


@st.composite
def calls(draw: st.DrawFn, method: str, template: str, known: Known) -> Call:
    def path_value(name: str) -> str:
        pool = known.uuids if "uuid" in name else known.ids
        value = draw(st.one_of(st.sampled_from(pool), st.sampled_from(pool), texts))
        return urllib.parse.quote(value, safe="") or "x"

    path = _PARAM.sub(lambda m: path_value(m.group(1)), template)
    query = draw(st.dictionaries(st.sampled_from(sorted(QUERY)), texts, max_size=3))
    url = path + ("?" + urllib.parse.urlencode(query) if query else "")
    headers = draw(st.fixed_dictionaries({}, optional={
        "Idempotency-Key": st.text("abcdef0123456789-", min_size=1, max_size=12),
        "X-Request-Id": st.text("abc\t ;:/=-_.", max_size=40)}))
    if method in ("GET", "DELETE"):
        return Call(method, url, headers)
    if template == "/api/import/subscribers":
        params = draw(st.one_of(texts, st.builds(json.dumps, st.fixed_dictionaries({}, optional={
            "mode": enum("subscribe", "blocklist"), "delim": enum(",", ";", "\t", "\x00"),
            "lists": kind("ids"), "subscription_status": texts, "overwrite": kind("bool")}))))
        name = draw(st.one_of(st.just("subs.csv"), st.just("subs.zip"), texts))
        content = draw(st.one_of(CSV_ROWS.map(_csv), st.binary(max_size=64)))
        return Call(method, url, headers, files={"file": (name or "f", content, "text/csv")},
                    data={"params": params})
    fields = fields_of(template)
    body = draw(st.fixed_dictionaries({}, optional=fields))
    how = draw(st.sampled_from(["json", "json", "json", "form", "raw"]))
    if how == "raw":
        return Call(method, url, {**headers, "content-type": "application/json"},
                    content=draw(st.sampled_from(RAW_BODIES)))
    if how == "form":
        form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}
        return Call(method, url, headers, data=form)
    return Call(method, url, {**headers, "content-type": "application/json"},
                content=json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass"))


async def send(client: httpx.AsyncClient, call: Call) -> httpx.Response:
    return await client.request(call.method, call.url, headers=call.headers,
                                content=call.content, files=call.files, data=call.data)


# --- the fuzzed app, with a database and NATS prefix of its own ---------------------------------

@dataclass
class Fuzzed:
    app: Litestar
    runtime: Runtime
    admin: httpx.Auth
    known: Known
    accepted: int = 0


@pytest.fixture(scope="module")
async def fuzzed(admin_pg_url: str, settings: Settings) -> AsyncIterator[Fuzzed]:
    url = servers.create_database(admin_pg_url)
    await migrate(url)
    own = settings.model_copy(update={
        "database_url": url, "nats_prefix": servers.sub_prefix(settings.nats_prefix),
        "read_your_writes_timeout": 10.0})
    nc = await connect(own, "fuzz")
    await ensure_stream(nc.jetstream(), own)
    await ensure_read_models(own)
    try:
        async with open_runtime(own) as runtime, background_services(runtime):
            await ensure_default_templates(runtime.pool)
            app = create_app(runtime)
            async with AsyncTestClient(app):
                assert own.admin_user and own.admin_password
                auth = httpx.BasicAuth(own.admin_user, own.admin_password)
                known = await _seed(app, auth)
                yield Fuzzed(app, runtime, auth, known)
    finally:
        try:
            await nc.jetstream().delete_stream(own.stream_name)
        finally:
            await nc.close()
            servers.drop_database(admin_pg_url, url)


def _client(app: Litestar, auth: httpx.Auth | None) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://fuzz",
                             auth=auth, timeout=60)


async def _seed(app: Litestar, auth: httpx.Auth) -> Known:
    """A list, a subscriber, a tx template and a campaign to aim at."""
    async with _client(app, auth) as api:
        lst = (await api.post("/api/lists", json={"name": "fuzz", "type": "public"})).json()
        sub = (await api.post("/api/subscribers", json={
            "email": "fuzz@example.com", "name": "Fuzz", "lists": [lst["data"]["id"]]})).json()
        tpl = (await api.post("/api/templates", json={
            "name": "fuzz", "type": "tx", "subject": "s", "body": "b"})).json()
        camp = (await api.post("/api/campaigns", json={
            "name": "fuzz", "subject": "s", "lists": [lst["data"]["id"]]})).json()
    ids = [str(x["data"]["id"]) for x in (lst, sub, tpl, camp)] + ["1", "2"]
    uuids = [lst["data"]["uuid"], sub["data"]["uuid"], camp["data"]["uuid"], str(uuid.uuid4())]
    return Known(ids=ids, uuids=uuids)


def _routes() -> list[tuple[str, str]]:
    """Every (method, path) the app serves, from its route table."""
    from litestar.di import Provide

    from services.command_api.routes import command_routes
    from services.query_api.routes import query_routes

    app = Litestar(route_handlers=[*command_routes(), *query_routes()], openapi_config=None,
                   dependencies={"runtime": Provide(lambda: None, sync_to_thread=False)})
    found = {(method, route.path) for route in app.routes
             for handler in getattr(route, "route_handlers", [])
             for method in handler.http_methods if method not in ("OPTIONS", "HEAD")}
    return sorted(r for r in found if r[1] not in SKIPPED_ROUTES)


ROUTES = _routes()


@pytest.mark.parametrize(("method", "template"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
async def test_no_route_answers_5xx(fuzzed: Fuzzed, method: str, template: str,
                                    data: st.DataObject) -> None:
    call = data.draw(calls(method, template, fuzzed.known), label="request")
    anonymous = data.draw(st.booleans(), label="anonymous")
    async with _client(fuzzed.app, None if anonymous else fuzzed.admin) as client:
        response = await send(client, call)
    assert response.status_code < 500 or _honeypot(call, response), (
        f"{response.status_code} {response.text[:300]} for {call.describe()}")
    if response.status_code >= 400 and template.startswith("/api/"):
        assert "message" in response.json(), response.text
    if response.status_code < 300 and call.method != "GET":
        fuzzed.accepted += 1


def _honeypot(call: Call, response: httpx.Response) -> bool:
    """listmonk answers a filled honeypot field of the subscription form with 502 on purpose
    (a bot should think the server is broken); postlog does the same."""
    return (response.status_code == 502 and call.url.startswith("/subscription/form")
            and bool((call.data or {}).get("nonce")))


async def test_after_the_fuzz_every_read_model_and_the_relay_keep_up(fuzzed: Fuzzed) -> None:
    """Whatever the fuzz got accepted, projections and relay reach the head of the log, and
    a normal write is readable when answered."""
    runtime = fuzzed.runtime
    # The fuzz must reach past validation too, or it proves little about what is appended.
    assert fuzzed.accepted >= 20, f"only {fuzzed.accepted} fuzzed commands were accepted"
    async with runtime.pool.connection() as conn:
        head = await head_position(conn)
    waiter = ProjectionWaiter(runtime.pool, 60.0)
    try:
        names = [row[0] for row in await _rows(runtime, "SELECT name FROM"
                                               " readmodel.projection_checkpoints")]
        assert await waiter.wait(head, names), "a projection stopped"
    finally:
        await waiter.close()
    quarantined = await _rows(runtime, "SELECT to_regclass('readmodel.projection_quarantine')")
    if quarantined[0][0] is not None:
        assert await _rows(runtime, "SELECT * FROM readmodel.projection_quarantine") == []
    async with _client(fuzzed.app, fuzzed.admin) as api:
        response = await api.post("/api/lists", json={"name": "after the fuzz"})
        assert response.status_code == 200, response.text
        got = await api.get(f"/api/lists/{response.json()['data']['id']}")
        assert got.json()["data"]["name"] == "after the fuzz"


async def _rows(runtime: Runtime, query: str) -> list[tuple[Any, ...]]:
    async with runtime.pool.connection() as conn:
        cur = await conn.execute(query)
        return list(await cur.fetchall())

