"""SIGKILL the real ``diahil upload`` at many points; the rerun ends with each record once.

The uploader runs as a process (``python -m hil.cli upload``, the ``diahil`` entry point)
against an emulated GLS meter in its own process (Bluetooth over a Bumble ``tcp-client:``
transport) and the mock cloud as a real server. Each kill point is reached
deterministically, never by timing: a ``hold`` fault (``mock_cloud.faults``) keeps one
request (or its answer, after the cloud stored it) waiting, the test waits until the cloud
says it holds the request (or the answer: the data is stored by then), and then kills the
uploader; the device read is stopped the same way by the emulator's own fault (the
indication ending the read never comes); the save-state point is reached by holding a
write lock on the state database: the uploader verifies, checks the latest day (its last
request) and cannot save. After the kill the state must hold nothing (nothing is recorded
before verification). Then the held request is let go, and a plain rerun must exit 0 with
the cloud holding each of the meter's readings exactly once (``hil.oracle``) and the state
recording each of them as verified.
"""

from __future__ import annotations

import contextlib
import json
import math
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hil.cloud import Account, CloudInspector, CloudServer
from hil.oracle import compare_with_ledger, expected_smbg
from hil.processes import EmulatorProcess
from mock_cloud.faults_client import FaultsClient, hold
from uploader.state import SyncState

PASSKEY = "135246"
TIMEZONE = "Europe/Paris"
CHUNK = 40
DATA = "/v1/data_sets/*/data"


@pytest.fixture(scope="module")
def meter() -> Iterator[EmulatorProcess]:
    process = EmulatorProcess("gls-meter", "--seed", "11", "--days", "30", "--passkey", PASSKEY)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def readings(meter: EmulatorProcess) -> int:
    count = len(expected_smbg(meter.meter_model(), TIMEZONE, out_of_range="unknown"))
    assert count > 2 * CHUNK  # three chunks or more: "between chunks" exists
    return count


@pytest.fixture
def account(mock_cloud_server: CloudServer) -> Account:
    return mock_cloud_server.create_account("kill@example.test", "kill-point-pw")


def command(
    meter: EmulatorProcess, server: CloudServer, account: Account, state: Path
) -> list[str]:
    return [
        sys.executable, "-m", "hil.cli", "upload", meter.device_spec,
        "--ble-transport", meter.hci_client, "--passkey", PASSKEY,
        "--cloud", server.base_url, "--timezone", TIMEZONE,
        "--email", account.email, "--password", account.password,
        "--state", str(state), "--chunk-size", str(CHUNK), "--json",
    ]  # fmt: skip


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.01)


class KillPoint:
    """Arms one point, waits until the uploader is there, and lets go after the kill."""

    def arm(self, faults: FaultsClient, meter: EmulatorProcess, state: Path) -> None: ...

    def wait(self, faults: FaultsClient, meter: EmulatorProcess) -> None: ...

    def release(self, faults: FaultsClient, meter: EmulatorProcess) -> None: ...


class HoldRequest(KillPoint):
    def __init__(self, method: str, path: str, nth: int = 1, after_handling: bool = False):
        self.spec = hold(method=method, path=path, nth=nth, after_handling=after_handling)  # type: ignore[arg-type]
        self.fault_id = ""

    def arm(self, faults: FaultsClient, meter: EmulatorProcess, state: Path) -> None:
        self.fault_id = faults.add(self.spec)

    def wait(self, faults: FaultsClient, meter: EmulatorProcess) -> None:
        faults.wait_until_held(self.fault_id)

    def release(self, faults: FaultsClient, meter: EmulatorProcess) -> None:
        faults.clear()  # the held request goes on (its client is gone): wait until it is over
        wait_until(lambda: any("hold" in r.faults for r in faults.requests()), "held done")


class StopTheDeviceRead(KillPoint):
    """The meter never sends the indication that ends the record transfer."""

    def arm(self, faults: FaultsClient, meter: EmulatorProcess, state: Path) -> None:
        meter.add_fault({"fault": "drop-indication", "which": "racp", "times": None})

    def wait(self, faults: FaultsClient, meter: EmulatorProcess) -> None:
        def fired() -> bool:
            response = httpx.get(meter.info["control"] + "/faults/fired", timeout=5)
            return bool(response.json()["fired"])

        wait_until(fired, "the meter dropped the indication")

    def release(self, faults: FaultsClient, meter: EmulatorProcess) -> None:
        httpx.delete(meter.info["control"] + "/faults", timeout=5).raise_for_status()


class LockTheState(KillPoint):
    """A write lock on the state database: the uploader verifies, then cannot save."""

    def __init__(self) -> None:
        self.lock: sqlite3.Connection | None = None

    def arm(self, faults: FaultsClient, meter: EmulatorProcess, state: Path) -> None:
        SyncState(state).close()  # the database exists (as after any earlier run)
        self.lock = sqlite3.connect(state, isolation_level=None)
        self.lock.execute("BEGIN IMMEDIATE")  # readers go on, writers wait

    def wait(self, faults: FaultsClient, meter: EmulatorProcess) -> None:
        def last_request_answered() -> bool:  # reads: reconcile, verify, latest day
            reads = [
                r for r in faults.requests() if r.method == "GET" and r.path.startswith("/data/")
            ]
            return len(reads) >= 3 and reads[2].status == 200

        # Nothing is left but saving, which the lock stops (the uploader waits up to 5 s).
        wait_until(last_request_answered, "the latest-day read was answered")

    def release(self, faults: FaultsClient, meter: EmulatorProcess) -> None:
        assert self.lock is not None
        self.lock.execute("ROLLBACK")
        self.lock.close()


KILL_POINTS: dict[str, Callable[[int], KillPoint]] = {  # given the number of chunks
    "at-login": lambda _: HoldRequest("POST", "/auth/login"),
    "during-the-device-read": lambda _: StopTheDeviceRead(),
    "before-data-set-creation": lambda _: HoldRequest("POST", "/v1/users/*/data_sets"),
    "after-data-set-creation": lambda _: HoldRequest(
        "POST", "/v1/users/*/data_sets", after_handling=True
    ),
    "before-the-first-chunk": lambda _: HoldRequest("POST", DATA, nth=1),
    "between-chunks": lambda _: HoldRequest("POST", DATA, nth=2, after_handling=True),
    "after-the-last-chunk-was-stored": lambda chunks: HoldRequest(
        "POST", DATA, nth=chunks, after_handling=True
    ),
    "before-the-close": lambda _: HoldRequest("PUT", "/v1/data_sets/*"),
    "during-verification": lambda _: HoldRequest("GET", "/data/*", nth=2),
    "before-the-state-is-saved": lambda _: LockTheState(),
}


def cloud_holds_each_reading_once(
    server: CloudServer, account: Account, meter: EmulatorProcess
) -> int:
    held = CloudInspector(server.base_url).data(account, type="smbg")
    expected = expected_smbg(meter.meter_model(), TIMEZONE, out_of_range="unknown")
    return compare_with_ledger(expected, held).assert_exact()


def verified_in(state: Path) -> int:
    """How many records the state database holds as verified (any account or device)."""
    if not state.exists():
        return 0
    with contextlib.closing(sqlite3.connect(state)) as db:
        return int(db.execute("SELECT COUNT(*) FROM uploaded_record").fetchone()[0])


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_sigkill_then_rerun_holds_each_record_exactly_once(
    point: str,
    meter: EmulatorProcess,
    readings: int,
    mock_cloud_server: CloudServer,
    cloud_faults: FaultsClient,
    account: Account,
    tmp_path: Path,
) -> None:
    state = tmp_path / "state.sqlite3"
    kill_point = KILL_POINTS[point](math.ceil(readings / CHUNK))
    kill_point.arm(cloud_faults, meter, state)
    uploader = subprocess.Popen(
        command(meter, mock_cloud_server, account, state),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        kill_point.wait(cloud_faults, meter)
        assert uploader.poll() is None, "the uploader ended before the kill point"
        uploader.kill()  # SIGKILL: no cleanup, no finally, no atexit
        assert uploader.wait(timeout=10) == -9
    finally:
        if uploader.poll() is None:
            uploader.kill()
            uploader.wait(timeout=10)
        for stream in (uploader.stdout, uploader.stderr):
            assert stream is not None
            stream.close()
        kill_point.release(cloud_faults, meter)
    assert verified_in(state) == 0  # killed before anything was recorded as verified

    rerun = subprocess.run(
        command(meter, mock_cloud_server, account, state),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    summary: dict[str, Any] = json.loads(rerun.stdout)
    assert summary["status"] in ("uploaded", "no-new-data")
    assert cloud_holds_each_reading_once(mock_cloud_server, account, meter) == readings
    assert verified_in(state) == readings  # and the state knows it: the next run sends nothing
