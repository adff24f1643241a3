"""A CSV import through `POST /api/import/subscribers`, until the read models hold every row,
beside PostgreSQL's `COPY` of the same file.

Generates ``--rows`` subscribers (``email,name,attributes``, see ``bench/_subscribers_seed.py``),
starts `postlog up`, creates one list, and first measures the reference: ``COPY .. FROM STDIN``
of the file into a plain table ``(email text, name text, attributes jsonb)`` from this client,
the cheapest way this server can take the same bytes. Then it uploads the file to the import
API (subscribe mode, the one list, status confirmed) and records when the upload was answered,
when the job reported ``finished``, and when the ``subscribers`` projection and every projection
had reached the log's head (what a client calling ``GET /api/subscribers`` waits for).

    .venv/bin/python bench/subscribers_import.py [--rows 1000000] [--timeout 1800]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench._subscribers_seed import (
    copy_reference,
    create_list,
    interruptible,
    run_import,
    write_csv,
)
from bench.common import fresh_database, postlog_up, report, server_conditions


async def run(url: str, path: Path, rows: int, within: float
              ) -> tuple[list[list[Any]], dict[str, Any]]:
    async with postlog_up(url) as server:
        async with httpx.AsyncClient(base_url=server.base_url, auth=server.auth,
                                     timeout=30) as client:
            list_id = await create_list(client, "bench import")
        copy_seconds = await copy_reference(url, path)
        load = f"{os.getloadavg()[0]:.2f}"
        result = await run_import(server, path, [list_id], rows, within)

    def row(name: str, seconds: float) -> list[Any]:
        return [name, seconds, rows / seconds if seconds else 0.0, seconds / copy_seconds]

    table = [
        row("upload answered (file on the server)", result.uploaded),
        row("import job finished", result.job_done),
        row("readmodel.subscribers complete", result.subscribers_done),
        row("every projection complete", result.all_done),
        row("relay published it all to NATS", result.relay_done),
        row("reference: COPY into a plain table", copy_seconds),
    ]
    extra = {"rows": rows, "imported": result.imported, "events_appended": result.events,
             "read_model_rows": result.read_model_rows, "load_1m_before_import": load,
             "events_behind_at_job_done": result.behind_at_job_done,
             "projector_events_per_s_after_job": round(result.behind_at_job_done / max(
                 1e-9, result.subscribers_done - result.job_done)),
             "projections_done_s": {k: round(v, 2) for k, v in
                                    sorted(result.checkpoints.items())}}
    if result.read_model_rows != rows:
        extra["warning"] = "the read model does not hold every row"
    return table, extra


def main() -> None:
    parser = argparse.ArgumentParser(
        description="subscriber CSV import until readable, beside COPY")
    parser.add_argument("--json", action="store_true",
                        help="print the results as JSON on stdout (the table goes to stderr)")
    parser.add_argument("--rows", type=int, default=1_000_000,
                        help="subscribers in the generated CSV (default 1,000,000)")
    parser.add_argument("--cities", type=int, default=50, help="distinct attribs.city values")
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="give up when the import and projections take longer (s)")
    args = parser.parse_args()
    interruptible()
    workdir = Path(tempfile.mkdtemp(prefix="postlog-bench-import-"))
    try:
        path = workdir / "subscribers.csv"
        started = time.perf_counter()
        size = write_csv(path, args.rows, args.cities)
        generated = time.perf_counter() - started
        with fresh_database() as url:
            conditions = server_conditions(url)
            rows, extra = asyncio.run(run(url, path, args.rows, args.timeout))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report("subscriber import through POST /api/import/subscribers (until readable)",
           ["milestone", "seconds", "rows/s", "time / COPY time"], rows,
           {**extra, "csv_mb": round(size / 1e6, 1), "csv_generated_s": round(generated, 1),
            **conditions}, args.json)


if __name__ == "__main__":
    main()
