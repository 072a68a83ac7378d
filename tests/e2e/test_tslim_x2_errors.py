"""End to end over Bluetooth LE: how the t:slim X2 driver fails, and what it tells the user,
against an emulated pump (link cut by the radio, a code the pump no longer accepts), and
what it reads besides history (status, profiles as ``pumpSettings``), judged by the pump's
own profiles (``hil.tslim_x2_oracle``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from emulator.ble.tslim_x2 import TslimX2
from emulator.faults import CutLinkAfterPackets, FaultPlan
from hil.ble import BleWorld
from hil.cloud import Account, CloudInspector
from hil.devices import EmulatedBleDevice
from hil.harness import UploadHarness
from hil.oracle import LedgerComparison
from hil.scripted_time import ScriptedTime
from uploader.errors import DeviceDisconnected, ExitCode, PairingFailed, Step
from uploader.pairing import fixed_code
from uploader.watch import WatchConfig, Watcher

Pump = EmulatedBleDevice[TslimX2]
Check = Callable[[Pump], LedgerComparison]
WRONG_CODE = "ABCD-EFGH-JKLM-NPQS"


def _code(pump: Pump) -> Any:
    shown = pump.peripheral.display
    assert shown is not None
    return fixed_code(shown)


def test_a_link_cut_while_pairing_is_a_dropped_link_not_a_wrong_code(
    make_tslim_pump: Callable[..., Pump], ble_uploader: UploadHarness
) -> None:
    # a whole pairing, refused at its last answer, counts the packets up to that answer
    measured = make_tslim_pump(days=1)
    with pytest.raises(PairingFailed):
        ble_uploader.upload(measured.device_spec, pairing_code=fixed_code(WRONG_CODE))
    packets = measured.peripheral.data_packets
    measured.stop()
    # the same pairing with the right code, the pump's verdict lost on the air
    pump = make_tslim_pump(days=1, faults=FaultPlan([CutLinkAfterPackets(packets - 1)]))
    with pytest.raises(DeviceDisconnected) as dropped:
        ble_uploader.upload(pump.device_spec, pairing_code=_code(pump))
    assert pump.faults.fired
    assert dropped.value.step == Step.CONNECT
    assert dropped.value.exit_code == ExitCode.DEVICE_COMMUNICATION
    message = dropped.value.user_message()
    assert "dropped the link while pairing" in message
    assert "keep the pump close" in message.lower() and "paired with another phone" in message
    assert "code" not in message.split("pairing.")[1].split("If it")[0]  # no "retype the code"
    # nothing was refused: the rerun with the same code pairs and uploads
    before = pump.peripheral.authentications
    assert ble_uploader.upload(pump.device_spec, pairing_code=_code(pump)).status == "uploaded"
    assert pump.peripheral.authentications == before + 1


def test_a_code_the_pump_no_longer_accepts_is_refused_and_forgotten(
    make_tslim_pump: Callable[..., Pump], ble_uploader: UploadHarness
) -> None:
    pump = make_tslim_pump(days=1)
    assert ble_uploader.upload(pump.device_spec, pairing_code=_code(pump)).status == "uploaded"
    pump.peripheral.pair_another_phone("QRST-UVWX-YZAB-CDEF")
    with pytest.raises(PairingFailed) as refused:
        ble_uploader.upload(pump.device_spec)  # the remembered code, no prompt
    assert refused.value.step == Step.CONNECT
    assert refused.value.exit_code == ExitCode.DEVICE_COMMUNICATION
    assert "refused the pairing code it accepted before" in refused.value.user_message()
    # forgotten: the next upload asks for the code, and the new one is accepted and kept
    asked: list[str] = []

    async def prompt(label: str) -> str:
        asked.append(label)
        return "QRST-UVWX-YZAB-CDEF"

    again = ble_uploader.upload(pump.device_spec, pairing_code=prompt)
    assert again.status in ("uploaded", "no-new-data") and len(asked) == 1
    assert ble_uploader.upload(pump.device_spec).status == "no-new-data"


def test_profiles_become_pump_settings_and_a_week_matches_the_ledger_exactly(
    make_tslim_pump: Callable[..., Pump],
    ble_uploader: UploadHarness,
    tslim_ledger_check: Check,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
) -> None:
    pump = make_tslim_pump(days=7)
    result = ble_uploader.upload(pump.device_spec, pairing_code=_code(pump))
    assert result.status == "uploaded"
    # every datum as the ledger says: pumpSettings by profile name, basals named by their
    # profile, temps with percent and suppressed, suspends with suppressed, alerts
    tslim_ledger_check(pump).assert_exact()
    # the profiles did not change: the next upload sends no second pumpSettings
    assert ble_uploader.upload(pump.device_spec).status == "no-new-data"
    held = cloud_inspector.data(cloud_account, type="pumpSettings")
    assert len(held) == 1 and held[0]["activeSchedule"] == pump.peripheral.pump.profiles()[0].name
    assert any(note.startswith("Pump status: API ") for note in result.notes)


def test_the_watcher_uploads_a_pump_with_the_code_given_once(
    make_tslim_pump: Callable[..., Pump],
    ble_uploader: UploadHarness,
    ble_world: BleWorld,
    tslim_ledger_check: Check,
) -> None:
    pump = make_tslim_pump(days=3)
    code = pump.peripheral.display
    assert code is not None
    config = WatchConfig(
        usb=False, ble=True, ble_transport=ble_uploader.ble_transport, ble_scan_s=0.3
    )
    time = ScriptedTime()
    watcher = Watcher(
        config,
        lambda spec: ble_uploader.options(spec, pairing_code=fixed_code(code)),
        clock=time.now,
        sleep=time.sleep,
        should_stop=lambda w: w.polls >= 2,
    )
    runs = ble_world.run(watcher.run())
    assert [r.device for r in runs] == [pump.device_spec]  # once: then nothing new
    assert runs[0].result is not None and runs[0].result.status == "uploaded"
    comparison = tslim_ledger_check(pump)
    assert comparison.matched > 0 and not (comparison.missing or comparison.duplicated)
