"""The pump history generator: repeatable, plausible, the CGM world's meals and highs."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from emulator.generators.cgm_history import CgmHistory
from emulator.generators.pump_history import (
    QUIET_HOURS,
    PumpHistoryProfile,
    generate_pump_history,
)
from emulator.model import pump as m
from emulator.protocols import ids

END = datetime(2026, 3, 15, 16, 30, tzinfo=UTC)
ZONE = "America/New_York"


def test_same_seed_same_history_other_seed_other_history() -> None:
    one = generate_pump_history(3, timezone=ZONE, end=END, days=10)
    again = generate_pump_history(3, timezone=ZONE, end=END, days=10)
    other = generate_pump_history(4, timezone=ZONE, end=END, days=10)
    encode = [ids.encode_event(e, e2e=False) for e in one.events()]
    assert encode == [ids.encode_event(e, e2e=False) for e in again.events()]
    assert encode != [ids.encode_event(e, e2e=False) for e in other.events()]


def test_ninety_days_look_like_a_pump_users() -> None:
    model = generate_pump_history(4, timezone=ZONE, end=END, days=90)
    ledger = model.ledger
    per_day = len(ledger.boluses) / 90
    assert 2.5 <= per_day <= 6
    kinds = Counter(b.kind for b in ledger.boluses)
    assert kinds[m.BolusKind.MULTIWAVE] >= 10 and kinds[m.BolusKind.EXTENDED] >= 3
    cancelled = [b for b in ledger.boluses if b.cancelled]
    assert 2 <= len(cancelled) <= 0.1 * len(ledger.boluses)
    # Seed 4 (the ids_pump fixture's) has both kinds of cancelled combination bolus.
    multiwave = [b for b in cancelled if b.kind is m.BolusKind.MULTIWAVE]
    assert {b.delivered_fast < b.programmed_fast for b in multiwave} == {True, False}
    daily = [e.payload for e in model.events() if isinstance(e.payload, m.TotalDailyInsulin)]
    assert len(daily) == 89
    totals = [d.bolus + d.basal for d in daily]
    assert 25 <= sum(totals) / len(totals) <= 60
    temps = [b for b in ledger.basal if b.delivery == "temp"]
    assert any(t.start_display.hour >= 22 for t in temps)
    assert any(
        t.start_display.hour == 0 and t.start_display.minute == 0 for t in temps
    )  # crossed midnight
    assert {t.percent is None for t in temps} == {True, False}  # absolute and relative
    changes = ledger.reservoir_changes
    gaps = [(b.at - a.at).days for a, b in pairwise(changes)]
    assert set(gaps) <= {2, 3, 4, 5} and len(changes) >= 18
    assert Counter(p.target for p in ledger.primes) == {
        "tubing": len(changes),
        "cannula": len(changes),
    }
    assert any(s.suspended and not s.automatic for s in ledger.status)
    assert {a.kind for a in ledger.alarms} >= {m.Annunciation.BATTERY_LOW, m.Annunciation.OCCLUSION}
    assert any(s.suspended and s.automatic for s in ledger.status)  # the occlusion's
    assert len(ledger.profile_changes) >= 20  # weekend template on and off
    # Daylight saving on 2026-03-08 and one mistake fixed the next morning.
    assert [(c.after - c.before) for c in ledger.clock_changes] == [
        timedelta(hours=1),
        timedelta(hours=-1),
        timedelta(hours=1),
    ]
    # The clock is right at the end: it shows New York time (EDT).
    assert model.display(END) == datetime(2026, 3, 15, 12, 30)
    # Quiet end: nothing runs when the pump is read.
    last_action = max(b.start for b in ledger.boluses)
    assert END - last_action >= timedelta(hours=QUIET_HOURS)
    assert not model.suspended and not model.temp_running and not model.bolus_running


def test_meals_drive_boluses() -> None:
    model = generate_pump_history(6, timezone=ZONE, end=END, days=14)
    world = CgmHistory(6)
    meal_boluses = [b for b in model.ledger.boluses if b.meal]
    assert meal_boluses
    zone = ZoneInfo(ZONE)
    meals = [
        eaten.replace(tzinfo=zone).astimezone(UTC)
        for day in {b.start.astimezone(zone).date() for b in meal_boluses}
        for eaten, _ in world.meals(day)
    ]
    for bolus in meal_boluses:
        assert any(timedelta(0) <= meal - bolus.start <= timedelta(minutes=16) for meal in meals)


def test_without_clock_changes_the_clock_keeps_the_final_offset() -> None:
    model = generate_pump_history(4, timezone=ZONE, end=END, days=30, clock_changes=False)
    assert model.ledger.clock_changes == []
    assert model.display_offset == timedelta(hours=-4)
    references = [e.payload for e in model.events() if isinstance(e.payload, m.ReferenceTime)]
    assert {r.reason for r in references[1:]} == {m.ReferenceReason.PERIODIC}


def test_history_spans_stay_within_the_relative_offset() -> None:
    model = generate_pump_history(9, timezone="America/New_York", end=END, days=30)
    previous = None
    for event in model.events():
        assert 0 <= event.relative_offset <= 0xFFFF
        if previous is not None:
            assert event.utc >= previous.utc
        previous = event
    gaps = [b.utc - a.utc for a, b in pairwise(model.events())]
    assert max(gaps) < timedelta(hours=12, seconds=1)


def test_corrections_follow_highs_of_the_same_persons_glucose() -> None:
    model = generate_pump_history(6, timezone=ZONE, end=END, days=30, clock_changes=False)
    world = CgmHistory(6)
    zone = ZoneInfo(ZONE)
    corrections = [b for b in model.ledger.boluses if not b.meal]
    assert corrections
    isf = model.settings.isf_templates[0]
    for bolus in corrections:
        local = bolus.start.astimezone(zone).replace(tzinfo=None)
        glucose = world.glucose_at(local)
        assert glucose > 200, (local, glucose)
        shown = bolus.start_display  # the pump's ISF follows the pump's clock
        _, block = isf.block_at(shown.hour * 60 + shown.minute)
        wanted = min(round((glucose - 110) / block.values[0] / 0.05) * 0.05, 8.0)
        assert bolus.kind is m.BolusKind.FAST
        assert abs(bolus.programmed_fast - wanted) < 0.051


def test_a_percent_only_pump_gets_percent_temps_and_otherwise_the_same_history() -> None:
    both = generate_pump_history(4, timezone=ZONE, end=END, days=60)
    tslim = generate_pump_history(
        4, timezone=ZONE, end=END, days=60, profile=PumpHistoryProfile(percent_temps_only=True)
    )
    temps = [i for i in both.ledger.basal if i.delivery == "temp"]
    assert any(i.percent is None for i in temps)  # the default has absolute temps
    tslim_temps = [i for i in tslim.ledger.basal if i.delivery == "temp"]
    assert tslim_temps and all(i.percent is not None for i in tslim_temps)
    assert [i.start for i in tslim_temps] == [i.start for i in temps]
    absolute = [i for i in temps if i.percent is None]
    turned = [i for i in tslim_temps if i.start in {a.start for a in absolute}]
    assert {round(i.percent * 100) for i in turned if i.percent} <= {20, 30, 45, 50}
    assert tslim.ledger.boluses == both.ledger.boluses
