"""End to end over Bluetooth LE: an emulated IDS insulin pump, the uploader's IDS driver
through bleak on the project's Bumble central, the mock cloud; judged by the pump's ledger
(``hil.pump_oracle.expected_pump``), never by the uploader's own output."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from emulator.ble.ids_pump import IdsPump
from emulator.faults import CorruptE2ECrc, DisconnectAfterRecord
from emulator.model.pump import TbrKind
from hil.cloud import Account, CloudInspector
from hil.devices import EmulatedBleDevice
from hil.harness import UploadHarness
from hil.pump_oracle import PumpComparison
from uploader.errors import DataIntegrityError, DeviceDisconnected, ExitCode, Step

Pump = EmulatedBleDevice[IdsPump]
MakePump = Callable[..., Pump]
Check = Callable[[Pump], PumpComparison]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def sub(datums: list[dict[str, Any]], **fields: Any) -> list[dict[str, Any]]:
    return [d for d in datums if all(d.get(k) == v for k, v in fields.items())]


def test_ninety_days_of_pump_history_reach_the_cloud_exactly(
    ids_pump: Pump,
    ble_uploader: UploadHarness,
    pump_ledger_check: Check,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
) -> None:
    result = ble_uploader.upload_ble(ids_pump)
    assert result.status == "uploaded"
    assert result.first_device_time is not None and result.last_device_time is not None
    assert result.last_device_time - result.first_device_time > timedelta(days=89)
    pump_ledger_check(ids_pump).assert_exact()
    (data_set,) = cloud_inspector.data_sets(cloud_account)
    assert data_set["deviceTags"] == ["insulin-pump"]
    assert data_set["timeProcessing"] == "utc-bootstrapping"  # the pump's clock was changed
    again = ble_uploader.upload_ble(ids_pump)
    assert (again.status, again.records_read) == ("no-new-data", 0)

    held = cloud_inspector.data(cloud_account)
    # the pump checklist's cases, each present in the generated history and exact above:
    # cancelled boluses keep what was programmed...
    assert sub(held, type="bolus", subType="normal") and any(
        "expectedNormal" in b for b in sub(held, type="bolus", subType="normal")
    )
    combos = sub(held, type="bolus", subType="dual/square")
    assert combos and any("expectedExtended" in b for b in combos)
    # ...temp basals that cross midnight are split there, each part with what it suppressed
    temps = sub(held, type="basal", deliveryType="temp")
    assert all(t["suppressed"]["deliveryType"] == "scheduled" for t in temps)
    assert any(t["deviceTime"].endswith("T00:00:00") for t in temps)
    # ...suspends are basal intervals without a rate, with status events around them
    suspends = sub(held, type="basal", deliveryType="suspend")
    assert suspends and all("rate" not in s and "suppressed" in s for s in suspends)
    statuses = {s["status"] for s in sub(held, type="deviceEvent", subType="status")}
    assert statuses == {"suspended", "resumed"}
    assert sub(held, type="pumpSettings")[0]["activeSchedule"].startswith("Template ")


def test_a_clock_change_places_events_at_their_true_utc_time(
    make_ids_pump: MakePump,
    ble_uploader: UploadHarness,
    pump_ledger_check: Check,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
) -> None:
    pump = make_ids_pump(seed=6, days=2, clock_changes=False)
    model = pump.peripheral.model
    ble_uploader.upload_ble(pump)
    change = model.now + timedelta(minutes=10)
    model.set_clock(change, model.display(change) + timedelta(hours=3))  # 3 h ahead
    given = change + timedelta(minutes=30)
    model.bolus(given, fast=1.5)
    model.advance(given + timedelta(hours=1))

    result = ble_uploader.upload_ble(pump)
    assert result.status == "uploaded"
    pump_ledger_check(pump).assert_exact()
    held = cloud_inspector.data(cloud_account)
    (moved,) = sub(held, type="deviceEvent", subType="timeChange")
    assert utc(moved["time"]) == change.astimezone(UTC)
    bolus = next(b for b in sub(held, type="bolus") if utc(b["time"]) == given.astimezone(UTC))
    assert bolus["deviceTime"] == model.display(given).isoformat()  # the pump's clock, 3 h on
    assert bolus["normal"] == 1.5

    # a later read holds no clock change: its records are still after the one read before
    later = given + timedelta(hours=2)
    model.bolus(later, fast=2.5)
    model.advance(later + timedelta(hours=1))
    ble_uploader.upload_ble(pump)
    pump_ledger_check(pump).assert_exact()
    (bolus,) = sub(cloud_inspector.data(cloud_account), type="bolus", normal=2.5)
    assert utc(bolus["time"]) == later.astimezone(UTC)


def test_a_disconnect_mid_history_resumes_after_the_last_verified_record(
    make_ids_pump: MakePump,
    ble_uploader: UploadHarness,
    pump_ledger_check: Check,
) -> None:
    pump = make_ids_pump(seed=7, days=3)
    model = pump.peripheral.model
    ble_uploader.upload_ble(pump)
    verified = model.now
    start = verified + timedelta(minutes=5)
    # after the verified upload: a temp basal and six boluses
    model.start_temp_basal(start, kind=TbrKind.ABSOLUTE, value=0.4, minutes=60)
    for hour in range(6):
        model.bolus(start + timedelta(minutes=20, hours=hour), fast=1.0 + hour / 10)
    model.advance(start + timedelta(hours=7))

    pump.faults.add(DisconnectAfterRecord(10))
    with pytest.raises(DeviceDisconnected) as caught:
        ble_uploader.upload_ble(pump)
    assert caught.value.step is Step.FETCH
    resumed = ble_uploader.upload_ble(pump)
    assert resumed.status == "uploaded"
    assert resumed.duplicates == 0
    assert resumed.new_datums >= 7  # the boluses, the temp basal and the intervals it closed
    # only what came after the cursor: the ledger's records since the verified upload (the
    # basal interval running then included), nothing before
    ledger = model.ledger
    moments = [s.at for s in ledger.status] + [a.at for a in ledger.alarms]
    moments += [r.at for r in ledger.reservoir_changes] + [p.at for p in ledger.primes]
    after = sum(b.start > verified for b in ledger.boluses)
    after += sum(i.end is not None and i.end > verified for i in ledger.basal)
    after += sum(at > verified for at in moments)
    assert resumed.records_read == after
    pump_ledger_check(pump).assert_exact()


def test_a_bolus_and_a_temp_basal_running_at_upload_are_sent_once_when_they_end(
    make_ids_pump: MakePump,
    ble_uploader: UploadHarness,
    pump_ledger_check: Check,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
) -> None:
    pump = make_ids_pump(seed=12, days=2, clock_changes=False)
    model = pump.peripheral.model
    start = model.now + timedelta(minutes=5)
    model.start_temp_basal(start, kind=TbrKind.ABSOLUTE, value=0.3, minutes=90)
    combo = start + timedelta(minutes=10)
    model.bolus(combo, fast=1.0, extended=2.0, minutes=60)
    model.advance(start + timedelta(minutes=30))
    assert model.bolus_running and model.temp_running

    ble_uploader.upload_ble(pump)
    pump_ledger_check(pump).assert_exact()  # neither is in the cloud while it runs
    shown = model.display(combo).isoformat()
    assert sub(cloud_inspector.data(cloud_account), type="bolus", deviceTime=shown) == []

    model.advance(start + timedelta(hours=3))
    later = ble_uploader.upload_ble(pump)
    assert (later.status, later.duplicates) == ("uploaded", 0)
    pump_ledger_check(pump).assert_exact()
    (bolus,) = sub(cloud_inspector.data(cloud_account), type="bolus", deviceTime=shown)
    assert (bolus["normal"], bolus["extended"], bolus["duration"]) == (1.0, 2.0, 3_600_000)
    assert "expectedExtended" not in bolus


def test_a_corrupted_e2e_crc_is_detected_and_nothing_is_uploaded(
    make_ids_pump: MakePump,
    ble_uploader: UploadHarness,
    pump_ledger_check: Check,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
) -> None:
    pump = make_ids_pump(seed=8, days=2, e2e=True)
    pump.faults.add(CorruptE2ECrc(record=10, times=1))
    with pytest.raises(DataIntegrityError, match="integrity check") as caught:
        ble_uploader.upload_ble(pump)
    assert caught.value.step is Step.FETCH
    assert caught.value.exit_code == ExitCode.DEVICE_COMMUNICATION
    told = caught.value.user_message()  # what failed, what was kept, what to do
    assert "fails its E2E-CRC" in told and "Nothing of this read was uploaded" in told
    assert "run the upload again" in told
    assert cloud_inspector.data(cloud_account) == []
    ble_uploader.upload_ble(pump)  # the corruption was in transit: a rerun is clean
    pump_ledger_check(pump).assert_exact()


def test_cancelled_and_combination_boluses_temp_basal_over_midnight_and_a_suspend(
    make_ids_pump: MakePump,
    ble_uploader: UploadHarness,
    pump_ledger_check: Check,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
) -> None:
    pump = make_ids_pump(seed=9, days=1, clock_changes=False)
    model = pump.peripheral.model
    ble_uploader.upload_ble(pump)
    at = model.now + timedelta(minutes=5)
    model.bolus(at, fast=6.0, cancel_at=at + timedelta(seconds=80))  # cut short
    combo = at + timedelta(minutes=30)
    model.bolus(combo, fast=2.0, extended=3.0, minutes=120, cancel_at=combo + timedelta(hours=1))
    # a temp basal from 23:00 on the pump's clock, over midnight
    shown = model.display(model.now)
    eleven = shown.replace(hour=23, minute=0, second=0)
    if eleven <= shown + timedelta(hours=3):
        eleven += timedelta(days=1)
    temp_at = (eleven - shown) + model.now
    model.start_temp_basal(temp_at, kind=TbrKind.RELATIVE, value=50, minutes=120)
    suspend = temp_at + timedelta(hours=3)
    model.suspend(suspend)
    model.resume(suspend + timedelta(minutes=40))
    model.advance(suspend + timedelta(hours=2))

    def shown_at(moment: datetime) -> str:
        return model.display(moment).isoformat()

    ble_uploader.upload_ble(pump)
    pump_ledger_check(pump).assert_exact()
    held = cloud_inspector.data(cloud_account)
    # found by the pump's clock (an hour the zone repeats makes local times ambiguous)
    (cut,) = sub(held, type="bolus", deviceTime=shown_at(at))
    assert cut["subType"] == "normal" and cut["expectedNormal"] == 6.0 and cut["normal"] < 6.0
    (dual,) = sub(held, type="bolus", deviceTime=shown_at(combo))
    assert dual["subType"] == "dual/square"
    assert (dual["normal"], dual["expectedExtended"], dual["expectedDuration"]) == (
        2.0,
        3.0,
        7_200_000,
    )
    assert dual["extended"] < 3.0 and dual["duration"] < 7_200_000
    temps = [
        t
        for t in sub(held, type="basal", deliveryType="temp")
        if shown_at(temp_at) <= t["deviceTime"] < shown_at(temp_at + timedelta(hours=2))
    ]
    assert [t["deviceTime"][11:] for t in temps][:2] == ["23:00:00", "00:00:00"]
    assert all(t["percent"] == 0.5 for t in temps)
    assert all(t["rate"] == pytest.approx(t["suppressed"]["rate"] * 0.5, abs=0.01) for t in temps)
    (gap,) = sub(held, type="basal", deliveryType="suspend", deviceTime=shown_at(suspend))
    assert gap["duration"] == 40 * 60_000


def test_a_pump_whose_history_starts_again_is_read_from_its_first_record(
    make_ids_pump: MakePump, ble_uploader: UploadHarness
) -> None:
    first = make_ids_pump(seed=10, days=5)
    before = ble_uploader.upload_ble(first)
    first.stop()
    # the same pump (serial, address) after a reset: new history, numbered from 1 again
    later = first.peripheral.model.now + timedelta(days=2)
    again = make_ids_pump(seed=11, days=2, now=later)  # 2: never empty, whatever the hour
    result = ble_uploader.upload_ble(again)
    assert result.records_read > 0 and result.records_read < before.records_read
    assert any("numbered from" in note for note in result.notes)
