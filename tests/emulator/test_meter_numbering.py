"""Meter records keep the numbers they were stored with (the GLS sequence numbers)."""

from __future__ import annotations

from datetime import datetime, timedelta

from emulator.model import MeterModel, MeterReading, RecordMemory


def test_numbers_survive_wrap_and_delete_and_are_never_reused() -> None:
    memory: RecordMemory[str] = RecordMemory(3, ["a", "b", "c", "d"])
    assert memory.numbered() == [(2, "b"), (3, "c"), (4, "d")]
    assert memory.delete([3, 99]) == 1
    assert memory.numbered() == [(2, "b"), (4, "d")]
    assert memory.append("e") == 5
    memory.clear()
    assert memory.append("f") == 6
    assert memory.snapshot() == ["f"]


def test_the_meter_ledger_with_numbers() -> None:
    meter = MeterModel("1", "m", "1", memory_capacity=2)
    t = datetime(2026, 1, 1)
    meter.load_history(MeterReading(t + timedelta(minutes=i), 100 + i) for i in range(3))
    assert [(n, r.value_mg_dl) for n, r in meter.numbered_ledger()] == [(2, 101), (3, 102)]
    assert meter.delete([2]) == 1
    assert meter.ledger() == [MeterReading(t + timedelta(minutes=2), 102)]
