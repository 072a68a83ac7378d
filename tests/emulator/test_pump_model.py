"""The insulin pump model: what a pump does with boluses, temporary basals, suspends,
reservoirs, alarms and its clock, as history events and as the ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from emulator.model import pump as m

T0 = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)  # 00:00 on the pump (UTC-5)


def pump(**options: object) -> m.PumpModel:
    return m.PumpModel(
        serial_number="P1",
        model_name="test pump",
        firmware_version="1",
        start=T0,
        display_offset=timedelta(hours=-5),
        **options,  # type: ignore[arg-type]
    )


def payloads(model: m.PumpModel, kind: type) -> list[object]:
    return [e.payload for e in model.events() if isinstance(e.payload, kind)]


def test_a_normal_bolus_is_programmed_then_delivered_at_the_pump_speed() -> None:
    model = pump()
    model.bolus(T0 + timedelta(hours=8), fast=4.5)
    model.advance(T0 + timedelta(hours=9))
    (record,) = model.ledger.boluses
    assert record.end - record.start == timedelta(minutes=3)  # 1.5 IU/min
    assert (record.delivered_fast, record.cancelled) == (4.5, False)
    assert record.start_display == datetime(2026, 3, 2, 8, 0)
    events = [e for e in model.events() if "Bolus" in type(e.payload).__name__]
    assert [type(e.payload).__name__ for e in events] == [
        "BolusProgrammed1",
        "BolusProgrammed2",
        "BolusDelivered1",
        "BolusDelivered2",
    ]
    # Parts 1 and 2: consecutive record numbers, one relative offset.
    assert events[1].record_number == events[0].record_number + 1
    assert events[0].relative_offset == events[1].relative_offset
    assert events[3].payload == m.BolusDelivered2(180, m.BolusEnd.DELIVERED)


def test_cancelled_boluses_keep_what_was_delivered() -> None:
    model = pump()
    start = T0 + timedelta(hours=8)
    model.bolus(start, fast=6.0, cancel_at=start + timedelta(seconds=100))
    combo = T0 + timedelta(hours=12)
    model.bolus(combo, fast=3.0, extended=3.0, minutes=120, cancel_at=combo + timedelta(minutes=62))
    model.advance(T0 + timedelta(hours=20))
    normal, multiwave = model.ledger.boluses
    assert (normal.delivered_fast, normal.programmed_fast, normal.cancelled) == (2.5, 6.0, True)
    # Fast part 2 minutes, then 60 of 120 minutes of the extended part.
    assert (multiwave.delivered_fast, multiwave.delivered_extended) == (3.0, 1.5)
    assert (multiwave.delivered_minutes, multiwave.programmed_minutes) == (60, 120)


def test_a_bolus_needs_a_running_pump_and_no_other_bolus() -> None:
    model = pump()
    model.bolus(T0 + timedelta(hours=1), extended=2.0, minutes=60)
    with pytest.raises(m.PumpStateError, match="already running"):
        model.bolus(T0 + timedelta(hours=1, minutes=30), fast=1.0)
    model.suspend(T0 + timedelta(hours=3))
    with pytest.raises(m.PumpStateError, match="suspended"):
        model.bolus(T0 + timedelta(hours=3, minutes=5), fast=1.0)


def test_a_relative_temp_basal_across_midnight_splits_at_every_block() -> None:
    model = pump()
    start = T0 + timedelta(hours=22)  # 22:00 on the pump, weekday template
    model.start_temp_basal(start, kind=m.TbrKind.RELATIVE, value=50, minutes=240)
    model.advance(T0 + timedelta(days=1, hours=6))
    temps = [b for b in model.ledger.basal if b.delivery == "temp"]
    # 22:00-00:00 (0.8 IU/h scheduled), 00:00-02:00 (0.7): split at midnight.
    assert [(t.start_display.hour, t.rate, t.scheduled_rate, t.percent) for t in temps] == [
        (22, 0.4, 0.8, 0.5),
        (0, 0.35, 0.7, 0.5),
    ]
    assert payloads(model, m.TbrEnded) == [
        m.TbrEnded(m.TbrKind.RELATIVE, 50, 240, m.TbrEnd.DURATION_OVER)
    ]
    # Every interval boundary is one delivered-basal-rate-changed event.
    basal = model.ledger.basal
    assert len(payloads(model, m.BasalRateChanged)) == len(basal) + 1
    assert all(a.end == b.start for a, b in pairwise(basal))
    daily = payloads(model, m.TotalDailyInsulin)
    assert len(daily) == 1 and daily[0].day == datetime(2026, 3, 2).date()  # type: ignore[attr-defined]


def test_suspend_cancels_temp_and_bolus_and_suppresses_the_schedule() -> None:
    model = pump()
    at = T0 + timedelta(hours=9)
    model.start_temp_basal(at, kind=m.TbrKind.ABSOLUTE, value=0.3, minutes=120)
    model.bolus(at + timedelta(minutes=10), extended=2.0, minutes=60)
    model.suspend(at + timedelta(minutes=40))
    model.resume(at + timedelta(minutes=70))
    model.advance(at + timedelta(hours=3))
    assert model.ledger.boluses[0].cancelled
    temp, suspend = (b for b in model.ledger.basal if b.delivery in ("temp", "suspend"))
    assert temp.temp_planned_end == at + timedelta(minutes=120) and temp.end == suspend.start
    assert suspend.end is not None
    assert (suspend.rate, suspend.scheduled_rate, suspend.end - suspend.start) == (
        None,
        1.1,
        timedelta(minutes=30),
    )
    assert [s.suspended for s in model.ledger.status] == [True, False]
    assert payloads(model, m.TbrEnded)[0].end is m.TbrEnd.CANCELLED  # type: ignore[attr-defined]


def test_reservoir_change_and_priming() -> None:
    model = pump(reservoir_fill=30.0)
    with pytest.raises(m.PumpStateError, match="suspend"):
        model.change_reservoir(T0 + timedelta(hours=1), 180)
    model.bolus(T0 + timedelta(hours=1), fast=12.0)
    model.advance(T0 + timedelta(hours=2))
    assert [a.kind for a in model.ledger.alarms] == [m.Annunciation.RESERVOIR_LOW]
    assert model.pending_annunciation is not None
    model.suspend(T0 + timedelta(hours=3))
    model.change_reservoir(T0 + timedelta(hours=3, minutes=2), 180)
    model.prime(T0 + timedelta(hours=3, minutes=4), 10.0)
    model.prime(T0 + timedelta(hours=3, minutes=6), 0.5, seconds=10)
    model.confirm(T0 + timedelta(hours=3, minutes=7))
    model.resume(T0 + timedelta(hours=3, minutes=8))
    assert [p.target for p in model.ledger.primes] == ["tubing", "cannula"]
    assert model.reservoir_remaining == 169.5
    assert model.pending_annunciation is None


def test_clock_changes_are_new_reference_times_and_move_the_schedule() -> None:
    model = pump()
    at = T0 + timedelta(hours=6, minutes=30)  # 06:30 on the pump: block 03:00-07:00 (0.85)
    model.set_clock(at, datetime(2026, 3, 2, 7, 30))
    references = [e for e in model.events() if e.is_reference_time]
    assert references[-1].payload == m.ReferenceTime(
        m.ReferenceReason.SET_DATE_TIME, datetime(2026, 3, 2, 7, 30)
    )
    assert references[-1].relative_offset == int(timedelta(hours=6, minutes=30).total_seconds())
    assert model.current_rate() == 1.1  # now 07:30 on the pump
    (change,) = model.ledger.clock_changes
    assert (change.before, change.after) == (
        datetime(2026, 3, 2, 6, 30),
        datetime(2026, 3, 2, 7, 30),
    )
    # Events after it count from it; periodic references keep offsets in a u16.
    model.advance(T0 + timedelta(days=3))
    assert all(0 <= e.relative_offset <= 0xFFFF for e in model.events())
    reasons = {e.payload.reason for e in model.events() if isinstance(e.payload, m.ReferenceTime)}
    assert m.ReferenceReason.PERIODIC in reasons


def test_record_numbers_count_from_one_without_gaps() -> None:
    model = pump()
    model.bolus(T0 + timedelta(hours=8), fast=1.0)
    model.advance(T0 + timedelta(days=2))
    assert [e.record_number for e in model.events()] == list(range(1, len(model.events()) + 1))
    with pytest.raises(ValueError, match="forward"):
        model.advance(T0)


def test_templates_must_cover_the_day() -> None:
    with pytest.raises(ValueError, match="1440"):
        m.ProfileTemplate(1, (m.TimeBlock(600, (1.0,)),))
