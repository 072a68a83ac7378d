"""Load: 200 emulated devices of mixed kinds upload at once to one mock cloud on loopback.

Contour USB meters, GLS meters, CGMS sensors and IDS pumps (round robin) plus one MiniMed
600 through a Contour Next Link (the emulated pumps share one serial number, and the cloud
links a pump to one account), each its own person with its own account, uploader state and
USB bus or radio, all uploading concurrently (one thread each, through the real uploader)
to one mock cloud under uvicorn on 127.0.0.1, in its own process (``mock_cloud.cli serve
--test-mode``; ``--in-process`` runs it in a thread of this process instead, where it
competes with 200 uploaders for one interpreter lock): SQLite in a temporary file, or
PostgreSQL with ``--postgres URL`` (a database the run may fill). Then every device's ledger is
compared with the cloud: lost and duplicated records must be zero (exit 1 otherwise), and
the p50/p99 of the cloud's own handling time of each chunk POST (its request log) are
printed. Bounded: nothing leaves the machine, the run ends when every upload has.

Usage: ``python -m bench.load [--devices 200] [--postgres postgresql://...] [--in-process]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx

from hil.cloud import Account, CloudServer
from hil.load import Cloud, mixed_kinds, run_load

TIMEZONE = "Europe/Paris"


class CloudProcess:
    """A test-mode mock cloud in its own process; accounts are made by signing up."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def create_account(self, email: str, password: str) -> Account:
        body = {"username": email, "emails": [email], "password": password}
        response = httpx.post(f"{self.base_url}/auth/user", json=body, timeout=30)
        response.raise_for_status()
        return Account(email, password, str(response.json()["userid"]))


@contextmanager
def cloud_process(db_url: str) -> Iterator[CloudProcess]:
    command = [sys.executable, "-m", "mock_cloud.cli", "serve", "--port", "0", "--db", db_url]
    process = subprocess.Popen(
        [*command, "--test-mode"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("mock cloud serving on "):
            raise RuntimeError(f"the mock cloud did not start: {line!r}")
        yield CloudProcess(line.split()[4].rstrip(","))
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


@contextmanager
def cloud(db_url: str, in_process: bool) -> Iterator[Cloud]:
    if in_process:
        with CloudServer(db_url, test_mode=True) as server:
            yield server
    else:
        with cloud_process(db_url) as process:
            yield process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--postgres", default=None, help="a PostgreSQL URL instead of SQLite")
    parser.add_argument("--in-process", action="store_true", help="the cloud in a thread")
    args = parser.parse_args()
    now = datetime.now(UTC).replace(microsecond=0)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; storage: {'PostgreSQL' if args.postgres else 'SQLite'}; "
        f"cloud {'in this process' if args.in_process else 'in its own process'}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="diahil-load-") as tmp:
        url = args.postgres or f"sqlite:///{Path(tmp) / 'cloud.sqlite3'}"
        with cloud(url, args.in_process) as server:
            report = run_load(
                server,
                mixed_kinds(args.devices),
                Path(tmp),
                TIMEZONE,
                now,
                progress=lambda line: print(line, flush=True),
            )
    print(report.summary())
    slowest = max(report.devices, key=lambda d: d.seconds)
    print(f"slowest upload: {slowest.kind} #{slowest.index}, {slowest.seconds:.1f} s")
    for device in report.failed:
        print(f"FAILED {device.kind} #{device.index}: {device.error or device}", file=sys.stderr)
    if report.lost or report.duplicated or report.failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
