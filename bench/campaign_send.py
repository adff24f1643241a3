"""A personalised campaign sent end to end to postfix's smtp-sink, beside smtp-source -d.

Seeds ``--recipients`` subscribers (default 100,000) through the import API
(``bench/_subscribers_seed.py``), then, on the seeded database with a new NATS prefix, runs
postlog in the chosen ``--layout``:

- ``up``: one ``postlog up`` (APIs, relay, projector, scheduler and the sender in one
  process), plus ``--senders`` more ``postlog serve sender`` processes (default 0);
- ``split``: ``postlog serve command-api``, ``query-api``, ``projector``, ``relay`` and
  ``--senders`` ``postlog serve sender`` processes (default 2), as compose.yaml deploys them.

postfix's ``smtp-sink`` (installed by ``make bench-deps``; run here as a plain process on a
free port of 127.0.0.1, counting messages with ``-c``; the postfix daemon is never started)
receives everything. The SMTP settings point at it (``--max-conns`` connections per sender
process, no TLS, no AUTH), ``app.concurrency`` is ``--concurrency`` and ``app.message_rate``
unlimited in practice. A campaign like ``bench/render_throughput.py``'s (postlog's default
template, five tracked links, the subscriber's name, first name and two attributes in the
body, a templated subject and custom header) is created and started through the API; the
clock runs from the start request to the campaign read as ``finished``.

Reference, same run, same sink, before the campaign: ``smtp-source -d`` (postfix's C client,
reusing its connections) sends as many messages of the same size over as many connections as
postlog may open. Results: messages/s of both and their ratio; CPU µs per message of every
postlog process, of smtp-sink, of PostgreSQL and of the whole machine; the peak RSS of each
postlog process (``VmHWM``); the messages smtp-sink counted, checked against the recipients.

``--stop-after S`` pauses the campaign S seconds after its start (the memory run of a
1,000,000-recipient campaign: RSS sampled every second is shown over time).
``--seed-cache`` keeps the seeded database as a template (``postlog_benchseed_<n>_<digest of
the migrations>``) and starts later runs from a copy of it (drop it with ``DROP DATABASE``).

    .venv/bin/python -m bench.campaign_send [--recipients 100000] [--layout up|split]
        [--senders N] [--up-sender-processes N] [--concurrency 20] [--max-conns 10]
        [--stop-after S] [--seed-cache]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench._subscribers_seed import create_list, interruptible, run_import, write_csv
from bench.common import (
    ADMIN_PASSWORD,
    ADMIN_URL,
    ADMIN_USER,
    NATS_URL,
    ROOT,
    delete_nats_stream,
    free_port,
    postlog_env,
    postlog_up,
    report,
    server_conditions,
)
from bench.render_throughput import (
    BODY,
    HEADERS,
    SUBJECT,
    compiled_campaign,
    messages,
    subscribers,
)
from kernel.logging import configure_logging
from kernel.settings import Settings
from postlog.migrate import migrate
from services.sender.message import campaign_mail
from tests.servers import create_database, drop_database

SMTP_SINK = Path("/usr/sbin/smtp-sink")
SMTP_SOURCE = Path("/usr/sbin/smtp-source")
POSTLOG = ROOT / ".venv/bin/postlog"
LIST_NAME = "bench send"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
STARTUP_SECONDS = 90.0


# --- /proc ------------------------------------------------------------------------------------

def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (``/proc/<pid>/stat``), 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def memory_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) in MB (``VmRSS``, ``VmHWM``)."""
    found = {"VmRSS": 0.0, "VmHWM": 0.0}
    with suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in found:
                found[name] = int(value.split()[0]) / 1024
    return found["VmRSS"], found["VmHWM"]


def postgres_cpu_seconds() -> float:
    """CPU seconds of every process named ``postgres`` (the server and its backends)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError):
                stat = (entry / "stat").read_text()
                if stat[stat.index("(") + 1:stat.rindex(")")] == "postgres":
                    fields = stat.rpartition(")")[2].split()
                    total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot (``/proc/stat``)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


# --- the seeded database ----------------------------------------------------------------------

def migrations_digest() -> str:
    digest = hashlib.blake2b(digest_size=4)
    for path in sorted((ROOT / "postlog/migrations").glob("*.sql")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def _database_exists(name: str) -> bool:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                            (name,)).fetchone() is not None


def _copy_database(source: str, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
    return str(psycopg.conninfo.make_conninfo(ADMIN_URL, dbname=name))


async def seed(url: str, recipients: int) -> None:
    """``recipients`` confirmed subscribers in one list, through the import API."""
    workdir = Path(tempfile.mkdtemp(prefix="postlog-bench-send-"))
    try:
        path = workdir / "subscribers.csv"
        write_csv(path, recipients, cities=50)
        async with postlog_up(url) as server:
            async with httpx.AsyncClient(base_url=server.base_url, auth=server.auth,
                                         timeout=60) as client:
                list_id = await create_list(client, LIST_NAME)
            started = time.perf_counter()
            await run_import(server, path, [list_id], recipients, within=3600)
            print(f"seeded {recipients:,} subscribers in {time.perf_counter() - started:.0f} s",
                  file=sys.stderr)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def seeded_database(recipients: int, cache: bool) -> Iterator[str]:
    """A migrated database holding the seeded list; dropped afterwards."""
    configure_logging(Settings(log_level="warning", log_format="console"))
    template = f"postlog_benchseed_{recipients}_{migrations_digest()}"
    if cache and _database_exists(template):
        print(f"starting from the seeded template {template}", file=sys.stderr)
        url = _copy_database(template, "postlog_bench")
    else:
        url = create_database(ADMIN_URL, prefix="postlog_bench")
        try:
            asyncio.run(migrate(url))
            asyncio.run(seed(url, recipients))
        except BaseException:
            drop_database(ADMIN_URL, url)
            raise
        if cache:
            source = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
            with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{template}" TEMPLATE "{source}"')
            print(f"kept the seeded database as template {template}", file=sys.stderr)
    try:
        yield url
    finally:
        if os.environ.get("BENCH_KEEP_DATABASE") == "1":
            print(f"kept database: {url}", file=sys.stderr)
        else:
            drop_database(ADMIN_URL, url)


def start_relay_at_head(url: str, stream: str) -> None:
    """The new stream starts at the log's head: the seed run's relay published the rest to a
    stream that is gone, and nothing in the send phase needs those events from NATS (without
    this the relay would publish every import event again during the measurement)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO eventlog.checkpoints (name, tx_id, global_position)"
            " SELECT %s, tx_id, global_position FROM eventlog.checkpoints"
            " WHERE name LIKE 'relay:%%' ORDER BY global_position DESC LIMIT 1",
            (f"relay:{stream}",))


def list_id_of(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT id FROM readmodel.lists WHERE name = %s",
                           (LIST_NAME,)).fetchone()
    if row is None:
        raise SystemExit(f"no list named {LIST_NAME!r} in the seeded database")
    return int(row[0])


# --- processes --------------------------------------------------------------------------------

@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    sends: bool  # holds a sender

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                with suppress(ValueError):
                    lines.append(json.loads(line))
        return lines


@dataclass
class Deployment:
    url: str
    prefix: str
    workdir: Path
    command: str = ""
    query: str = ""
    procs: list[Proc] = field(default_factory=list)

    def start(self, name: str, args: list[str], port: int, sends: bool) -> Proc:
        env = postlog_env(self.url, self.prefix, port, self.workdir)
        env["POSTLOG_LOG_LEVEL"] = "info"
        log = self.workdir / f"{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen([str(POSTLOG), *args], env=env, cwd=self.workdir,
                                     stdout=out, stderr=subprocess.STDOUT)
        proc = Proc(name, popen, log, sends)
        self.procs.append(proc)
        return proc

    @property
    def senders(self) -> list[Proc]:
        return [p for p in self.procs if p.sends]

    def stop(self) -> None:
        for proc in self.procs:
            if proc.popen.poll() is None:
                proc.popen.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.popen.wait(15)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait()


async def _wait_for(check: Any, what: str, deployment: Deployment, within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for proc in deployment.procs:
            if proc.popen.poll() is not None:
                tail = proc.log.read_text(errors="replace")[-3000:]
                raise SystemExit(f"{proc.name} exited ({proc.popen.returncode}):\n{tail}")
        if await check():
            return
        await asyncio.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


async def _answers(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            return (await client.get(url)).status_code < 500
    except httpx.TransportError:
        return False


def _logged(proc: Proc, text: str) -> bool:
    return text in proc.log.read_text(errors="replace")


async def deploy(d: Deployment, layout: str, senders: int,
                 up_sender_processes: int | None = None) -> None:
    if layout == "up":
        port = free_port()
        d.command = d.query = f"http://127.0.0.1:{port}"
        extra = [] if up_sender_processes is None else [
            "--sender-processes", str(up_sender_processes)]
        d.start("up", ["up", *extra], port, sends=True)
        await _wait_for(lambda: _answers(f"{d.command}/api/health"), "postlog up", d,
                        STARTUP_SECONDS)
    else:
        command, query = free_port(), free_port()
        d.command, d.query = f"http://127.0.0.1:{command}", f"http://127.0.0.1:{query}"
        d.start("command-api", ["serve", "command-api"], command, sends=False)
        d.start("query-api", ["serve", "query-api"], query, sends=False)
        d.start("projector", ["serve", "projector"], 0, sends=False)
        d.start("relay", ["serve", "relay"], 0, sends=False)
        for name, url in (("command-api", d.command), ("query-api", d.query)):
            await _wait_for(lambda url=url: _answers(f"{url}/api/health"), name, d,
                            STARTUP_SECONDS)
    for n in range(1, senders + 1):
        # one process each (``serve sender`` alone would start one per core)
        proc = d.start(f"sender-{n}", ["serve", "sender", "--processes", "1"], 0, sends=True)

        async def running(proc: Proc = proc) -> bool:
            return _logged(proc, "postlog sender running")

        await _wait_for(running, proc.name, d, STARTUP_SECONDS)


async def use_sink(d: Deployment, client: httpx.AsyncClient, sink_port: int, concurrency: int,
                   max_conns: int, batch_size: int) -> None:
    """Every message to the sink; wait until every sender process has applied it."""
    settings = (await client.get(f"{d.query}/api/settings")).json()["data"]
    server = {**settings["smtp"][0], "host": "127.0.0.1", "port": sink_port,
              "tls_type": "none", "auth_protocol": "none", "username": "", "password": "",
              "max_conns": max_conns, "enabled": True, "idle_timeout": "15s",
              "wait_timeout": "5s", "max_msg_retries": 2}
    settings["smtp"] = [server]
    settings.update({"app.concurrency": concurrency, "app.message_rate": 1_000_000,
                     "app.batch_size": batch_size, "app.message_sliding_window": False})
    response = await client.put(f"{d.command}/api/settings", json=settings)
    if response.status_code != 200:
        raise SystemExit(f"PUT /api/settings: {response.status_code} {response.text}")

    async def applied() -> bool:
        return all(any(line.get("event") == "messengers_applied"
                       and line.get("smtp_servers", 0) >= 1 for line in proc.log_lines())
                   for proc in d.senders)

    await _wait_for(applied, "the SMTP settings applied by every sender", d, 60)


# --- smtp-sink and smtp-source ----------------------------------------------------------------

@dataclass
class Sink:
    popen: subprocess.Popen[bytes]
    port: int
    counters: Path

    def received(self) -> int:
        """Messages received so far (the last ``mesg=`` counter smtp-sink wrote)."""
        try:
            with self.counters.open("rb") as f:
                f.seek(max(0, self.counters.stat().st_size - 200))
                tail = f.read().decode("ascii", "replace")
        except OSError:
            return 0
        marks = tail.rsplit("mesg=", 1)
        if len(marks) < 2:
            return 0
        digits = "".join(c for c in marks[1][:12] if c.isdigit())
        return int(digits or 0)


@contextmanager
def smtp_sink(workdir: Path) -> Iterator[Sink]:
    if not SMTP_SINK.exists():
        raise SystemExit("smtp-sink is missing: make bench-deps (Debian package postfix)")
    port = free_port()
    counters = workdir / "smtp-sink.counters"
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    with counters.open("wb") as out:
        popen = subprocess.Popen([str(SMTP_SINK), "-c", *user, f"127.0.0.1:{port}", "1024"],
                                 stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with suppress(OSError), socket.create_connection(
                    ("127.0.0.1", port), timeout=1):
                break
            time.sleep(0.05)
        yield Sink(popen, port, counters)
    finally:
        popen.terminate()
        try:
            popen.wait(5)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait()


def smtp_source(sink: Sink, messages: int, sessions: int, size: int) -> dict[str, float]:
    """``smtp-source -d``: ``messages`` of ``size`` bytes over ``sessions`` connections."""
    before = sink.received()
    sink_cpu = cpu_seconds(sink.popen.pid)
    load = os.getloadavg()[0]
    started = time.perf_counter()
    popen = subprocess.Popen(
        [str(SMTP_SOURCE), "-d", "-s", str(sessions), "-m", str(messages), "-l",
         str(max(1, size - 250)), "-f", "bench@example.com", "-t", "sink@example.org",
         "-S", "postlog bench reference", "-M", "bench.example", f"127.0.0.1:{sink.port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(popen.pid, 0)
    seconds = time.perf_counter() - started
    popen.returncode = os.waitstatus_to_exitcode(status)
    if popen.returncode != 0:
        raise SystemExit(f"smtp-source failed: {popen.stderr.read() if popen.stderr else ''!r}")
    time.sleep(0.3)
    return {"seconds": seconds, "rate": messages / seconds, "load_1m": load,
            "cpu_us": (usage.ru_utime + usage.ru_stime) / messages * 1e6,
            "sink_cpu_us": (cpu_seconds(sink.popen.pid) - sink_cpu) / messages * 1e6,
            "received": sink.received() - before}


def message_size() -> int:
    """Bytes of a message like the campaign's (built locally with the same code)."""
    compiled = compiled_campaign()
    msgs = messages(subscribers(20))
    return sum(len(campaign_mail(compiled, m, message_id="m").as_bytes()) for m in msgs) // 20


# --- the campaign -----------------------------------------------------------------------------

@dataclass
class CPUSnapshot:
    procs: dict[str, float]
    sink: float
    postgres: float
    machine_busy: float
    machine_total: float

    @classmethod
    def take(cls, d: Deployment, sink: Sink) -> CPUSnapshot:
        busy, total = machine_cpu_seconds()
        return cls({p.name: cpu_seconds(p.pid) for p in d.procs}, cpu_seconds(sink.popen.pid),
                   postgres_cpu_seconds(), busy, total)


@dataclass
class CampaignRun:
    campaign_id: int = 0
    status: str = ""
    sent: int = 0
    to_send: int = 0
    seconds: float = 0.0
    first_message: float = 0.0
    received: int = 0
    rss: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    timeline: list[tuple[float, int]] = field(default_factory=list)


async def send_campaign(d: Deployment, client: httpx.AsyncClient, sink: Sink, list_id: int,
                        stop_after: float | None, within: float
                        ) -> tuple[CampaignRun, CPUSnapshot, CPUSnapshot]:
    response = await client.post(f"{d.command}/api/campaigns", json={
        "name": "bench send", "subject": SUBJECT, "lists": [list_id], "body": BODY,
        "content_type": "richtext", "headers": HEADERS, "messenger": "email"})
    if response.status_code != 200:
        raise SystemExit(f"POST /api/campaigns: {response.status_code} {response.text}")
    run = CampaignRun(campaign_id=int(response.json()["data"]["id"]))
    received_before = sink.received()
    before = CPUSnapshot.take(d, sink)
    started = time.perf_counter()
    response = await client.put(f"{d.command}/api/campaigns/{run.campaign_id}/status",
                                json={"status": "running"})
    if response.status_code != 200:
        raise SystemExit(f"start: {response.status_code} {response.text}")
    paused = False
    next_sample = 0.0
    while True:
        now = time.perf_counter() - started
        if now >= next_sample:
            next_sample = now + 1.0
            for proc in d.procs:
                run.rss.setdefault(proc.name, []).append((now, memory_mb(proc.pid)[0]))
            received = sink.received() - received_before
            run.timeline.append((now, received))
            if received and not run.first_message:
                run.first_message = now
        data = (await client.get(f"{d.query}/api/campaigns/{run.campaign_id}")).json()["data"]
        run.status, run.sent, run.to_send = data["status"], data["sent"], data["to_send"]
        if run.status == "finished" or (paused and run.status == "paused"):
            break
        if run.status in ("cancelled", "paused") and not paused:
            raise SystemExit(f"the campaign is {run.status}: {data}")
        if stop_after is not None and now >= stop_after and not paused:
            paused = True
            run.seconds = now
            await client.put(f"{d.command}/api/campaigns/{run.campaign_id}/status",
                             json={"status": "paused"})
        if now > within:
            raise SystemExit(f"the campaign did not finish within {within:.0f} s: {data}")
        await asyncio.sleep(0.1)
    if not paused:
        run.seconds = time.perf_counter() - started
    after = CPUSnapshot.take(d, sink)
    await asyncio.sleep(1.0)  # the sink's counter is written after each message
    run.received = sink.received() - received_before
    return run, before, after


def steady_rate(timeline: list[tuple[float, int]], total: int) -> float:
    """Messages/s between 10 % and 90 % of the messages received."""
    low = next(((t, n) for t, n in timeline if n >= total * 0.1), None)
    high = next(((t, n) for t, n in timeline if n >= total * 0.9), None)
    if low is None or high is None or high[0] <= low[0]:
        return 0.0
    return (high[1] - low[1]) / (high[0] - low[0])


async def run_bench(url: str, args: Any) -> tuple[list[list[Any]], dict[str, Any]]:
    prefix = f"bench{uuid.uuid4().hex[:10]}"
    stream = Settings(nats_prefix=prefix).stream_name
    start_relay_at_head(url, stream)
    list_id = list_id_of(url)
    workdir = Path(tempfile.mkdtemp(prefix="postlog-bench-send-"))
    d = Deployment(url, prefix, workdir)
    senders = args.senders if args.senders is not None else (0 if args.layout == "up" else 2)
    size = message_size()
    try:
        with smtp_sink(workdir) as sink:
            await deploy(d, args.layout, senders, args.up_sender_processes)
            async with httpx.AsyncClient(auth=(ADMIN_USER, ADMIN_PASSWORD), timeout=60) as client:
                await use_sink(d, client, sink.port, args.concurrency, args.max_conns,
                               args.batch_size)
                sessions = args.max_conns * len(d.senders)
                reference = None
                if not args.no_reference:
                    reference = smtp_source(sink, args.recipients if args.stop_after is None
                                            else min(args.recipients, 100_000), sessions, size)
                load = os.getloadavg()[0]
                run, before, after = await send_campaign(d, client, sink, list_id,
                                                         args.stop_after, args.timeout)
            peaks = {p.name: memory_mb(p.pid)[1] for p in d.procs}
            lines = {p.name: p.log_lines() for p in d.senders}
    finally:
        d.stop()
        await delete_nats_stream(prefix)
        if os.environ.get("BENCH_KEEP_LOGS") == "1":
            print(f"kept logs in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    sent = run.received
    rate = sent / run.seconds if run.seconds else 0.0
    ref_rate = reference["rate"] if reference else 0.0
    rows: list[list[Any]] = [[
        f"postlog ({args.layout}, {len(d.senders)} sender process(es))", sent,
        round(run.seconds, 1), round(rate), round(rate / ref_rate, 3) if ref_rate else "",
        round(load, 2)]]
    if reference:
        rows.append([f"reference: smtp-source -d -s {sessions}", reference["received"],
                     round(reference["seconds"], 1), round(ref_rate), 1.0,
                     round(reference["load_1m"], 2)])

    def per_message(seconds: float) -> float:
        return round(seconds / max(1, sent) * 1e6, 1)

    cpu: dict[str, Any] = {}
    for proc in d.procs:
        used = after.procs[proc.name] - before.procs[proc.name]
        cpu[proc.name] = {"cpu_us_per_msg": per_message(used),
                          "cpu_share": round(used / max(run.seconds, 1e-9), 2),
                          "peak_rss_mb": round(peaks[proc.name], 1)}
    cpu["smtp-sink"] = {"cpu_us_per_msg": per_message(after.sink - before.sink)}
    cpu["postgres (all backends)"] = {"cpu_us_per_msg": per_message(
        after.postgres - before.postgres)}
    cpu["machine (busy, all cores)"] = {
        "cpu_us_per_msg": per_message(after.machine_busy - before.machine_busy),
        "busy_share": round((after.machine_busy - before.machine_busy)
                            / max(1e-9, after.machine_total - before.machine_total), 2)}
    sender_cpu = sum(after.procs[p.name] - before.procs[p.name] for p in d.senders)
    extra: dict[str, Any] = {
        "recipients": args.recipients, "layout": args.layout, "sender_processes": len(d.senders),
        "app.concurrency": args.concurrency, "max_conns per sender": args.max_conns,
        "app.batch_size": args.batch_size, "message_bytes": size,
        "campaign": {"status": run.status, "sent": run.sent, "to_send": run.to_send},
        "smtp_sink_received": run.received,
        "received_equals_recipients": run.received == (run.to_send if args.stop_after is None
                                                       else run.sent),
        "first_message_s": round(run.first_message, 2),
        "steady_rate (10-90 %)": round(steady_rate(run.timeline, sent)),
        "sender_cpu_us_per_msg (sender processes)": per_message(sender_cpu),
        "cpu": cpu,
        "delivered_by": {name: sum(1 for line in found if line.get("event") == "chunk_claimed")
                         for name, found in lines.items()},
    }
    if reference:
        extra["smtp-source"] = {"cpu_us_per_msg": round(reference["cpu_us"], 1),
                                "smtp-sink cpu_us_per_msg": round(reference["sink_cpu_us"], 1)}
    for name, samples in run.rss.items():
        step = max(1, len(samples) // 12)
        extra[f"rss_mb over time ({name})"] = [
            f"{t:.0f}s:{mb:.0f}" for t, mb in samples[::step] + samples[-1:]]
    return rows, extra


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--json", action="store_true",
                        help="print the results as JSON on stdout (the table goes to stderr)")
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--layout", choices=("up", "split"), default="up")
    parser.add_argument("--senders", type=int, default=None,
                        help="postlog serve sender processes (up: extra ones, default 0; "
                             "split: default 2)")
    parser.add_argument("--up-sender-processes", type=int, default=None,
                        help="`up --sender-processes N` (default: up's own, one per core); the"
                             " children's CPU is in the machine's figure, not up's")
    parser.add_argument("--concurrency", type=int, default=20, help="app.concurrency")
    parser.add_argument("--max-conns", type=int, default=10,
                        help="SMTP connections per sender process")
    parser.add_argument("--batch-size", type=int, default=1000, help="app.batch_size (chunk)")
    parser.add_argument("--stop-after", type=float, default=None,
                        help="pause the campaign after this many seconds (memory runs)")
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--seed-cache", action="store_true",
                        help="keep/reuse the seeded database as a template")
    parser.add_argument("--no-reference", action="store_true", help="skip smtp-source")
    args = parser.parse_args()
    if not SMTP_SOURCE.exists():
        raise SystemExit("smtp-source is missing: make bench-deps (Debian package postfix)")
    interruptible()
    with seeded_database(args.recipients, args.seed_cache) as url:
        conditions = server_conditions(url)
        rows, extra = asyncio.run(run_bench(url, args))
    report(f"campaign to smtp-sink, {args.recipients:,} recipients (ratio: to smtp-source -d, "
           "same sink, same run)",
           ["sender", "messages", "seconds", "msgs/s", "ratio", "load_1m"], rows,
           {**conditions, **extra, "nats": NATS_URL}, args.json)


if __name__ == "__main__":
    main()
