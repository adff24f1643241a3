"""The sender as real processes, delivering through SMTP to a server in the test process:
two ``postlog serve sender`` share a 10,000-recipient campaign; a sender, and then the whole
``postlog up``, killed with SIGKILL mid-campaign and restarted lose nobody and resend at most
what was in flight (sent but not yet recorded: up to a record's worth per chunk held, plus
the messages in the workers' hands)."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import ADMIN, _require_cli
from tests.e2e.processes import POSTLOG_BIN, answers, free_port
from tests.e2e.sender_support import (
    STARTUP_SECONDS,
    Deployment,
    SMTPSink,
    deployment,
    elapsed,
    finished,
    import_subscribers,
    serve,
    smtp_sink,
    start_campaign,
    use_sink,
    wait_for_messages,
)

pytestmark = pytest.mark.e2e

CONCURRENCY = 10
# What a SIGKILL can make the next holder send again: the results not yet recorded (a record
# every 100 messages or every second, for each of the two chunks a process works on at once)
# and the messages in the workers' hands.
IN_FLIGHT = 2 * 100 + CONCURRENCY


def serve_sender(d: Deployment, name: str, processes: int = 1) -> None:
    """``postlog serve sender --processes N``, logging to ``<name>.log``; one process by
    default, so that a SIGKILL kills the process that sends."""
    d.processes.start(name, [str(POSTLOG_BIN), "serve", "sender", "--processes",
                             str(processes)], d.env)
    d.wait(d.processes.logged(name, "postlog sender running"), name, STARTUP_SECONDS)


def children(pid: int) -> set[int]:
    """The live child processes of ``pid`` (Linux)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return {int(c) for c in path.read_text().split()} if path.exists() else set()


def claimed_by(d: Deployment, name: str) -> set[int]:
    """The pids of the processes whose ``chunk_claimed`` lines are in ``name``'s log."""
    pids = set()
    for line in d.processes.log_tail(name, 1_000_000).splitlines():
        if '"chunk_claimed"' in line and line.startswith("{"):
            pids.add(json.loads(line)["pid"])
    return pids


@pytest.fixture(scope="module")
def sink() -> Iterator[SMTPSink]:
    with smtp_sink() as running:
        yield running


@pytest.fixture(scope="module")
def split(admin_pg_url: str, nats_server_url: str, tmp_path_factory: pytest.TempPathFactory,
          sink: SMTPSink) -> Iterator[Deployment]:
    """The APIs, the relay and the projector, and two sender processes."""
    _require_cli()
    with deployment(admin_pg_url, nats_server_url, tmp_path_factory.mktemp("senders")) as d:
        command, query = free_port(), free_port()
        d.command, d.query = f"http://127.0.0.1:{command}", f"http://127.0.0.1:{query}"
        for name, port in (("command-api", command), ("query-api", query),
                           ("projector", 0), ("relay", 0)):
            serve(d, name, port)
        use_sink(d, sink, concurrency=CONCURRENCY, message_rate=1000)
        serve_sender(d, "sender-1")
        serve_sender(d, "sender-2")
        yield d


def assert_everyone_once_or_in_flight(sink: SMTPSink, campaign_uuid: str, recipients: int,
                                      allowed: int) -> int:
    counts = sink.counts(campaign_uuid)
    assert len(counts) == recipients, f"{recipients - len(counts)} recipients skipped"
    duplicates = sum(n - 1 for n in counts.values())
    assert duplicates <= allowed, f"{duplicates} messages sent twice"
    print(f"{campaign_uuid}: {recipients} recipients, {duplicates} sent twice")  # for -s
    return duplicates


def test_two_sender_processes_share_a_campaign_and_everyone_gets_it_once(
        split: Deployment, sink: SMTPSink) -> None:
    list_id = import_subscribers(split, 10_000)
    began = time.monotonic()
    created = start_campaign(split, list_id)
    done = finished(split, created["id"])
    counts = sink.counts(created["uuid"])
    assert len(counts) == 10_000 and set(counts.values()) == {1}, (
        f"{len(counts)} recipients, {sum(counts.values())} messages in {elapsed(began)}")
    assert (done["to_send"], done["sent"]) == (10_000, 10_000)
    for name in ("sender-1", "sender-2"):  # each process delivered a part
        assert split.processes.log_tail(name, 100_000).count('"chunk_claimed"') > 0, name


def test_a_sender_killed_mid_campaign_loses_nobody_once_restarted(
        split: Deployment, sink: SMTPSink) -> None:
    list_id = import_subscribers(split, 3000)
    split.kill("sender-2")  # one sender holds the campaign's chunks
    use_sink(split, sink, concurrency=CONCURRENCY, message_rate=20)  # ~200 messages a second
    created = start_campaign(split, list_id)
    wait_for_messages(split, sink, created["uuid"], 500)
    split.kill("sender-1")
    serve_sender(split, "sender-1")
    serve_sender(split, "sender-2")
    use_sink(split, sink, concurrency=CONCURRENCY, message_rate=1000)
    done = finished(split, created["id"])
    assert_everyone_once_or_in_flight(sink, created["uuid"], 3000, IN_FLIGHT)
    assert done["sent"] == 3000


def test_postlog_up_killed_mid_campaign_resumes_without_skipping_anyone(
        admin_pg_url: str, nats_server_url: str, tmp_path: Path, sink: SMTPSink) -> None:
    _require_cli()
    with deployment(admin_pg_url, nats_server_url, tmp_path) as d:
        d.start("up", "up")
        d.wait(answers(f"{d.command}/api/health", ADMIN), "postlog up", STARTUP_SECONDS)
        use_sink(d, sink, concurrency=CONCURRENCY, message_rate=20)
        d.wait(d.logged_times("up", '"messengers_applied"', 2), "the SMTP settings applied")
        list_id = import_subscribers(d, 2000)
        created = start_campaign(d, list_id)
        wait_for_messages(d, sink, created["uuid"], 400)
        d.kill("up")
        d.start("up-again", "up")
        d.wait(answers(f"{d.command}/api/health", ADMIN), "postlog up again", STARTUP_SECONDS)
        use_sink(d, sink, concurrency=CONCURRENCY, message_rate=1000)
        done = finished(d, created["id"])
        assert_everyone_once_or_in_flight(sink, created["uuid"], 2000, IN_FLIGHT)
        assert done["sent"] == 2000


def test_serve_sender_with_two_processes_shares_a_campaign_restarts_a_dead_one_and_stops(
        split: Deployment, sink: SMTPSink) -> None:
    for name in ("sender-1", "sender-2"):
        if name in split.processes.started:
            split.kill(name)
    serve_sender(split, "senders", processes=2)
    parent = split.processes.started["senders"].pid
    split.wait(lambda: len(children(parent)) == 2, "two sender children")
    assert split.processes.log_tail("senders", 100).count("postlog sender running") == 1

    list_id = import_subscribers(split, 4000)
    created = start_campaign(split, list_id)
    finished(split, created["id"])
    counts = sink.counts(created["uuid"])
    assert len(counts) == 4000 and set(counts.values()) == {1}
    assert len(claimed_by(split, "senders")) == 2  # both children sent a part

    victim, survivor = sorted(children(parent))
    os.kill(victim, signal.SIGKILL)
    split.wait(lambda: len(children(parent)) == 2 and victim not in children(parent),
               "the dead child replaced")
    assert survivor in children(parent)
    list_id = import_subscribers(split, 1000)
    again = start_campaign(split, list_id)
    assert finished(split, again["id"])["sent"] == 1000

    running = children(parent)
    proc = split.processes.started.pop("senders")
    proc.send_signal(signal.SIGINT)  # Ctrl-C
    assert proc.wait(timeout=60) == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in running)
