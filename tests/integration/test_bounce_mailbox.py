"""The bounce mailbox scanner against real POP3 and IMAP servers in the test process
(tests/mail_servers.py), plain, over TLS and with STARTTLS: the recorder gets the right
reports, recorded messages are deleted and the others kept, a second scan records nothing new,
wrong credentials are logged and retried an interval later, one process scans at a time."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pytest
from structlog.testing import capture_logs

from events.settings import AppSettings, BounceMailbox, default_settings
from services.runtime import Runtime
from services.sender.bounce_mailbox import MailboxBounce, MailboxScanner, ScanResult
from services.sender.bounce_mailbox.clients import TlsFactory, tls_context
from services.sender.bounce_mailbox.parse import read_bounce
from tests.integration.sender_support import until
from tests.mail_servers import (
    PASSWORD,
    USER,
    Certificate,
    MailServer,
    MailStore,
    Original,
    arf_complaint,
    exim_bounce,
    gmail_bounce,
    not_a_bounce,
    postfix_bounce,
    self_signed,
    start_imap_server,
    start_pop3_server,
)

CAMPAIGN = "6f1d2e3a-1111-4222-8333-944455556666"
ANN = Original(CAMPAIGN, "0a0b0c0d-aaaa-4bbb-8ccc-000000000001", "ann@example.org")
BOB = Original(CAMPAIGN, "0a0b0c0d-aaaa-4bbb-8ccc-000000000002", "bob@example.org")
CID = Original(CAMPAIGN, "0a0b0c0d-aaaa-4bbb-8ccc-000000000003", "cid@example.org")
DEE = Original(CAMPAIGN, "0a0b0c0d-aaaa-4bbb-8ccc-000000000004", "dee@example.org")
INTERVAL = 60.0  # scan_interval "1m", listmonk's minimum


@dataclass
class Recorder:
    """The injected ``RecordBounces``: keeps what it is given, fails for ``failing`` keys."""

    got: list[MailboxBounce] = field(default_factory=list)
    failing: set[str] = field(default_factory=set)
    calls: int = 0

    async def __call__(self, bounces: Sequence[MailboxBounce]) -> int:
        self.calls += 1
        if any(b.key in self.failing for b in bounces):
            raise RuntimeError("database unavailable")
        self.got.extend(bounces)
        return len(bounces)

    def by_subscriber(self) -> dict[str, tuple[str, str, str]]:
        return {b.subscriber_uuid: (b.kind, b.campaign_uuid, b.source) for b in self.got}


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class LiveConfig:
    """The settings source: what ``LiveSettings.get`` gives, changed by the test."""

    settings: AppSettings

    async def __call__(self) -> AppSettings:
        return self.settings

    def mailboxes(self, *boxes: BounceMailbox, enabled: bool = True) -> None:
        self.settings = msgspec.structs.replace(
            self.settings, bounce_enabled=enabled, bounce_mailboxes=list(boxes))


def mailbox(server: MailServer, kind: str, **fields: Any) -> BounceMailbox:
    values: dict[str, Any] = {
        "uuid": f"mb-{kind}-{server.port}", "enabled": True, "type": kind,
        "host": server.host, "port": server.port, "auth_protocol": "userpass",
        "username": USER, "password": PASSWORD, "tls_enabled": False,
        "scan_interval": "1m"}
    values.update(fields)
    return BounceMailbox(**values)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return self_signed(Path(tmp_path_factory.mktemp("mail-tls")))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def config() -> LiveConfig:
    return LiveConfig(default_settings())


def scanner_for(runtime: Runtime, config: LiveConfig, recorder: Recorder, clock: Clock,
                tls: TlsFactory = tls_context, **kwargs: Any) -> MailboxScanner:
    """A scanner as a sender process runs it (its own advisory-lock key per test, so the
    tests of a session never wait on each other)."""
    kwargs.setdefault("lock_key", random.randrange(1, 2**62))
    return MailboxScanner(runtime.pool, config, recorder, clock=clock, timeout=10.0, tls=tls,
                          **kwargs)


def trusting(certificate: Certificate) -> TlsFactory:
    context = certificate.client_trust()
    return lambda box: context


@asynccontextmanager
async def serve(kind: str, transport: str, store: MailStore, certificate: Certificate,
                **kwargs: Any) -> AsyncIterator[tuple[MailServer, dict[str, Any]]]:
    """A POP3 or IMAP server over ``plain`` TCP, ``tls`` or ``starttls``, and the mailbox
    fields that reach it."""
    start = start_pop3_server if kind == "pop" else start_imap_server
    context = certificate.server_context()
    if transport == "tls":
        server_cm, fields = start(store, tls=context, **kwargs), {"tls_enabled": True}
    elif transport == "starttls":
        server_cm = start(store, starttls=context, **kwargs)
        fields = {"tls_enabled": True, "starttls": True}
    else:
        server_cm, fields = start(store, **kwargs), {"tls_enabled": False}
    async with server_cm as server:
        yield server, fields


def fill(store: MailStore) -> None:
    store.add(postfix_bounce(ANN))  # hard, 5.1.1
    store.add(postfix_bounce(BOB, status="4.2.2", action="delayed",
                             message_id="<delay.bob@mx.postlog.example>"))  # soft
    store.add(gmail_bounce(CID))  # hard
    store.add(arf_complaint(DEE))  # complaint
    store.add(not_a_bounce())  # no bounce of ours


EXPECTED = {
    ANN.subscriber_uuid: ("hard", CAMPAIGN),
    BOB.subscriber_uuid: ("soft", CAMPAIGN),
    CID.subscriber_uuid: ("hard", CAMPAIGN),
    DEE.subscriber_uuid: ("complaint", CAMPAIGN),
}


def expected(source: str) -> dict[str, tuple[str, str, str]]:
    return {sub: (kind, campaign, source) for sub, (kind, campaign) in EXPECTED.items()}


@pytest.mark.parametrize(("kind", "transport", "auth"), [
    ("pop", "plain", "userpass"), ("pop", "tls", "userpass"), ("pop", "starttls", "login"),
    ("imap", "plain", "userpass"), ("imap", "tls", "plain"), ("imap", "starttls", "login"),
])
async def test_each_bounce_is_reported_and_its_message_deleted(
        runtime: Runtime, certificate: Certificate, config: LiveConfig, recorder: Recorder,
        clock: Clock, kind: str, transport: str, auth: str) -> None:
    store = MailStore()
    fill(store)
    async with serve(kind, transport, store, certificate) as (server, fields):
        config.mailboxes(mailbox(server, kind, auth_protocol=auth, **fields))
        scanner = scanner_for(runtime, config, recorder, clock, trusting(certificate))
        results = await scanner.scan_due()
        name = f"{kind}://127.0.0.1:{server.port}"
        assert results == [ScanResult(mailbox=name, read=5, recorded=4, ignored=1, deleted=5,
                                      kept=0)]
        assert recorder.by_subscriber() == expected(kind)
        assert len({b.key for b in recorder.got}) == 4
        assert all(b.email == "" for b in recorder.got)  # the uuid names them
        assert all(b.meta["message_id"] and b.created_at for b in recorder.got)
        assert store.messages == {}
        assert store.logins == 1

        # the next scan, an interval later, reports only what arrived since
        store.add(exim_bounce(ANN))
        assert await scanner.scan_due() == []  # not due yet
        clock.now += INTERVAL
        results = await scanner.scan_due()
        assert results == [ScanResult(mailbox=name, read=1, recorded=1, deleted=1)]
        assert [(b.subscriber_uuid, b.kind) for b in recorder.got[4:]] == [
            (ANN.subscriber_uuid, "hard")]
        assert store.messages == {}


@pytest.mark.parametrize("kind", ["pop", "imap"])
async def test_a_message_whose_bounce_was_not_recorded_stays_for_the_next_scan(
        runtime: Runtime, certificate: Certificate, config: LiveConfig, recorder: Recorder,
        clock: Clock, kind: str) -> None:
    store = MailStore()
    fill(store)
    bob = next(uid for uid, raw in store.messages.items() if b"delay.bob" in raw)
    recorder.failing = {read_bounce(store.messages[bob]).key}
    async with serve(kind, "plain", store, certificate) as (server, fields):
        config.mailboxes(mailbox(server, kind, **fields))
        scanner = scanner_for(runtime, config, recorder, clock)
        with capture_logs() as logs:
            [result] = await scanner.scan_due() or []
        assert (result.read, result.recorded, result.deleted, result.kept) == (5, 3, 4, 1)
        assert list(store.messages) == [bob]
        assert BOB.subscriber_uuid not in recorder.by_subscriber()
        failed = [e for e in logs if e["event"] == "bounce_mailbox_record_failed"]
        assert [e["key"] for e in failed] == sorted(recorder.failing)

        recorder.failing = set()
        clock.now += INTERVAL
        [result] = await scanner.scan_due() or []
        assert (result.read, result.recorded, result.deleted, result.kept) == (1, 1, 1, 0)
        assert recorder.by_subscriber() == expected(kind)
        assert store.messages == {}


async def test_a_crash_before_deleting_reads_the_messages_again_with_the_same_keys(
        runtime: Runtime, certificate: Certificate, config: LiveConfig, recorder: Recorder,
        clock: Clock) -> None:
    """POP3 deletes at QUIT: a connection lost before it deletes nothing. The messages are
    read again, each with the key it had, so the recorder can record each once; the process
    that recorded them deletes them without handing them on again."""
    store = MailStore(commit_on_quit=False)
    fill(store)
    async with serve("pop", "plain", store, certificate) as (server, fields):
        config.mailboxes(mailbox(server, "pop", **fields))
        first = scanner_for(runtime, config, recorder, clock)
        await first.scan_due()
        keys = sorted(b.key for b in recorder.got)
        assert len(keys) == 4 and len(store.messages) == 5  # recorded, nothing deleted

        another = Recorder()  # another process (nothing remembered) after the crash
        await scanner_for(runtime, config, another, Clock()).scan_due()
        assert sorted(b.key for b in another.got) == keys

        store.commit_on_quit = True
        clock.now += INTERVAL
        [result] = await first.scan_due() or []
        assert (result.read, result.recorded, result.deleted) == (5, 0, 5)
        assert (recorder.calls, len(recorder.got)) == (4, 4)  # nothing handed on again
        assert store.messages == {}


@pytest.mark.parametrize("kind", ["pop", "imap"])
async def test_wrong_credentials_are_logged_and_tried_again_an_interval_later(
        runtime: Runtime, certificate: Certificate, config: LiveConfig, recorder: Recorder,
        clock: Clock, kind: str) -> None:
    store = MailStore()
    fill(store)
    async with serve(kind, "plain", store, certificate) as (server, fields):
        wrong = mailbox(server, kind, password="not-the-password", **fields)
        config.mailboxes(wrong)
        scanner = scanner_for(runtime, config, recorder, clock)
        with capture_logs() as logs:
            [result] = await scanner.scan_due() or []
        assert result.error and result.read == 0
        failed = [e for e in logs if e["event"] == "bounce_mailbox_scan_failed"]
        assert [e["mailbox"] for e in failed] == [f"{kind}://127.0.0.1:{server.port}"]
        assert "not-the-password" not in repr(logs)
        assert store.failed_logins == 1 and len(store.messages) == 5

        assert await scanner.scan_due() == []  # not before the interval
        assert store.failed_logins == 1
        clock.now += INTERVAL
        [result] = await scanner.scan_due() or []
        assert result.error
        assert store.failed_logins == 2

        # fixed in the settings: scanned at once, the change is a new mailbox
        config.mailboxes(msgspec.structs.replace(wrong, password=PASSWORD))
        [result] = await scanner.scan_due() or []
        assert (result.error, result.recorded) == ("", 4)
        assert recorder.by_subscriber() == expected(kind)


async def test_one_process_scans_at_a_time(
        runtime: Runtime, certificate: Certificate, config: LiveConfig, recorder: Recorder,
        clock: Clock) -> None:
    store = MailStore()
    fill(store)
    key = random.randrange(1, 2**62)
    async with serve("pop", "plain", store, certificate) as (server, fields):
        config.mailboxes(mailbox(server, "pop", **fields))
        scanner = scanner_for(runtime, config, recorder, clock, lock_key=key)
        async with runtime.pool.connection() as other:  # another sender process, scanning
            await other.execute("SELECT pg_advisory_lock(%s)", (key,))
            await other.commit()
            assert await scanner.scan_due() is None
            assert (store.logins, recorder.got) == (0, [])
            await other.execute("SELECT pg_advisory_unlock(%s)", (key,))
            await other.commit()
        assert await scanner.scan_due() == []  # counted as scanned by the other process
        clock.now += INTERVAL
        [result] = await scanner.scan_due() or []
        assert result.recorded == 4
        # and the lock was given back after the scan
        async with runtime.pool.connection() as other:
            cur = await other.execute("SELECT pg_try_advisory_lock(%s)", (key,))
            assert (await cur.fetchone()) == (True,)
            await other.execute("SELECT pg_advisory_unlock(%s)", (key,))
            await other.commit()


@pytest.mark.parametrize("kind", ["pop", "imap"])
async def test_the_server_certificate_is_checked_unless_told_not_to(
        runtime: Runtime, certificate: Certificate, config: LiveConfig, recorder: Recorder,
        clock: Clock, kind: str) -> None:
    store = MailStore()
    fill(store)
    async with serve(kind, "tls", store, certificate) as (server, fields):
        checked = mailbox(server, kind, **fields)
        config.mailboxes(checked)
        scanner = scanner_for(runtime, config, recorder, clock)  # the system's trust store
        [result] = await scanner.scan_due() or []
        assert "CERTIFICATE_VERIFY_FAILED" in result.error
        assert (store.logins, len(store.messages)) == (0, 5)

        config.mailboxes(msgspec.structs.replace(checked, tls_skip_verify=True))
        [result] = await scanner.scan_due() or []
        assert (result.error, result.recorded) == ("", 4)


async def test_imap_reads_the_folder_of_the_settings(
        runtime: Runtime, certificate: Certificate, config: LiveConfig, recorder: Recorder,
        clock: Clock) -> None:
    store = MailStore()
    fill(store)
    # the server's only folder, as IMAP names it on the wire (modified UTF-7)
    async with serve("imap", "plain", store, certificate,
                     folders=("Bounces/Entw&APw-rfe",)) as (server, fields):
        config.mailboxes(mailbox(server, "imap", **fields))  # INBOX: not there
        scanner = scanner_for(runtime, config, recorder, clock)
        [result] = await scanner.scan_due() or []
        assert "cannot select folder" in result.error
        # a name is the user's text: "&" is sent as "&-", so this is another folder
        config.mailboxes(mailbox(server, "imap", folder="Bounces/Entw&APw-rfe", **fields))
        [result] = await scanner.scan_due() or []
        assert "cannot select folder" in result.error
        config.mailboxes(mailbox(server, "imap", folder="Bounces/Entwürfe", **fields))
        [result] = await scanner.scan_due() or []
        assert (result.error, result.recorded) == ("", 4)


@pytest.mark.parametrize("kind", ["pop", "imap"])
async def test_a_huge_bounce_is_read_in_part(
        runtime: Runtime, certificate: Certificate, config: LiveConfig, recorder: Recorder,
        clock: Clock, kind: str) -> None:
    """A bounce returning a big message: the report and headers come first, the rest is not
    downloaded (IMAP partial fetch, POP3 TOP)."""
    store = MailStore()
    big = Original(CAMPAIGN, ANN.subscriber_uuid, ANN.recipient,
                   body="A long newsletter line.\n" * 20_000)
    store.add(postfix_bounce(big))
    async with serve(kind, "plain", store, certificate) as (server, fields):
        config.mailboxes(mailbox(server, kind, **fields))
        scanner = scanner_for(runtime, config, recorder, clock, max_bytes=20_000)
        [result] = await scanner.scan_due() or []
        assert (result.recorded, result.deleted) == (1, 1)
        assert recorder.by_subscriber() == {ANN.subscriber_uuid: ("hard", CAMPAIGN, kind)}


async def test_nothing_is_scanned_while_bounces_or_the_mailbox_are_off(
        runtime: Runtime, certificate: Certificate, config: LiveConfig, recorder: Recorder,
        clock: Clock) -> None:
    store = MailStore()
    fill(store)
    async with serve("pop", "plain", store, certificate) as (server, fields):
        box = mailbox(server, "pop", **fields)
        scanner = scanner_for(runtime, config, recorder, clock)
        config.mailboxes(box, enabled=False)  # bounce.enabled off
        assert await scanner.scan_due() == []
        config.mailboxes(msgspec.structs.replace(box, enabled=False))
        assert await scanner.scan_due() == []
        assert store.logins + store.failed_logins == 0
        config.mailboxes(box)
        [result] = await scanner.scan_due() or []
        assert result.recorded == 4


async def test_the_scanner_runs_until_stopped_and_follows_the_live_settings(
        runtime: Runtime, certificate: Certificate, config: LiveConfig, recorder: Recorder
        ) -> None:
    pop_store, imap_store = MailStore(), MailStore()
    fill(pop_store)
    imap_store.add(exim_bounce(ANN))
    async with (serve("pop", "plain", pop_store, certificate) as (pop, pop_fields),
                serve("imap", "tls", imap_store, certificate) as (imap, imap_fields)):
        scanner = MailboxScanner(runtime.pool, config, recorder, tick=0.05, timeout=10.0,
                                 tls=trusting(certificate),
                                 lock_key=random.randrange(1, 2**62))
        stop = asyncio.Event()
        task = asyncio.create_task(scanner.run(stop))
        try:
            config.mailboxes(mailbox(pop, "pop", **pop_fields))
            await until(lambda: len(recorder.got) == 4 and not pop_store.messages)
            config.mailboxes(mailbox(pop, "pop", **pop_fields),
                             mailbox(imap, "imap", **imap_fields))
            await until(lambda: len(recorder.got) == 5 and not imap_store.messages)
            assert recorder.got[4].source == "imap"
            assert pop_store.logins == 1  # the POP3 mailbox is not due again for a minute
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)
