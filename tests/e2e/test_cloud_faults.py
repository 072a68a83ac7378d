"""The uploader against a misbehaving cloud (the mock cloud's fault API, over real HTTP):
whatever the cloud does, it ends up holding each reading exactly once, or the user gets a
clear error and the next run finishes the job."""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from emulator.usb import EmulatedUsbBackend
from hil.cloud import Account, CloudInspector, CloudServer
from hil.devices import EmulatedUsbMeter, plug_contour_meter, running_utc
from hil.harness import UploadHarness
from hil.oracle import compare_with_ledger, expected_smbg, union
from mock_cloud.faults_client import FaultsClient, drop_after_store, error, rate_limit
from uploader.errors import CloudUnavailable, Step

DATA = "/v1/data_sets/*/data"


@pytest.fixture
def meter(
    usb_bus: EmulatedUsbBackend, hil_timezone: str, hil_now: datetime | None
) -> EmulatedUsbMeter:
    # 3000 readings: three chunks of 1000, so a fault can hit the middle one.
    return plug_contour_meter(usb_bus, hil_timezone, count=3000, memory_capacity=3000, now=hil_now)


@pytest.fixture
def account(mock_cloud_server: CloudServer) -> Account:
    return mock_cloud_server.create_account("faults@example.test", "faulty-cloud-pw")


@pytest.fixture
def harness(
    mock_cloud_server: CloudServer,
    account: Account,
    usb_bus: EmulatedUsbBackend,
    hil_timezone: str,
    hil_now: datetime | None,
    tmp_path: Path,
) -> UploadHarness:
    return UploadHarness(
        cloud_url=mock_cloud_server.base_url,
        account=account,
        timezone=hil_timezone,
        state_path=tmp_path / "state.sqlite3",
        usb_backend=usb_bus,
        clock=running_utc(hil_now),
    )


def exact(server: CloudServer, account: Account, meter: EmulatedUsbMeter, tz: str) -> int:
    held = CloudInspector(server.base_url).data(account, type="smbg")
    return compare_with_ledger(expected_smbg(meter.model, tz), held).assert_exact()


def test_a_connection_dropped_after_the_chunk_was_stored_creates_no_duplicates(
    meter: EmulatedUsbMeter,
    harness: UploadHarness,
    cloud_faults: FaultsClient,
    mock_cloud_server: CloudServer,
    account: Account,
    hil_timezone: str,
) -> None:
    cloud_faults.add(drop_after_store(method="POST", path=DATA, nth=2, times=1))
    result = harness.upload()
    assert result.status == "uploaded"
    assert result.duplicates == 1000  # the resent chunk: the cloud already had it
    assert exact(mock_cloud_server, account, meter, hil_timezone) == result.datums


def test_5xx_and_429_on_the_way_are_retried(
    meter: EmulatedUsbMeter,
    harness: UploadHarness,
    cloud_faults: FaultsClient,
    mock_cloud_server: CloudServer,
    account: Account,
    hil_timezone: str,
) -> None:
    cloud_faults.add(error(503, method="POST", path=DATA, nth=1, times=1))
    cloud_faults.add(rate_limit(1, method="POST", path=DATA, nth=3, times=1))
    assert harness.upload().status == "uploaded"
    statuses = [r.status for r in cloud_faults.requests() if r.path.endswith("/data")]
    assert 503 in statuses and 429 in statuses
    exact(mock_cloud_server, account, meter, hil_timezone)


def test_an_outage_mid_upload_is_a_clear_error_and_the_rerun_finishes_exactly(
    meter: EmulatedUsbMeter,
    harness: UploadHarness,
    cloud_faults: FaultsClient,
    mock_cloud_server: CloudServer,
    account: Account,
    hil_timezone: str,
) -> None:
    cloud_faults.add(error(503, method="POST", path=DATA, nth=2, times=100))  # 2nd chunk on
    with pytest.raises(CloudUnavailable, match="answered 503") as caught:
        harness.upload()
    assert caught.value.step is Step.UPLOAD
    assert re.search(r"1000 of \d+ datums reached the cloud", caught.value.user_message())
    with sqlite3.connect(harness.state_path) as state:  # nothing recorded as verified
        assert state.execute("SELECT count(*) FROM uploaded_record").fetchone() == (0,)

    cloud_faults.clear()
    result = harness.upload()
    assert result.status == "uploaded"
    exact(mock_cloud_server, account, meter, hil_timezone)


def test_an_expired_session_is_renewed_without_the_user_noticing(
    meter: EmulatedUsbMeter,
    harness: UploadHarness,
    cloud_faults: FaultsClient,
    mock_cloud_server: CloudServer,
    account: Account,
    hil_timezone: str,
) -> None:
    harness.upload()
    before = expected_smbg(meter.model, hil_timezone)
    meter.model.measure(123)  # the memory is full: the oldest reading makes room
    cloud_faults.expire_tokens()
    assert harness.upload().new_datums == 1
    held = CloudInspector(mock_cloud_server.base_url).data(account, type="smbg")
    expected = union(before, expected_smbg(meter.model, hil_timezone))
    compare_with_ledger(expected, held).assert_exact()
