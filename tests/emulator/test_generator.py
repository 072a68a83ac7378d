"""The seeded meter-history generator: repeatable and realistic."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from statistics import mean

import pytest

from emulator.generators import generate_meter_history
from emulator.model import MeterModel, ReadingFlag

END = datetime(2026, 6, 30, 23, 59)


def test_same_seed_same_history_and_other_seeds_differ() -> None:
    first = generate_meter_history(42, END, days=30)
    assert first == generate_meter_history(42, END, days=30)
    assert first != generate_meter_history(43, END, days=30)


def test_three_to_eight_checks_a_day_and_one_reading_per_minute() -> None:
    readings = generate_meter_history(7, END, days=90)
    per_day = Counter(r.device_time.date() for r in readings if not r.is_control)
    assert len(per_day) == 90
    assert all(3 <= n <= 8 for n in per_day.values())
    stamps = [r.device_time for r in readings]
    assert len(stamps) == len(set(stamps))
    assert stamps == sorted(stamps)
    assert all(r.device_time <= END and r.device_time.second == 0 for r in readings)


def test_values_follow_meals_and_include_rare_events() -> None:
    readings = generate_meter_history(3, END, days=365)
    before = [r.value_mg_dl for r in readings if ReadingFlag.BEFORE_MEAL in r.flags]
    after = [r.value_mg_dl for r in readings if ReadingFlag.AFTER_MEAL in r.flags]
    assert mean(after) > mean(before) + 20
    meter = MeterModel("1", "m", "1", memory_capacity=10_000)
    meter.load_history(readings)
    flags = Counter(flag for r in meter.ledger() for flag in r.flags)
    assert flags[ReadingFlag.LOW] > 0 and flags[ReadingFlag.HIGH] > 0
    assert 12 <= flags[ReadingFlag.CONTROL] <= 20  # about every three weeks
    assert any(r.value_mg_dl < 70 for r in readings if not r.is_control)  # hypos happen


def test_count_gives_the_most_recent_readings() -> None:
    readings = generate_meter_history(5, END, count=1000)
    assert len(readings) == 1000
    assert readings[-1].device_time <= END
    with pytest.raises(ValueError, match="days, count"):
        generate_meter_history(5, END)
