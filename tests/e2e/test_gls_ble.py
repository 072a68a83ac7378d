"""End to end over Bluetooth LE: an emulated GLS meter, the uploader through bleak on the
project's Bumble central, passkey pairing, the mock cloud; judged by the meter's ledger."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

from emulator.ble import GlsMeter, GlsQuirks
from emulator.faults import DisconnectAfterRecord, DropIndication, RejectPairing
from emulator.model import GlucoseUnit
from hil.ble import BleWorld
from hil.cloud import Account, CloudInspector
from hil.devices import EmulatedBleDevice, start_gls_meter
from hil.harness import UploadHarness
from hil.oracle import compare_with_ledger, expected_smbg
from uploader.errors import (
    AmbiguousDevice,
    DeviceAccessDenied,
    DeviceDisconnected,
    DeviceNotFound,
    DeviceTimeout,
    PairingFailed,
    Step,
)


def assert_exact(
    inspector: CloudInspector, account: Account, meter: EmulatedBleDevice[GlsMeter], tz: str
) -> int:
    expected = expected_smbg(meter.peripheral.model, tz, out_of_range="unknown")
    return compare_with_ledger(expected, inspector.data(account, type="smbg")).assert_exact()


async def wrong_code(_label: str) -> int:
    return 111111


async def must_not_ask(label: str) -> int:
    raise AssertionError(f"a bonded device must not need a passkey ({label})")


def test_the_cloud_holds_exactly_the_gls_meters_ledger(
    gls_meter: EmulatedBleDevice[GlsMeter],
    ble_uploader: UploadHarness,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
    hil_timezone: str,
) -> None:
    result = ble_uploader.upload_ble(gls_meter)
    ledger = gls_meter.peripheral.model.ledger()
    assert result.status == "uploaded" and result.records_read == len(ledger)
    matched = assert_exact(cloud_inspector, cloud_account, gls_meter, hil_timezone)
    assert matched == len(ledger) - sum(r.is_control for r in ledger)
    (data_set,) = cloud_inspector.data_sets(cloud_account)
    assert data_set["deviceSerialNumber"] == gls_meter.peripheral.serial_number
    assert data_set["deviceTags"] == ["bgm"]
    assert result.device.clock is not None  # read from the Current Time Service


def test_bonded_reconnect_needs_no_passkey_and_reads_only_new_records(
    gls_meter: EmulatedBleDevice[GlsMeter],
    ble_uploader: UploadHarness,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
    hil_timezone: str,
) -> None:
    ble_uploader.upload_ble(gls_meter)
    again = ble_uploader.upload_ble(gls_meter, passkey=must_not_ask)
    assert (again.status, again.records_read) == ("no-new-data", 0)
    gls_meter.peripheral.model.measure(131)
    gls_meter.peripheral.model.measure(148)
    third = ble_uploader.upload_ble(gls_meter, passkey=must_not_ask)
    assert (third.records_read, third.new_datums) == (2, 2)
    assert_exact(cloud_inspector, cloud_account, gls_meter, hil_timezone)


def test_a_wrong_passkey_fails_cleanly_and_the_right_one_then_works(
    gls_meter: EmulatedBleDevice[GlsMeter], ble_uploader: UploadHarness, ble_world: BleWorld
) -> None:
    with pytest.raises(PairingFailed) as caught:
        ble_uploader.upload_ble(gls_meter, passkey=wrong_code)
    assert caught.value.step is Step.CONNECT
    assert "6-digit code" in caught.value.user_message()

    async def connections() -> int:
        return len(gls_meter.peripheral.device.connections)

    assert ble_world.run(connections()) == 0  # no dangling link: the meter advertises again
    assert ble_uploader.upload_ble(gls_meter).status == "uploaded"


def test_a_meter_that_rejects_pairing(
    gls_meter: EmulatedBleDevice[GlsMeter], ble_uploader: UploadHarness
) -> None:
    gls_meter.faults.add(RejectPairing())
    with pytest.raises(PairingFailed):
        ble_uploader.upload_ble(gls_meter)
    assert any("pairing" in fired for fired in gls_meter.faults.fired)


def test_without_pairing_the_meter_refuses_its_data(
    gls_meter: EmulatedBleDevice[GlsMeter], ble_uploader: UploadHarness
) -> None:
    with pytest.raises(DeviceAccessDenied, match="insufficient authentication") as caught:
        ble_uploader.upload(gls_meter.device_spec, passkey=None)
    assert caught.value.step is Step.IDENTIFY


def test_disconnect_mid_download_uploads_nothing_and_the_next_run_resumes_exactly(
    gls_meter: EmulatedBleDevice[GlsMeter],
    ble_uploader: UploadHarness,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
    hil_timezone: str,
) -> None:
    gls_meter.faults.add(DisconnectAfterRecord(40))
    with pytest.raises(DeviceDisconnected) as caught:
        ble_uploader.upload_ble(gls_meter)
    assert caught.value.step is Step.FETCH
    assert cloud_inspector.data(cloud_account) == []
    result = ble_uploader.upload_ble(gls_meter, passkey=must_not_ask)  # bonded on the first try
    assert result.duplicates == 0
    assert_exact(cloud_inspector, cloud_account, gls_meter, hil_timezone)


def test_a_lost_response_indication_times_out_clearly(
    gls_meter: EmulatedBleDevice[GlsMeter], ble_uploader: UploadHarness
) -> None:
    gls_meter.faults.add(DropIndication("racp", times=None))
    with pytest.raises(DeviceTimeout, match="sent nothing"):
        ble_uploader.upload_ble(gls_meter, device_timeout_ms=500)


@pytest.mark.parametrize(
    "quirks",
    [
        GlsQuirks(reversed_sequence=True),
        GlsQuirks(date_time_characteristic=True),
        GlsQuirks(connection_interval_ms=2),
    ],
    ids=["newest-first", "date-time-characteristic", "slow-notifications"],
)
def test_quirky_meters_upload_exactly(
    quirks: GlsQuirks,
    ble_world: BleWorld,
    ble_uploader: UploadHarness,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
    hil_timezone: str,
    hil_now: datetime | None,
) -> None:
    meter = start_gls_meter(ble_world, hil_timezone, days=20, quirks=quirks, now=hil_now)
    result = ble_uploader.upload_ble(meter)
    assert result.device.clock is not None
    assert_exact(cloud_inspector, cloud_account, meter, hil_timezone)
    meter.peripheral.model.measure(99)
    assert ble_uploader.upload_ble(meter).records_read == 1  # the cursor is the highest number


def test_a_meter_in_mmol_per_litre(
    ble_world: BleWorld,
    ble_uploader: UploadHarness,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
    hil_timezone: str,
    hil_now: datetime | None,
) -> None:
    meter = start_gls_meter(
        ble_world, hil_timezone, days=200, seed=9, unit=GlucoseUnit.MMOL_L, now=hil_now
    )
    assert any(r.out_of_range for r in meter.peripheral.model.ledger())
    ble_uploader.upload_ble(meter)
    assert {d["units"] for d in cloud_inspector.data(cloud_account, type="smbg")} == {"mmol/L"}
    assert_exact(cloud_inspector, cloud_account, meter, hil_timezone)


def test_nothing_advertising(ble_uploader: UploadHarness) -> None:
    with pytest.raises(DeviceNotFound, match="No supported device is advertising") as caught:
        ble_uploader.upload("ble", ble_scan_timeout_s=0.3)
    assert caught.value.step is Step.DETECT


def test_plain_ble_with_two_meters_asks_which(
    make_gls_meter: Callable[..., EmulatedBleDevice[GlsMeter]], ble_uploader: UploadHarness
) -> None:
    first = make_gls_meter(days=5, address="F0:F0:F0:F0:F0:0A", serial_number="GLS-A")
    make_gls_meter(days=5, seed=3, address="F0:F0:F0:F0:F0:0B", serial_number="GLS-B")
    with pytest.raises(AmbiguousDevice, match="2 supported devices are advertising") as caught:
        ble_uploader.upload("ble", ble_scan_timeout_s=0.5)
    assert "ble:F0:F0:F0:F0:F0:0A" in caught.value.message
    assert "ble:ADDRESS" in caught.value.user_message()
    assert ble_uploader.upload_ble(first).device.serial_number == "GLS-A"


def test_a_meter_reset_to_record_one_is_read_whole_again(
    gls_meter: EmulatedBleDevice[GlsMeter],
    ble_uploader: UploadHarness,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
    hil_timezone: str,
) -> None:
    ble_uploader.upload_ble(gls_meter)
    model = gls_meter.peripheral.model
    before = expected_smbg(model, hil_timezone, out_of_range="unknown")
    model.memory.reset()  # factory reset: the next record is number 1 again
    for value in (101, 142, 187):
        model.measure(value)
    result = ble_uploader.upload_ble(gls_meter)
    assert result.records_read == 3 and any("reset" in note for note in result.notes)
    after = expected_smbg(model, hil_timezone, out_of_range="unknown")
    held = cloud_inspector.data(cloud_account, type="smbg")
    compare_with_ledger(before + after, held).assert_exact()
