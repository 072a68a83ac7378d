"""Resume after every kind of cloud fault, at every request of an upload.

The mock cloud runs as a real server and its fault API breaks one request position (login,
data-set creation, each chunk, the close, the reconcile and verification reads) with one
kind of fault (5xx of each class, latency beyond the client's timeout, a connection dropped
after the data was stored, 429, an expired session, a body too slow to arrive). Transient
faults are absorbed by the retries; persistent ones exhaust them and end in a clear, typed
error tagged with the step, with nothing recorded as verified. Either way, a plain rerun
finishes the job, and the cloud holds each of the meter's readings exactly once (the
meter's own ledger, ``hil.oracle``).
"""

from __future__ import annotations

import json
import re
import sqlite3
import zlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

import pytest
from typer.testing import CliRunner

from emulator.usb import EmulatedUsbBackend
from hil.cli import app
from hil.cloud import Account, CloudInspector, CloudServer
from hil.devices import EmulatedUsbMeter, plug_contour_meter, running_utc
from hil.harness import UploadHarness
from hil.oracle import compare_with_ledger, expected_smbg
from mock_cloud.faults.spec import HttpMethod
from mock_cloud.faults_client import (
    FaultsClient,
    FaultSpec,
    drop_after_store,
    error,
    expire_session,
    latency,
    rate_limit,
    slow_body,
)
from uploader.cloud import RetryPolicy
from uploader.errors import (
    AuthenticationFailed,
    CloudUnavailable,
    ExitCode,
    Step,
    UploaderError,
)

TRIES = 3
TIMEOUT_S = 0.4
CHUNK = 50
READINGS = 120  # three chunks of at most 50 (a control-solution test is not uploaded)

# name: (method, path glob, nth matching request, the step a persistent fault fails)
POSITIONS: dict[str, tuple[HttpMethod, str, int, Step]] = {
    "login": ("POST", "/auth/login", 1, Step.LOGIN),
    "reconcile": ("GET", "/data/*", 1, Step.RECONCILE),
    "create": ("POST", "/v1/users/*/data_sets", 1, Step.UPLOAD),
    "chunk-1": ("POST", "/v1/data_sets/*/data", 1, Step.UPLOAD),
    "chunk-2": ("POST", "/v1/data_sets/*/data", 2, Step.UPLOAD),
    "chunk-3": ("POST", "/v1/data_sets/*/data", 3, Step.UPLOAD),
    "close": ("PUT", "/v1/data_sets/*", 1, Step.UPLOAD),
    "verify": ("GET", "/data/*", 2, Step.VERIFY),
}
KINDS = ("500", "502", "503", "504", "timeout", "drop", "429", "expired", "slow-body")
# Each kind at three positions, each position under two or more kinds.
PERSISTENT = [
    ("500", "login"), ("500", "chunk-2"), ("500", "verify"),
    ("502", "create"), ("502", "close"), ("502", "reconcile"),
    ("503", "chunk-1"), ("503", "chunk-3"), ("503", "login"),
    ("504", "verify"), ("504", "create"), ("504", "chunk-2"),
    ("timeout", "chunk-2"), ("timeout", "close"), ("timeout", "reconcile"),
    ("drop", "chunk-3"), ("drop", "create"), ("drop", "verify"),
    ("429", "chunk-1"), ("429", "close"), ("429", "login"),
    ("expired", "chunk-2"), ("expired", "verify"), ("expired", "create"),
    ("slow-body", "verify"), ("slow-body", "login"), ("slow-body", "create"),
]  # fmt: skip


STATUSES: dict[str, Literal[500, 502, 503, 504]] = {"500": 500, "502": 502, "503": 503, "504": 504}
NAMES = sorted(POSITIONS)
# Every kind at two positions (rotating), every position under two or more kinds.
TRANSIENT = [(kind, NAMES[(i + k) % len(NAMES)]) for i, kind in enumerate(KINDS) for k in (0, 4)]


def fault(kind: str, position: str, times: int) -> FaultSpec:
    method, path, nth, _ = POSITIONS[position]
    if kind == "timeout":  # answered, but only after the client stopped waiting
        return latency(int(TIMEOUT_S * 2500), method=method, path=path, nth=nth, times=times)
    if kind == "drop":
        return drop_after_store(method=method, path=path, nth=nth, times=times)
    if kind == "429":
        return rate_limit(0, method=method, path=path, nth=nth, times=times)
    if kind == "expired":
        return expire_session(method=method, path=path, nth=nth, times=times)
    if kind == "slow-body":  # each piece of the answer later than the client waits
        return slow_body(int(TIMEOUT_S * 2000), 8, method=method, path=path, nth=nth, times=times)
    status = STATUSES[kind]
    return error(status, method=method, path=path, nth=nth, times=times)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudServer]:
    """One test-mode cloud for the module; each test has its own account and meter."""
    db = tmp_path_factory.mktemp("cloud") / "cloud.sqlite3"
    with CloudServer(f"sqlite:///{db}", test_mode=True) as cloud:
        yield cloud


@pytest.fixture
def cloud_faults(server: CloudServer) -> Iterator[FaultsClient]:
    with FaultsClient(server.base_url) as faults:
        faults.reset()
        yield faults
        faults.reset()


@pytest.fixture
def meter(
    usb_bus: EmulatedUsbBackend,
    hil_timezone: str,
    hil_now: datetime | None,
    request: pytest.FixtureRequest,
) -> EmulatedUsbMeter:
    serial = f"7390-{zlib.crc32(request.node.name.encode()) % 10_000_000:07d}"
    return plug_contour_meter(
        usb_bus,
        hil_timezone,
        serial_number=serial,
        count=READINGS,
        memory_capacity=READINGS,
        now=hil_now,
    )


@pytest.fixture
def account(server: CloudServer, meter: EmulatedUsbMeter) -> Account:
    return server.create_account(f"{meter.model.serial_number}@example.test", "resume-cloud-pw")


@pytest.fixture
def harness(
    server: CloudServer,
    account: Account,
    usb_bus: EmulatedUsbBackend,
    hil_timezone: str,
    hil_now: datetime | None,
    tmp_path: Path,
) -> UploadHarness:
    return UploadHarness(
        cloud_url=server.base_url,
        account=account,
        timezone=hil_timezone,
        state_path=tmp_path / "state.sqlite3",
        usb_backend=usb_bus,
        clock=running_utc(hil_now),
        retry=RetryPolicy(attempts=TRIES, base_delay_s=0.0, max_delay_s=0.0),
    )


def upload(harness: UploadHarness, faulty: bool = True) -> str:
    """One upload in chunks of ``CHUNK``; against faults, with a short cloud timeout."""
    timeout_s = TIMEOUT_S if faulty else 30.0
    return harness.upload(chunk_size=CHUNK, cloud_timeout_s=timeout_s).status


def exactly_once(server: CloudServer, account: Account, meter: EmulatedUsbMeter, tz: str) -> None:
    held = CloudInspector(server.base_url).data(account, type="smbg")
    assert compare_with_ledger(expected_smbg(meter.model, tz), held).assert_exact() > 2 * CHUNK


def verified_rows(state: Path) -> int:
    with sqlite3.connect(state) as db:
        return int(db.execute("SELECT count(*) FROM uploaded_record").fetchone()[0])


@pytest.mark.parametrize(("kind", "position"), TRANSIENT)
def test_a_transient_fault_is_absorbed_by_the_retries(
    kind: str,
    position: str,
    meter: EmulatedUsbMeter,
    harness: UploadHarness,
    cloud_faults: FaultsClient,
    server: CloudServer,
    account: Account,
    hil_timezone: str,
) -> None:
    fault_id = cloud_faults.add(fault(kind, position, times=1))
    assert upload(harness) == "uploaded"
    assert next(f for f in cloud_faults.faults() if f["id"] == fault_id)["hits"] == 1
    exactly_once(server, account, meter, hil_timezone)
    assert upload(harness) == "no-new-data"


@pytest.mark.parametrize(("kind", "position"), PERSISTENT)
def test_a_persistent_fault_is_a_clear_error_and_the_rerun_finishes_exactly(
    kind: str,
    position: str,
    meter: EmulatedUsbMeter,
    harness: UploadHarness,
    cloud_faults: FaultsClient,
    server: CloudServer,
    account: Account,
    hil_timezone: str,
) -> None:
    cloud_faults.add(fault(kind, position, times=TRIES))
    expected_error = AuthenticationFailed if kind == "expired" else CloudUnavailable
    with pytest.raises(expected_error) as failed:
        upload(harness)
    error: UploaderError = failed.value
    assert error.step is POSITIONS[position][3]
    assert error.kept and error.hint  # what was kept, what to do
    if kind != "expired":
        assert f"{TRIES} times in a row" in error.message
    assert verified_rows(harness.state_path) == 0  # nothing unverified was recorded

    cloud_faults.clear()
    # After a failed verification the cloud already holds everything: the rerun's reconcile
    # finds it there and sends nothing; otherwise the rerun sends what is missing.
    assert upload(harness, faulty=False) == ("no-new-data" if position == "verify" else "uploaded")
    exactly_once(server, account, meter, hil_timezone)


def test_retry_after_is_honoured_over_the_wire(
    meter: EmulatedUsbMeter,
    harness: UploadHarness,
    cloud_faults: FaultsClient,
    server: CloudServer,
    account: Account,
    hil_timezone: str,
) -> None:
    cloud_faults.add(rate_limit(1, method="POST", path="/v1/data_sets/*/data", nth=2))
    assert upload(harness) == "uploaded"
    chunks = [r for r in cloud_faults.requests() if r.path.endswith("/data")]
    limited = next(i for i, r in enumerate(chunks) if r.status == 429)
    waited = datetime.fromisoformat(chunks[limited + 1].time) - datetime.fromisoformat(
        chunks[limited].time
    )
    assert waited >= timedelta(seconds=0.95)  # the retry came after Retry-After: 1
    exactly_once(server, account, meter, hil_timezone)


def test_the_time_budget_ends_retries_before_the_tries_run_out(
    meter: EmulatedUsbMeter,
    harness: UploadHarness,
    cloud_faults: FaultsClient,
    server: CloudServer,
    account: Account,
    hil_timezone: str,
) -> None:
    cloud_faults.add(error(503, method="POST", path="/v1/data_sets/*/data", nth=2, times=1000))
    patient = RetryPolicy(attempts=1000, base_delay_s=0.05, max_delay_s=0.05, budget_s=0.5)
    with pytest.raises(CloudUnavailable, match=r"gave up after \d+ tries .*retry budget 0.5 s"):
        harness.upload(chunk_size=CHUNK, retry=patient)
    tries = sum(1 for r in cloud_faults.requests() if r.status == 503)
    assert 2 <= tries < 100

    cloud_faults.clear()
    cloud_faults.add(rate_limit(30, method="POST", path="/v1/data_sets/*/data", times=1))
    with pytest.raises(CloudUnavailable, match="asked to wait 30 s, more than the retry budget"):
        harness.upload(chunk_size=CHUNK, retry=RetryPolicy(budget_s=5))

    cloud_faults.clear()
    assert upload(harness) == "uploaded"
    exactly_once(server, account, meter, hil_timezone)


def test_the_command_line_gives_up_within_its_retry_budget(tmp_path: Path) -> None:
    unreachable = "http://127.0.0.1:9"  # the discard port: nothing listens
    result = CliRunner().invoke(
        app,
        [
            "upload", "usb", "--cloud", unreachable, "--timezone", "UTC",
            "--email", "pat@example.test", "--password", "pw", "--state",
            str(tmp_path / "state.sqlite3"), "--retries", "20", "--retry-budget-s", "1", "--json",
        ],
    )  # fmt: skip
    assert result.exit_code == ExitCode.CLOUD_FAILED, result.output
    failure = json.loads(result.stdout)
    assert (failure["error"], failure["step"]) == ("CloudUnavailable", "login")
    assert re.search(
        r"could not be reached.*gave up after \d+ tries in [\d.]+ s", failure["message"]
    )
    assert "(retry budget 1 s)" in failure["message"]
    assert "run the upload again" in failure["hint"]
