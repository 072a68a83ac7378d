"""IDS history, interpreted (``uploader.drivers.ids_history``) and normalized
(``uploader.normalize.pump``): the Tidepool datums a user's pump history becomes.

Each case is a short history a pump could record; the expected datums are written out by
hand from the pump checklist and the Tidepool data model docs.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from uploader.drivers.ids_history import HistoryError, HistoryInterpreter, HistoryState
from uploader.errors import ProtocolError
from uploader.normalize import normalize
from uploader.normalize.pump import pump_datums
from uploader.protocols import ids
from uploader.pump_records import PumpSettingsSnapshot, TimeBlock
from uploader.records import DeviceData, DeviceIdentity
from uploader.time_bootstrap import UtcBootstrapping
from uploader.timeproc import AcrossTheBoardTimezone, TimeProcessor

IDENTITY = DeviceIdentity("Acme", "IDS Pump", "SN1", "1.0", "IDSPump-SN1", ("insulin-pump",))
HOUR_MS = 3_600_000
SETTINGS = PumpSettingsSnapshot(
    device_time=datetime(2026, 3, 10, 12, 0),
    basal_schedules={
        1: (
            TimeBlock(0, (0.8,)),
            TimeBlock(6 * HOUR_MS, (1.0,)),
            TimeBlock(22 * HOUR_MS, (0.9,)),
        )
    },
    active_basal=1,
    carb_ratios={1: (TimeBlock(0, (10.0,)),)},
    insulin_sensitivities={1: (TimeBlock(0, (50.0,)),)},
    bg_targets={1: (TimeBlock(0, (100.0, 120.0)),)},
)
BASE = datetime(2026, 3, 8, 20, 0)


class History:
    """Builds IDS events at pump times after one Reference Time (record 1 at BASE)."""

    def __init__(self) -> None:
        self.record = 1
        self.events: list[ids.HistoryEvent] = [
            ids.ReferenceTime(1, 0, ids.RecordingReason.SET_DATE_TIME, BASE, None, None)
        ]
        self.base = BASE
        self.base_s = 0

    def offset(self, at: datetime) -> int:
        return int((at - self.base).total_seconds())

    def next(self) -> int:
        self.record += 1
        return self.record

    def rate(self, at: datetime, old: float, new: float) -> None:
        self.events.append(ids.BasalRateChanged(self.next(), self.offset(at), old, new))

    def bolus(
        self,
        at: datetime,
        kind: ids.BolusType,
        programmed: tuple[float, float, int],
        delivered: tuple[float, float, int],
        end: datetime,
        bolus_id: int = 1,
    ) -> None:
        first = self.next()
        self.next()
        self.events.append(
            ids.BolusProgrammed(
                first, self.offset(at), first + 1, ids.BolusParts(bolus_id, kind, *programmed)
            )
        )
        first = self.next()
        self.next()
        reason = (
            ids.BolusEndReason.DELIVERED if programmed == delivered else ids.BolusEndReason.CANCELED
        )
        self.events.append(
            ids.BolusDelivered(
                first,
                self.offset(end),
                first + 1,
                ids.BolusParts(bolus_id, kind, *delivered),
                int((end - at).total_seconds()),
                end_reason=reason,
            )
        )

    def temp(self, at: datetime, relative: bool, value: float, minutes: int) -> None:
        kind = ids.TbrType.RELATIVE if relative else ids.TbrType.ABSOLUTE
        self.events.append(ids.TbrStarted(self.next(), self.offset(at), kind, value, minutes))

    def temp_end(self, at: datetime, minutes: int, cancelled: bool) -> None:
        reason = ids.TbrEndReason.CANCELED if cancelled else ids.TbrEndReason.DURATION_OVER
        self.events.append(
            ids.TbrEnded(self.next(), self.offset(at), ids.TbrType.ABSOLUTE, 0, minutes, reason)
        )

    def therapy(self, at: datetime, old: ids.TherapyState, new: ids.TherapyState) -> None:
        kind = ids.EventType.THERAPY_CONTROL_STATE_CHANGED
        self.events.append(ids.StateChanged(self.next(), self.offset(at), kind, old, new))

    def set_clock(self, at: datetime, shown: datetime) -> None:
        offset = self.offset(at)
        self.events.append(
            ids.ReferenceTime(
                self.next(), offset, ids.RecordingReason.SET_DATE_TIME, shown, None, None
            )
        )
        self.base = shown


def interpret(
    events: list[ids.HistoryEvent], state: HistoryState | None = None
) -> HistoryInterpreter:
    interpreter = HistoryInterpreter(state or HistoryState(), SETTINGS)
    for event in events:
        interpreter.feed(event)
    return interpreter


def datums(
    interpreter: HistoryInterpreter, times: TimeProcessor | None = None
) -> list[dict[str, Any]]:
    placing = times or AcrossTheBoardTimezone("UTC")
    return [d.to_json() for d in pump_datums(interpreter.history, IDENTITY, placing)]


def of_type(found: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in found if d["type"] == kind]


def test_cancelled_normal_bolus_keeps_what_was_programmed() -> None:
    h = History()
    at = BASE + timedelta(minutes=10)
    h.bolus(at, ids.BolusType.FAST, (5.0, 0, 0), (3.0, 0, 0), at + timedelta(minutes=2))
    h.bolus(
        at + timedelta(hours=1),
        ids.BolusType.FAST,
        (2.0, 0, 0),
        (2.0, 0, 0),
        at + timedelta(hours=1, minutes=1),
        bolus_id=2,
    )
    boluses = of_type(datums(interpret(h.events)), "bolus")
    assert [(b["subType"], b["normal"], b.get("expectedNormal")) for b in boluses] == [
        ("normal", 3.0, 5.0),
        ("normal", 2.0, None),
    ]
    assert boluses[0]["deviceTime"] == "2026-03-08T20:10:00"


def test_combination_boluses_cut_short_in_either_part() -> None:
    h = History()
    at = BASE + timedelta(minutes=30)
    h.bolus(at, ids.BolusType.MULTIWAVE, (3.0, 2.5, 120), (3.0, 1.25, 60), at + timedelta(hours=1))
    later = at + timedelta(hours=3)
    h.bolus(
        later,
        ids.BolusType.MULTIWAVE,
        (3.0, 2.5, 120),
        (1.0, 0.0, 0),
        later + timedelta(seconds=40),
        bolus_id=2,
    )
    whole = later + timedelta(hours=3)
    h.bolus(
        whole, ids.BolusType.EXTENDED, (0, 3.2, 90), (0, 3.2, 90), whole + timedelta(minutes=90), 3
    )
    boluses = of_type(datums(interpret(h.events)), "bolus")
    assert boluses[0] == {
        **boluses[0],
        "subType": "dual/square",
        "normal": 3.0,
        "extended": 1.25,
        "duration": HOUR_MS,
        "expectedExtended": 2.5,
        "expectedDuration": 2 * HOUR_MS,
    }
    assert "expectedNormal" not in boluses[0]
    assert {
        k: boluses[1].get(k) for k in boluses[1] if k.startswith(("norm", "ext", "dur", "exp"))
    } == {
        "normal": 1.0,
        "expectedNormal": 3.0,
        "extended": 0.0,
        "duration": 0,
        "expectedExtended": 2.5,
        "expectedDuration": 2 * HOUR_MS,
    }
    assert boluses[2]["subType"] == "square"
    assert (boluses[2]["extended"], boluses[2]["duration"]) == (3.2, 90 * 60_000)
    assert "expectedExtended" not in boluses[2]


def test_temp_basal_across_midnight_is_split_with_what_it_suppressed() -> None:
    h = History()
    h.rate(BASE, 0, 1.0)
    start = datetime(2026, 3, 8, 23, 0)
    h.rate(BASE + timedelta(hours=2), 1.0, 0.9)  # 22:00 block boundary
    h.temp(start, relative=True, value=150, minutes=120)
    h.temp_end(start + timedelta(hours=2), 120, cancelled=False)
    h.rate(start + timedelta(hours=2), 1.35, 0.8)
    h.rate(datetime(2026, 3, 9, 6, 0), 0.8, 1.0)
    basals = of_type(datums(interpret(h.events)), "basal")
    shape = [
        (
            b["deviceTime"][11:16],
            b["deliveryType"],
            b.get("rate"),
            b["duration"] // 60_000,
            b.get("suppressed", {}).get("rate"),
        )
        for b in basals
    ]
    assert shape == [
        ("20:00", "scheduled", 1.0, 120, None),
        ("22:00", "scheduled", 0.9, 60, None),
        ("23:00", "temp", 1.35, 60, 0.9),
        ("00:00", "temp", 1.2, 60, 0.8),
        ("01:00", "scheduled", 0.8, 300, None),
    ]
    temps = [b for b in basals if b["deliveryType"] == "temp"]
    assert all(t["percent"] == 1.5 for t in temps)
    assert all(t["suppressed"]["scheduleName"] == "Template 1" for t in temps)
    assert basals[0]["scheduleName"] == "Template 1"
    # the interval running at the end of the read (from 06:00) is not sent yet
    assert basals[-1]["deviceTime"] != "2026-03-09T06:00:00"


def test_suspend_cancels_a_temp_basal_and_resume_returns_to_the_schedule() -> None:
    h = History()
    h.rate(BASE, 0, 1.0)
    h.temp(BASE + timedelta(minutes=30), relative=False, value=0.5, minutes=120)
    h.rate(BASE + timedelta(minutes=30), 1.0, 0.5)
    suspend = BASE + timedelta(hours=1)
    h.temp_end(suspend, 30, cancelled=True)
    h.therapy(suspend, ids.TherapyState.RUN, ids.TherapyState.STOP)
    h.rate(suspend, 0.5, 0.0)
    resume = suspend + timedelta(minutes=45)
    h.therapy(resume, ids.TherapyState.STOP, ids.TherapyState.RUN)
    h.rate(resume, 0.0, 1.0)
    h.rate(resume + timedelta(minutes=15), 1.0, 1.0)
    found = datums(interpret(h.events))
    basals = of_type(found, "basal")
    shape = [
        (b["deviceTime"][11:16], b["deliveryType"], b.get("rate"), b["duration"] // 60_000)
        for b in basals
    ]
    assert shape == [
        ("20:00", "scheduled", 1.0, 30),
        ("20:30", "temp", 0.5, 30),
        ("21:00", "suspend", None, 45),
        ("21:45", "scheduled", 1.0, 15),
    ]
    assert basals[1]["expectedDuration"] == 120 * 60_000
    assert basals[2]["suppressed"] == {
        "type": "basal",
        "deliveryType": "scheduled",
        "rate": 1.0,
        "scheduleName": "Template 1",
    }
    statuses = [d for d in found if d.get("subType") == "status"]
    assert [(s["deviceTime"][11:16], s["status"], s["reason"]) for s in statuses] == [
        ("21:00", "suspended", {"suspended": "manual"}),
        ("21:45", "resumed", {"resumed": "manual"}),
    ]


def test_a_clock_change_is_reported_and_later_events_follow_the_new_clock() -> None:
    h = History()
    h.rate(BASE, 0, 1.0)
    before = BASE + timedelta(hours=1)
    h.bolus(before, ids.BolusType.FAST, (1.0, 0, 0), (1.0, 0, 0), before + timedelta(seconds=40))
    change = BASE + timedelta(hours=2)
    h.set_clock(change, change + timedelta(hours=3))  # the user moves the clock 3 h ahead
    h.rate(change + timedelta(hours=3), 1.0, 1.0)
    after = change + timedelta(hours=4)  # pump time, one true hour after the change
    h.bolus(after, ids.BolusType.FAST, (2.0, 0, 0), (2.0, 0, 0), after + timedelta(seconds=60), 2)
    h.rate(after + timedelta(hours=1), 1.0, 0.9)
    interpreter = interpret(h.events)
    (moved,) = interpreter.time_changes
    assert (moved.from_time, moved.to_time) == (change, change + timedelta(hours=3))
    assert moved.index == 7  # its record number: records before and after are told apart
    boluses = [b for b in interpreter.history.boluses]
    assert [b.device_time for b in boluses] == [before, after]
    # the basal across the change keeps its true length (2 h), not the clock's 5 h
    first_basal = interpreter.history.basals[0]
    assert first_basal.duration_ms == 2 * HOUR_MS
    computer = datetime(2026, 3, 9, 0, 5, tzinfo=UTC)  # true time at upload
    times = UtcBootstrapping(
        "UTC",
        interpreter.time_changes,
        most_recent=after + timedelta(hours=1),
        device_clock=after + timedelta(hours=1, minutes=5),
        computer_clock=computer,
    )
    placed = of_type(datums(interpreter, times), "bolus")
    true_times = [p["time"] for p in placed]
    assert true_times == ["2026-03-08T21:00:00.000Z", "2026-03-08T23:00:00.000Z"]


def test_a_read_resumes_where_the_last_one_stopped() -> None:
    h = History()
    h.rate(BASE, 0, 1.0)
    h.temp(BASE + timedelta(minutes=30), relative=False, value=0.5, minutes=60)
    h.rate(BASE + timedelta(minutes=30), 1.0, 0.5)
    at = BASE + timedelta(minutes=40)
    h.bolus(at, ids.BolusType.FAST, (4.0, 0, 0), (4.0, 0, 0), at + timedelta(minutes=3))
    h.temp_end(BASE + timedelta(minutes=90), 60, cancelled=False)
    h.rate(BASE + timedelta(minutes=90), 0.5, 1.0)
    h.rate(BASE + timedelta(hours=2), 1.0, 0.9)
    h.rate(BASE + timedelta(hours=3), 0.9, 0.9)

    def records(*reads: HistoryInterpreter) -> list[dict[str, Any]]:
        found = [d for read in reads for d in datums(read) if d["type"] != "pumpSettings"]
        return sorted(found, key=lambda d: (d["type"], d["deviceTime"]))

    whole = records(interpret(h.events))
    assert len(whole) == 5  # the bolus and four closed basals
    for cut in range(2, len(h.events)):
        first = interpret(h.events[:cut])
        cursor = first.state.to_cursor()
        second = interpret(h.events[cut:], HistoryState.from_cursor(cursor))
        assert records(first, second) == whole, f"cut after event {cut}"
    assert HistoryState.from_cursor("garbage") == HistoryState()


def test_a_bolus_no_pump_can_deliver_is_a_clear_device_error() -> None:
    h = History()
    at = BASE + timedelta(minutes=10)
    h.bolus(at, ids.BolusType.FAST, (150.0, 0, 0), (150.0, 0, 0), at + timedelta(minutes=2))
    data = DeviceData(identity=IDENTITY, pump=interpret(h.events).history)
    with pytest.raises(ProtocolError, match="data model cannot hold"):
        normalize(data, AcrossTheBoardTimezone("UTC"))


def test_history_without_a_reference_time_cannot_be_placed() -> None:
    interpreter = HistoryInterpreter(HistoryState(), SETTINGS)
    with pytest.raises(HistoryError, match="Reference Time"):
        interpreter.feed(ids.BasalRateChanged(1, 0, 0.0, 1.0))


def test_a_bolus_an_automated_delivery_controller_commanded_is_automated() -> None:
    h = History()
    at = BASE + timedelta(minutes=10)
    h.bolus(at, ids.BolusType.FAST, (0.3, 0, 0), (0.3, 0, 0), at + timedelta(seconds=12))
    delivered = h.events[-1]
    assert isinstance(delivered, ids.BolusDelivered)
    h.events[-1] = replace(delivered, activation=ids.BolusActivation.COMMANDED)
    (bolus,) = of_type(datums(interpret(h.events)), "bolus")
    assert (bolus["subType"], bolus["normal"]) == ("automated", 0.3)


def test_a_temp_basal_cancelled_exactly_at_a_schedule_boundary_keeps_its_programmed_duration() -> (
    None
):
    h = History()
    h.rate(BASE, 0, 1.0)
    start = datetime(2026, 3, 8, 22, 30)
    h.temp(start, relative=False, value=0.4, minutes=180)
    h.rate(start, 0.9, 0.4)
    midnight = datetime(2026, 3, 9, 0, 0)
    h.rate(midnight, 0.4, 0.4)  # the pump's block boundary, recorded before the cancel
    h.temp_end(midnight, 90, cancelled=True)
    h.rate(midnight, 0.4, 0.8)
    h.rate(midnight + timedelta(hours=1), 0.8, 0.8)
    temps = [
        b for b in of_type(datums(interpret(h.events)), "basal") if b["deliveryType"] == "temp"
    ]
    assert [(t["deviceTime"][11:16], t["duration"] // 60_000) for t in temps] == [("22:30", 90)]
    assert temps[0]["expectedDuration"] == 180 * 60_000
