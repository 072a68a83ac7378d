"""The t:slim X2 history interpreter (entries as the pump packs them -> records) and the
store of the codes pumps accepted."""

from __future__ import annotations

import stat
import struct
from datetime import datetime, timedelta
from pathlib import Path

from uploader.drivers.tslim_x2 import TandemCodeStore
from uploader.drivers.tslim_x2_history import Interpretation, TslimCursor, interpret
from uploader.normalize.pump import basal_datums
from uploader.protocols import tandem_history as th
from uploader.pump_records import PumpSettingsSnapshot, TimeBlock
from uploader.records import DeviceIdentity
from uploader.timeproc import AcrossTheBoardTimezone

EPOCH = datetime(2008, 1, 1)
DAY = datetime(2026, 3, 1)


def _entry(type_id: int, when: datetime | None, sequence: int, payload: bytes) -> bytes:
    seconds = int((when - EPOCH).total_seconds()) if when else 0
    return struct.pack("<HII", type_id, seconds, sequence) + payload.ljust(16, b"\0")


def _at(hours: float) -> datetime:
    return DAY + timedelta(hours=hours)


def _basal(seq: int, hours: float, rate: float, change: int) -> bytes:
    return _entry(3, _at(hours), seq, struct.pack("<fffHB", rate, 0.9, 3.0, 1, change))


def _read(raw: list[bytes], cursor: TslimCursor) -> Interpretation:
    entries = th.place_in_time((th.parse_entry(r) for r in raw), cursor.previous_time)
    return interpret(entries, cursor)


STORY = [
    _basal(1, 0.0, 0.9, 1),
    # a combination bolus 44: 40% now (2 U), 3 U over 120 min
    _entry(65, _at(1.0), 2, struct.pack("<HBBH2xHH", 44, 0, 40, 120, 50, 110)),
    _entry(55, _at(1.0), 3, struct.pack("<HBxff", 44, 0, 0.5, 2.0)),
    _entry(59, _at(1.0), 4, struct.pack("<HBxff", 44, 0, 2.5, 3.0)),
    _entry(20, _at(1.05), 5, struct.pack("<HHfff", 3, 44, 2.0, 2.0, 2.0)),
    # a temp basal of 50% for 60 min, cancelled after 30
    _entry(2, _at(2.0), 6, struct.pack("<ffHH", 50.0, 3_600_000.0, 0, 7)),
    _basal(7, 2.0, 0.45, 4),
    _entry(21, _at(3.0), 8, struct.pack("<HHfff", 3, 44, 1.0, 3.0, 3.0)),
    _basal(9, 2.5, 0.9, 8),
    # a BG with no timestamp of its own, then a suspend and resume
    _entry(16, None, 10, struct.pack("<HBBfHH", 142, 0, 0, 0.5, 110, 50)),
    _entry(11, _at(4.0), 11, struct.pack("<IHB", 106, 150, 0)),
    _basal(12, 4.0, 0.0, 16),
    _entry(12, _at(4.5), 13, struct.pack("<IH", 100, 150)),
    _basal(14, 4.5, 0.9, 32),
    # the clock set forward an hour at 05:00
    _entry(13, _at(5.0), 15, struct.pack("<III", 5 * 3600, 6 * 3600, 0)),
    _entry(211, _at(6.5), 16, struct.pack("<HBbxbHII", 0, 6, 0, -80, 131, 0, 0)),
]


def test_story_becomes_records() -> None:
    cursor = TslimCursor()
    out = _read(STORY, cursor)
    (bolus,) = out.pump.boluses
    assert (bolus.kind, bolus.normal, bolus.extended) == ("combination", 2.0, 3.0)
    assert bolus.duration_ms == bolus.expected_duration_ms == 120 * 60_000
    assert bolus.device_time == _at(1.0) and not bolus.interrupted
    basals = [(b.delivery_type, b.rate, b.duration_ms) for b in out.pump.basals]
    assert basals == [
        ("scheduled", 0.9, 2 * 3_600_000),
        ("temp", 0.45, 1_800_000),
        ("scheduled", 0.9, 1_800_000 * 3),
        ("suspend", None, 1_800_000),
        ("scheduled", 0.9, 1_800_000),
    ]
    temp = out.pump.basals[1]
    assert temp.expected_duration_ms == 3_600_000
    assert [(e.status, e.device_time) for e in out.pump.events] == [
        ("suspended", _at(4.0)),
        ("resumed", _at(4.5)),
    ]
    (bg,) = out.readings
    assert (bg.value, bg.device_time, bg.index) == (142.0, _at(2.5), 10)
    (change,) = out.time_changes
    assert (change.from_time, change.to_time, change.index) == (_at(5.0), _at(6.0), 15)
    (cgm,) = out.cgm
    assert (cgm.value_mg_dl, cgm.device_time) == (131.0, _at(6.5))
    assert cursor.sequence == 16
    assert cursor.basal is not None and cursor.basal.start == _at(6.0).isoformat()
    assert cursor.basal.index == 16  # after the change at 15: placed by the new clock
    assert not cursor.boluses


def test_reading_in_two_parts_gives_the_same_records_through_the_cursor() -> None:
    whole = _read(STORY, TslimCursor())
    for cut in range(1, len(STORY)):
        cursor = TslimCursor()
        first = _read(STORY[:cut], cursor)
        resumed = TslimCursor.from_cursor(cursor.to_cursor())
        second = _read(STORY[cut:], resumed)
        for kind in ("boluses", "basals", "events"):
            got = getattr(first.pump, kind) + getattr(second.pump, kind)
            assert got == getattr(whole.pump, kind), (cut, kind)
        for kind in ("readings", "cgm", "time_changes"):
            got = getattr(first, kind) + getattr(second, kind)
            assert got == getattr(whole, kind), (cut, kind)


def test_bolus_stopped_early_is_interrupted() -> None:
    raw = [
        _entry(55, _at(1.0), 1, struct.pack("<HBxff", 7, 0, 0.0, 4.0)),
        _entry(20, _at(1.02), 2, struct.pack("<HHfff", 1, 7, 1.0, 1.5, 4.0)),
    ]
    (bolus,) = _read(raw, TslimCursor()).pump.boluses
    assert (bolus.kind, bolus.normal, bolus.expected_normal) == ("normal", 1.5, 4.0)
    assert bolus.interrupted


def test_code_store_keeps_a_pump_code_private_and_forgets_it(tmp_path: Path) -> None:
    store = TandemCodeStore(tmp_path / "state" / "tandem-codes.json")
    assert store.get("F0:F0:F0:F0:F0:0A") is None
    store.put("F0:F0:F0:F0:F0:0A", "ABCD-EFGH-JKLM-NPQR")
    store.put("F0:F0:F0:F0:F0:0B", "QRST-UVWX-2345-6789")
    assert store.get("F0:F0:F0:F0:F0:0A") == "ABCD-EFGH-JKLM-NPQR"
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    store.put("F0:F0:F0:F0:F0:0A", None)
    assert store.get("F0:F0:F0:F0:F0:0A") is None
    assert store.get("F0:F0:F0:F0:F0:0B") == "QRST-UVWX-2345-6789"


def _change(seq: int, hours: float, rate: float, base: float, change: int) -> bytes:
    return _entry(3, _at(hours), seq, struct.pack("<fffHB", rate, base, 3.0, 2, change))


def _temp(seq: int, hours: float, percent: float, minutes: float, temp_id: int) -> bytes:
    ms = minutes * 60_000
    return _entry(2, _at(hours), seq, struct.pack("<ffHH", percent, ms, 0, temp_id))


TEMP_ACROSS_A_BOUNDARY = [
    _change(1, 0.0, 1.0, 1.0, 1),
    # 50% for 3 hours from 01:00; the schedule changes at 02:00 (a new piece, same end)
    _temp(2, 1.0, 50.0, 180, 1),
    _change(3, 1.0, 0.5, 1.0, 4),
    _entry(15, _at(2.0), 4, struct.pack("<HHI", 0, 1, 3600 * 2)),
    _temp(5, 2.0, 50.0, 120, 2),
    _change(6, 2.0, 0.6, 1.2, 4),
    # cancelled at 03:00, an hour early; a suspend from 04:00 to 04:30
    _change(7, 3.0, 1.2, 1.2, 8),
    _change(8, 4.0, 0.0, 1.2, 16),
    _change(9, 4.5, 1.2, 1.2, 32),
]


def test_temp_pieces_carry_percent_and_suppressed_and_only_an_early_end_its_programmed_end() -> (
    None
):
    basals = _read(TEMP_ACROSS_A_BOUNDARY, TslimCursor()).pump.basals
    got = [(b.delivery_type, b.duration_ms, b.rate, b.percent, b.suppressed_rate) for b in basals]
    assert got == [
        ("scheduled", 3_600_000, 1.0, None, None),
        ("temp", 3_600_000, 0.5, 0.5, 1.0),
        ("temp", 3_600_000, 0.6, 0.5, 1.2),
        ("scheduled", 3_600_000, 1.2, None, None),
        ("suspend", 1_800_000, None, None, 1.2),
    ]
    # the first piece goes on as the second (same programmed end): no expectedDuration;
    # the second was cancelled an hour before its end
    assert [b.expected_duration_ms for b in basals] == [None, None, 7_200_000, None, None]
    assert {b.schedule for b in basals} == {2}


def test_temp_basals_survive_a_read_cut_anywhere() -> None:
    whole = _read(TEMP_ACROSS_A_BOUNDARY, TslimCursor()).pump.basals
    for cut in range(1, len(TEMP_ACROSS_A_BOUNDARY)):
        cursor = TslimCursor()
        first = _read(TEMP_ACROSS_A_BOUNDARY[:cut], cursor).pump.basals
        resumed = TslimCursor.from_cursor(cursor.to_cursor())
        assert first + _read(TEMP_ACROSS_A_BOUNDARY[cut:], resumed).pump.basals == whole, cut


def test_alerts_become_alarms_with_their_tidepool_type() -> None:
    raw = [
        _entry(4, _at(1.0 + n), n + 1, struct.pack("<I", alert_id))
        for n, alert_id in enumerate((0, 17, 2, 3, 5, 99))
    ]
    events = _read(raw, TslimCursor()).pump.events
    assert [(e.kind, e.alarm_type, e.payload) for e in events] == [
        ("alarm", "low_insulin", None),
        ("alarm", "low_insulin", None),
        ("alarm", "low_power", None),
        ("alarm", "low_power", None),
        ("alarm", "other", {"alertId": 5}),
        ("alarm", "other", {"alertId": 99}),
    ]


def test_a_reported_suppression_is_one_datum_named_by_the_profile() -> None:
    basals = _read(TEMP_ACROSS_A_BOUNDARY, TslimCursor()).pump.basals
    settings = PumpSettingsSnapshot(
        device_time=_at(5.0),
        basal_schedules={2: (TimeBlock(0, (1.0,)), TimeBlock(7_200_000, (1.2,)))},
        active_basal=2,
        schedule_names={2: "Weekday"},
    )
    identity = DeviceIdentity("Tandem", "t:slim X2", "1", "1", "tandem-1", ())
    times = AcrossTheBoardTimezone("UTC")
    datums = [d.to_json() for b in basals for d in basal_datums(b, settings, identity, times)]
    assert len(datums) == len(basals)
    assert datums[0]["scheduleName"] == "Weekday" and "suppressed" not in datums[0]
    assert datums[2]["suppressed"] == {
        "type": "basal",
        "deliveryType": "scheduled",
        "rate": 1.2,
        "scheduleName": "Weekday",
    }
    assert (datums[2]["percent"], datums[2]["expectedDuration"]) == (0.5, 7_200_000)
    assert datums[4]["suppressed"]["rate"] == 1.2 and "rate" not in datums[4]
