"""End to end over Bluetooth LE: an emulated CGMS sensor, the uploader through bleak on the
project's Bumble central, the mock cloud; judged by what the sensor held at each upload."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import cast

import pytest

from emulator.ble import CgmSensor
from emulator.faults import CorruptE2ECrc, DisconnectAfterRecord
from emulator.generators.cgm_history import CgmHistory
from hil.cloud import Account, CloudInspector
from hil.devices import EmulatedBleDevice, ManualTime
from hil.harness import UploadHarness
from hil.oracle import ExpectedCbg, compare_cbg_with_ledger, expected_cbg
from uploader.errors import DataIntegrityError, DeviceDisconnected, Step

MakeSensor = Callable[..., EmulatedBleDevice[CgmSensor]]


def held(sensor: EmulatedBleDevice[CgmSensor]) -> list[ExpectedCbg]:
    return expected_cbg(sensor.peripheral.model)


def assert_cloud_holds(
    inspector: CloudInspector, account: Account, *ledgers: list[ExpectedCbg]
) -> int:
    union = {item.device_time: item for ledger in ledgers for item in ledger}
    cloud = inspector.data(account, type="cbg")
    return compare_cbg_with_ledger(list(union.values()), cloud).assert_exact()


def test_the_cloud_holds_exactly_the_sensors_readings(
    cgm_sensor: EmulatedBleDevice[CgmSensor],
    ble_uploader: UploadHarness,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
) -> None:
    result = ble_uploader.upload_ble(cgm_sensor)
    ledger = held(cgm_sensor)
    assert result.status == "uploaded" and result.records_read == len(ledger) > 2000
    assert any(item.out_of_range for item in ledger)  # LO/HI are in this history
    assert assert_cloud_holds(cloud_inspector, cloud_account, ledger) == len(ledger)
    (data_set,) = cloud_inspector.data_sets(cloud_account)
    assert (data_set["deviceTags"], data_set["timeProcessing"]) == (["cgm"], "none")


def test_a_sensor_with_e2e_crc_uploads_exactly(
    make_cgm_sensor: MakeSensor,
    ble_uploader: UploadHarness,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
) -> None:
    sensor = make_cgm_sensor(seed=4, days=3, e2e_crc=True)
    ble_uploader.upload_ble(sensor)
    assert_cloud_holds(cloud_inspector, cloud_account, held(sensor))


def test_a_corrupted_e2e_crc_is_detected_and_nothing_is_uploaded(
    make_cgm_sensor: MakeSensor,
    ble_uploader: UploadHarness,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
) -> None:
    sensor = make_cgm_sensor(seed=5, days=3, e2e_crc=True, faults=None)
    sensor.faults.add(CorruptE2ECrc(record=50, times=1))
    with pytest.raises(DataIntegrityError, match="integrity check") as caught:
        ble_uploader.upload_ble(sensor)
    assert caught.value.step is Step.FETCH
    assert cloud_inspector.data(cloud_account) == []
    ble_uploader.upload_ble(sensor)  # the corruption was in transit: a rerun is clean
    assert_cloud_holds(cloud_inspector, cloud_account, held(sensor))


def test_later_uploads_read_only_a_window_and_catch_backfilled_readings(
    cgm_sensor: EmulatedBleDevice[CgmSensor],
    cgm_time: ManualTime,
    ble_uploader: UploadHarness,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
) -> None:
    ble_uploader.upload_ble(cgm_sensor)
    first = held(cgm_sensor)
    again = ble_uploader.upload_ble(cgm_sensor)
    assert again.status == "no-new-data" and again.records_read <= 3 * 12 + 1  # the 3 h window
    for _ in range(8):  # a day in 3-hour steps: signal losses end, their readings arrive late
        cgm_time.advance(timedelta(hours=3))
        ble_uploader.upload_ble(cgm_sensor)
    assert assert_cloud_holds(cloud_inspector, cloud_account, first, held(cgm_sensor)) > len(first)


def test_readings_backfilled_behind_the_last_upload_are_not_missed(
    cgm_sensor: EmulatedBleDevice[CgmSensor],
    cgm_time: ManualTime,
    ble_uploader: UploadHarness,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
) -> None:
    """Upload just after a signal loss ended but before the sensor stored the lost readings:
    they arrive with time offsets older than the last one uploaded, and the next upload must
    still take them (the driver re-reads a 3-hour window)."""
    world = cast(CgmHistory, cgm_sensor.peripheral.model.world)
    now = cgm_time()
    loss = next(
        loss
        for day in range(1, 4)
        for loss in world.signal_losses((now + timedelta(days=day)).date())
        if loss.backfill_at - loss.end >= timedelta(minutes=10) and loss.start > now
    )
    ble_uploader.upload_ble(cgm_sensor)
    first = held(cgm_sensor)
    cgm_time.advance(loss.end + timedelta(minutes=6) - now)  # real-time readings resumed...
    ble_uploader.upload_ble(cgm_sensor)  # ...but the backfill is still held back
    before_backfill = held(cgm_sensor)
    cgm_time.advance(loss.backfill_at + timedelta(minutes=1) - cgm_time())
    after_backfill = held(cgm_sensor)
    late = {r.device_time for r in after_backfill} - {r.device_time for r in before_backfill}
    newest_uploaded = max(r.device_time for r in before_backfill)
    assert any(t < newest_uploaded for t in late)  # the case this test is about
    ble_uploader.upload_ble(cgm_sensor)
    assert_cloud_holds(cloud_inspector, cloud_account, first, before_backfill, after_backfill)


def test_a_new_session_starts_over_and_keeps_times_right(
    cgm_sensor: EmulatedBleDevice[CgmSensor],
    cgm_time: ManualTime,
    ble_uploader: UploadHarness,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
) -> None:
    ble_uploader.upload_ble(cgm_sensor)
    first = held(cgm_sensor)
    old_start = first[0].device_time
    cgm_time.advance(timedelta(days=5))  # the 14-day sensor expires; a new one is started
    result = ble_uploader.upload_ble(cgm_sensor)
    second = held(cgm_sensor)
    assert second and second[0].device_time > first[-1].device_time != old_start
    assert result.records_read == len(second)  # a new session is read from its beginning
    assert_cloud_holds(cloud_inspector, cloud_account, first, second)


def test_a_dropped_link_mid_download_resumes_without_duplicates(
    cgm_sensor: EmulatedBleDevice[CgmSensor],
    ble_uploader: UploadHarness,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
) -> None:
    cgm_sensor.faults.add(DisconnectAfterRecord(500))
    with pytest.raises(DeviceDisconnected):
        ble_uploader.upload_ble(cgm_sensor)
    assert cloud_inspector.data(cloud_account) == []
    result = ble_uploader.upload_ble(cgm_sensor)
    assert result.duplicates == 0
    assert_cloud_holds(cloud_inspector, cloud_account, held(cgm_sensor))
