"""The emulated t:slim X2's history log against its ledger: every bolus, basal change,
suspend/resume, reservoir change, prime, alarm, clock change, BG and CGM reading is logged
once, in time order, numbered from 1; and the oracle expects one cbg/smbg per reading."""

from __future__ import annotations

import math
import struct
from collections import Counter
from datetime import UTC, datetime

import pytest

from emulator.devices.tslim_x2_pump import TslimX2Pump
from emulator.generators.pump_history import generate_pump_history
from emulator.protocols.tandem_constants import ALARM_IDS, ALERT_IDS
from hil.tslim_x2_oracle import expected_tslim

END = datetime(2026, 3, 15, 16, 30, tzinfo=UTC)
ZONE = "America/New_York"


@pytest.fixture(scope="module")
def pump() -> TslimX2Pump:
    model = generate_pump_history(3, timezone=ZONE, end=END, days=21)
    return TslimX2Pump(model, seed=3, timezone=ZONE)


def types(pump: TslimX2Pump) -> Counter[int]:
    return Counter(struct.unpack_from("<H", e.raw)[0] & 0x0FFF for e in pump.entries)


def test_entries_are_numbered_in_time_order(pump: TslimX2Pump) -> None:
    assert [e.sequence for e in pump.entries] == list(range(1, len(pump.entries) + 1))
    assert [struct.unpack_from("<I", e.raw, 6)[0] for e in pump.entries] == [
        e.sequence for e in pump.entries
    ]
    assert [e.at for e in pump.entries] == sorted(e.at for e in pump.entries)
    assert all(len(e.raw) == 26 for e in pump.entries)


def test_every_ledger_item_is_logged_once(pump: TslimX2Pump) -> None:
    ledger = pump.model.ledger
    got = types(pump)
    assert got[65] == len(ledger.boluses)  # BolusRequestedMsg2
    assert got[20] == sum(1 for b in ledger.boluses if b.programmed_fast > 0)
    assert got[21] == sum(1 for b in ledger.boluses if b.programmed_extended > 0)
    running = pump.model.open_interval()
    # BasalRateChange: each closed interval's start and the start of the one still running
    assert got[3] == len(ledger.basal) + (running is not None)
    temps = sum(1 for i in ledger.basal if i.delivery == "temp")
    assert got[15] == temps  # TempRateCompleted
    assert got[2] == temps + (running is not None and running.delivery == "temp")
    assert got[11] == sum(1 for s in ledger.status if s.suspended)
    assert got[12] == sum(1 for s in ledger.status if not s.suspended)
    assert got[33] == len(ledger.reservoir_changes)
    assert got[63] + got[61] == len(ledger.primes)
    alerts = sum(1 for a in ledger.alarms if str(a.kind) in ALERT_IDS)
    assert got[4] == alerts > 0  # AlertActivated: low reservoir, low battery
    assert got[5] == len(ledger.alarms) - alerts  # AlarmActivated: occlusion ...
    assert got[13] == len(ledger.clock_changes) > 0
    assert got[16] == len(pump.bg_readings) > 0
    assert got[211] == len(pump.sensor) > 0


def test_delivered_insulin_matches_the_ledger(pump: TslimX2Pump) -> None:
    delivered = 0.0
    for e in pump.entries:
        if struct.unpack_from("<H", e.raw)[0] & 0x0FFF in (20, 21):
            delivered += struct.unpack_from("<f", e.raw, 18)[0]
    want = sum(b.delivered_fast + b.delivered_extended for b in pump.model.ledger.boluses)
    assert math.isclose(delivered, want, abs_tol=1e-3)


def test_oracle_expects_one_cbg_and_smbg_per_reading(pump: TslimX2Pump) -> None:
    expected = expected_tslim(pump, ZONE)
    assert len(expected.cbg) == len(pump.sensor)
    assert len(expected.smbg) == len(pump.bg_readings)
    assert expected.pump.datums


def test_profiles_cover_the_day_and_name_the_schedules(pump: TslimX2Pump) -> None:
    profiles = pump.profiles()
    assert profiles[0].idp_id == pump.model.active_template
    for profile in profiles:
        assert profile.segments[0].start_minute == 0
        template = pump.model.settings.basal(profile.idp_id)
        for seg in profile.segments:
            assert seg.basal == template.block_at(seg.start_minute)[1].values[0]
    settings = expected_tslim(pump, ZONE).pump.settings
    assert settings["activeSchedule"] == profiles[0].name
    assert set(settings["basalSchedules"]) == {p.name for p in profiles}
    basal = [d for d in expected_tslim(pump, ZONE).pump.datums if d.type == "basal"]
    names = {d.fields.get("scheduleName") for d in basal} - {None}
    assert names <= {p.name for p in profiles}


def test_alerts_and_alarms_carry_pumpx2_ids(pump: TslimX2Pump) -> None:
    logged = [
        (struct.unpack_from("<H", e.raw)[0] & 0x0FFF, struct.unpack_from("<I", e.raw, 10)[0])
        for e in pump.entries
        if struct.unpack_from("<H", e.raw)[0] & 0x0FFF in (4, 5)
    ]
    want = [
        (4, ALERT_IDS[str(a.kind)]) if str(a.kind) in ALERT_IDS else (5, ALARM_IDS[str(a.kind)])
        for a in sorted(pump.model.ledger.alarms, key=lambda a: a.at)
    ]
    assert logged == want
    assert {kind for kind, _ in logged} == {4, 5}  # both kinds in 21 days of this seed


def test_temp_rate_duration_is_in_milliseconds(pump: TslimX2Pump) -> None:
    temps = [i for i in pump.model.ledger.basal if i.delivery == "temp"]
    logged = [e.raw for e in pump.entries if struct.unpack_from("<H", e.raw)[0] & 0x0FFF == 2]
    assert temps and len(logged) >= len(temps)
    for interval, raw in zip(temps, logged, strict=False):
        planned = interval.temp_planned_end or interval.end
        assert planned is not None
        duration_ms = struct.unpack_from("<f", raw, 14)[0]
        assert duration_ms == (planned - interval.start).total_seconds() * 1000
        assert struct.unpack_from("<H", raw, 20)[0] == temps.index(interval) + 1
