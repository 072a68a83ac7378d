"""End to end over Bluetooth LE: an emulated Tandem t:slim X2, the uploader's t:slim X2
driver through bleak on the project's Bumble central, the mock cloud; judged by the pump's
ledgers (``hil.tslim_x2_oracle``), never by the uploader's own output."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from emulator.ble.tslim_x2 import TslimX2
from emulator.faults import DisconnectAfterRecord, FaultPlan
from hil.devices import EmulatedBleDevice
from hil.harness import UploadHarness
from hil.oracle import LedgerComparison
from uploader.errors import DeviceDisconnected, ExitCode, PairingFailed, Step
from uploader.pairing import fixed_code

Pump = EmulatedBleDevice[TslimX2]
Check = Callable[[Pump], LedgerComparison]


def _code(pump: Pump) -> Any:
    shown = pump.peripheral.display
    assert shown is not None
    return fixed_code(shown)


def test_ninety_days_reach_the_cloud_exactly_as_the_ledger_says_and_a_reconnect_needs_no_pairing(
    tslim_pump: Pump, ble_uploader: UploadHarness, tslim_ledger_check: Check
) -> None:
    result = ble_uploader.upload(tslim_pump.device_spec, pairing_code=_code(tslim_pump))
    assert result.status == "uploaded"
    assert tslim_ledger_check(tslim_pump).assert_exact() > 25_000
    # what the pump said about itself reaches --json (device.status) as the pump holds it
    status = result.as_dict()["device"]["status"]
    pump = tslim_pump.peripheral.pump
    assert status["reservoir_units"] == int(pump.model.reservoir_remaining)
    assert status["battery_percent"] == pump.battery_percent
    assert status["api_version"] == "2.1" and status["unanswered"] == []
    before = tslim_pump.peripheral.authentications
    # no code given now, and no terminal to ask: the pump's code was kept from the pairing
    again = ble_uploader.upload(tslim_pump.device_spec)
    assert (again.status, again.records_read) == ("no-new-data", 0)
    assert tslim_pump.peripheral.authentications == before + 1


def test_a_wrong_pairing_code_is_refused_and_nothing_is_uploaded(
    make_tslim_pump: Callable[..., Pump], ble_uploader: UploadHarness
) -> None:
    pump = make_tslim_pump(days=2)
    with pytest.raises(PairingFailed) as refused:
        ble_uploader.upload(pump.device_spec, pairing_code=fixed_code("ABCD-EFGH-JKLM-NPQS"))
    assert refused.value.step == Step.CONNECT
    assert refused.value.exit_code == ExitCode.DEVICE_COMMUNICATION
    message = refused.value.user_message()
    assert "refused the pairing code" in message and "16-character code" in message
    assert pump.peripheral.authentications == 0


def test_a_disconnect_mid_history_resumes_after_the_last_verified_entry(
    make_tslim_pump: Callable[..., Pump], ble_uploader: UploadHarness, tslim_ledger_check: Check
) -> None:
    pump = make_tslim_pump(days=5, faults=FaultPlan([DisconnectAfterRecord(100)]))
    with pytest.raises(DeviceDisconnected) as dropped:
        ble_uploader.upload(pump.device_spec, pairing_code=_code(pump))
    assert dropped.value.step == Step.FETCH
    result = ble_uploader.upload(pump.device_spec)
    assert result.status == "uploaded"
    assert result.verification is not None and not result.verification.duplicated
    tslim_ledger_check(pump).assert_exact()
