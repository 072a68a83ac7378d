"""The device model: clock, battery, memory that wraps, meter storage rules."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from emulator.model import Battery, DeviceClock, MeterModel, MeterReading, ReadingFlag, RecordMemory


class SteppedTime:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def test_clock_keeps_its_offset_and_drifts() -> None:
    true_time = SteppedTime(datetime(2026, 1, 1, 8, 0))
    clock = DeviceClock(offset=timedelta(minutes=-3), drift_ppm=100, time_source=true_time)
    assert clock.now() == datetime(2026, 1, 1, 7, 57)
    true_time.now += timedelta(days=10)  # 100 ppm over 10 days = 86.4 s fast
    assert clock.now() == datetime(2026, 1, 11, 7, 57, 0) + timedelta(seconds=86.4)


def test_setting_and_resetting_the_clock() -> None:
    true_time = SteppedTime(datetime(2026, 5, 1, 12, 0))
    clock = DeviceClock(drift_ppm=50, time_source=true_time)
    clock.set(datetime(2026, 5, 1, 13, 0))  # travel: one zone east
    assert clock.now() == datetime(2026, 5, 1, 13, 0)
    assert clock.offset == timedelta(hours=1)
    clock.reset()
    assert clock.now() == datetime(2000, 1, 1)


def test_battery_thresholds() -> None:
    battery = Battery(percent=30)
    assert not battery.is_low
    battery.drain(12)
    assert battery.is_low and not battery.is_critical
    battery.drain(100)
    assert battery.percent == 0 and battery.is_critical


def test_memory_wraps_losing_the_oldest_first() -> None:
    memory: RecordMemory[int] = RecordMemory(3, [1, 2, 3])
    memory.append(4)
    memory.append(5)
    assert memory.snapshot() == [3, 4, 5]
    assert memory.overwritten == 2
    with pytest.raises(ValueError, match="at least 1"):
        RecordMemory(0)


def test_meter_stores_out_of_range_results_as_lo_and_hi() -> None:
    meter = MeterModel("1", "m", "1.0", low_limit_mg_dl=20, high_limit_mg_dl=600)
    t = datetime(2026, 1, 1, 8, 0)
    meter.load_history(
        [MeterReading(t, 12), MeterReading(t + timedelta(minutes=1), 720), MeterReading(t, 95)]
    )
    low, high, normal = meter.ledger()
    assert (low.value_mg_dl, low.out_of_range) == (20, ReadingFlag.LOW)
    assert (high.value_mg_dl, high.out_of_range) == (600, ReadingFlag.HIGH)
    assert (normal.value_mg_dl, normal.out_of_range) == (95, None)


def test_a_new_measurement_is_stamped_by_the_device_clock() -> None:
    clock = DeviceClock(
        offset=timedelta(hours=2), time_source=lambda: datetime(2026, 2, 2, 9, 30, 41)
    )
    meter = MeterModel("1", "m", "1.0", clock=clock, memory_capacity=2)
    reading = meter.measure(123, [ReadingFlag.BEFORE_MEAL])
    assert reading.device_time == datetime(2026, 2, 2, 11, 30)
    assert meter.ledger() == [reading]
