"""The BLE fault hooks of ``FaultPlan``: what fires, how often, and what is recorded."""

from __future__ import annotations

import pytest

from emulator.faults import (
    CorruptChecksum,
    CorruptE2ECrc,
    DisconnectAfterRecord,
    DropIndication,
    FaultPlan,
    RejectPairing,
)


def test_disconnect_after_record_fires_once_at_its_record() -> None:
    plan = FaultPlan().add(DisconnectAfterRecord(3))
    assert [plan.disconnect_after_record(n) for n in (1, 2, 3, 3)] == [False, False, True, False]
    assert plan.fired == ["disconnected after record 3"]


def test_drop_indication_only_for_its_control_point() -> None:
    plan = FaultPlan().add(DropIndication("socp", times=2))
    assert not plan.drop_indication("racp")
    assert [plan.drop_indication("socp") for _ in range(3)] == [True, True, False]
    with pytest.raises(ValueError, match="racp, socp"):
        DropIndication("rapc")


def test_corrupt_e2e_crc_of_one_record_or_all() -> None:
    one = FaultPlan().add(CorruptE2ECrc(record=2))
    assert [one.corrupt_e2e_crc(n) for n in (1, 2, 3, 2)] == [False, True, False, True]
    every = FaultPlan().add(CorruptE2ECrc(times=3))
    assert [every.corrupt_e2e_crc(n) for n in (1, 2, 3, 4)] == [True, True, True, False]
    assert every.fired == [f"corrupted the E2E-CRC of record {n}" for n in (1, 2, 3)]
    with pytest.raises(ValueError, match="from 1"):
        CorruptE2ECrc(record=0)


def test_reject_pairing_and_clear() -> None:
    plan = FaultPlan().add(RejectPairing(times=None))
    assert plan.reject_pairing() and plan.reject_pairing()
    plan.clear()
    assert not plan.reject_pairing()
    plan.add(RejectPairing())
    assert plan.reject_pairing() and not plan.reject_pairing()
    assert plan.fired == ["rejected a pairing request"] * 3


def test_ble_faults_leave_the_usb_faults_alone() -> None:
    plan = FaultPlan().add(DisconnectAfterRecord(1)).add(CorruptChecksum(frame=1))
    assert plan.corrupt_frame(1) and not plan.corrupt_frame(1)
    assert plan.disconnect_after_record(1)
