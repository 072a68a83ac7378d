"""Ingest rate of the mock cloud: one uploader, and many at once, over loopback.

For each storage backend (SQLite file; PostgreSQL when a server URL is given), a fresh
database and a fresh ``mock_cloud.cli serve`` process (uvicorn, one worker) on 127.0.0.1.
Each uploader signs up, opens a data set (hash deduplicator, its own device), sends its
cbg datums in chunks of 1000, re-sends its first chunk (all duplicates: the retry after a
lost answer), and closes the set, which makes the data visible. The rate counts every
datum posted, re-sends included, over the wall time of the whole run (all uploaders);
p50/p99 are the times of single 1000-datum chunk requests. The first run warms nothing up:
each configuration gets its own server and database.

Usage: ``python -m bench.cloud_ingest [--postgres postgresql://user@host:port/db]
[--chunks 20] [--concurrent-chunks 4] [--uploaders 1 50]``. Without ``--postgres`` it uses
``DIAHIL_TEST_POSTGRES_URL`` if set (a server where it may create databases).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

TOKEN = "X-Tidepool-Session-Token"
CHUNK = 1000
PASSWORD = "benchmark-password"
START = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Result:
    """One configuration's measurements."""

    backend: str
    uploaders: int
    datums: int
    seconds: float
    chunk_ms: list[float]

    @property
    def rate(self) -> float:
        """Datums per second over the whole run."""
        return self.datums / self.seconds

    def percentile(self, p: float) -> float:
        """The p-th percentile of chunk times (ms)."""
        ordered = sorted(self.chunk_ms)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@contextmanager
def server(db_url: str) -> Iterator[str]:
    """A mock cloud server process on a free port; yields its base URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "mock_cloud.cli", "serve", "--port", "0", "--db", db_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("mock cloud serving on "):
            problem = process.stderr.read() if process.stderr is not None else ""
            raise RuntimeError(f"server did not start: {line}{problem}")
        yield line.split()[4]
    finally:
        process.terminate()
        process.wait(timeout=30)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """A scratch database on the PostgreSQL server; yields its URL."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(server_url).set(drivername="postgresql")
    name = f"diahil_bench_{secrets.token_hex(4)}"
    admin = url.render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _datums(device: str, count: int) -> list[dict[str, Any]]:
    return [
        {
            "type": "cbg",
            "units": "mg/dL",
            "value": 80 + (index * 7) % 200,
            "time": (START + timedelta(minutes=5 * index)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "deviceId": device,
            "timezoneOffset": 0,
        }
        for index in range(count)
    ]


def _data_set(device: str) -> dict[str, Any]:
    return {
        "client": {"name": "org.diahil.bench", "version": "1.0.0"},
        "dataSetType": "normal",
        "deviceId": device,
        "deviceManufacturers": ["Bench"],
        "deviceModel": "CGM",
        "deviceSerialNumber": device,
        "deviceTags": ["cgm"],
        "time": START.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "timeProcessing": "none",
        "timezone": "UTC",
        "timezoneOffset": 0,
    }


async def _uploader(http: httpx.AsyncClient, index: int, chunks: int, times: list[float]) -> int:
    email = f"bench{index}@example.com"
    signed_up = await http.post(
        "/auth/user", json={"username": email, "emails": [email], "password": PASSWORD}
    )
    signed_up.raise_for_status()
    userid = signed_up.json()["userid"]
    headers = {TOKEN: signed_up.headers[TOKEN]}
    device = f"BENCH-{index}"
    created = await http.post(
        f"/v1/users/{userid}/data_sets", json=_data_set(device), headers=headers
    )
    created.raise_for_status()
    data_set_id = created.json()["id"]
    datums = _datums(device, chunks * CHUNK)
    batches = [datums[i : i + CHUNK] for i in range(0, len(datums), CHUNK)]
    batches.append(batches[0])  # the re-send after a lost answer
    for batch in batches:
        started = time.perf_counter()
        response = await http.post(f"/v1/datasets/{data_set_id}/data", json=batch, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    closed = await http.put(
        f"/v1/datasets/{data_set_id}", json={"state": "closed"}, headers=headers
    )
    closed.raise_for_status()
    return sum(len(batch) for batch in batches)


async def _run(base_url: str, uploaders: int, chunks: int) -> tuple[int, float, list[float]]:
    times: list[float] = []
    limits = httpx.Limits(max_connections=uploaders + 5)
    async with httpx.AsyncClient(base_url=base_url, timeout=600, limits=limits) as http:
        started = time.perf_counter()
        counts = await asyncio.gather(
            *(_uploader(http, i, chunks, times) for i in range(uploaders))
        )
        elapsed = time.perf_counter() - started
    return sum(counts), elapsed, times


def measure(backend: str, db_url: str, uploaders: int, chunks: int) -> Result:
    """One configuration on a fresh server."""
    with server(db_url) as url:
        datums, seconds, times = asyncio.run(_run(url, uploaders, chunks))
    return Result(backend, uploaders, datums, seconds, times)


def table(results: list[Result]) -> str:
    """A Markdown table of the results."""
    lines = [
        "| storage | uploaders | datums posted | wall s | datums/s | chunk p50 ms | chunk p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.backend} | {r.uploaders} | {r.datums} | {r.seconds:.1f} | {r.rate:,.0f} | "
            f"{statistics.median(r.chunk_ms):.0f} | {r.percentile(99):.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=os.environ.get("DIAHIL_TEST_POSTGRES_URL"))
    parser.add_argument("--chunks", type=int, default=20, help="chunks for a lone uploader")
    parser.add_argument(
        "--concurrent-chunks", type=int, default=4, help="chunks per uploader when concurrent"
    )
    parser.add_argument("--uploaders", type=int, nargs="+", default=[1, 50])
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="diahil-ingest-") as tmp:
        for uploaders in args.uploaders:
            chunks = args.chunks if uploaders == 1 else args.concurrent_chunks
            db = f"sqlite:///{Path(tmp) / f'cloud-{uploaders}.sqlite3'}"
            results.append(measure("SQLite", db, uploaders, chunks))
            if args.postgres:
                with postgres_database(args.postgres) as pg:
                    results.append(measure("PostgreSQL", pg, uploaders, chunks))
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cpus, Python {platform.python_version()}"
    )
    print(table(results))


if __name__ == "__main__":
    main()
