"""The pump oracle: the Tidepool datums an insulin pump's ledger says the cloud must hold.

End-to-end tests judge the uploader's pump upload by the emulated pump's own ledger
(``emulator.model.pump.PumpLedger``: what happened, in user terms), never by the uploader's
output. The rules below are written from the pump checklist
(../shared/specs/tidepool-uploader/docs/checklisttemplates/PumpChecklist.md), the data
model the mock cloud enforces (mock_cloud/datatypes/{bolus,basal,device_event,
pump_settings}.py) and the datetime docs (../shared/specs/tidepool-api/docs/datetime/);
docs/protocols/ids.md names the same rules for the host side.

Time (every datum):

- ``deviceTime``: what the pump's clock showed (seconds included);
- with clock changes in the ledger, the uploader must bootstrap to UTC: ``time`` is the true
  instant the event happened (the model knows it), ``timezoneOffset`` = displayed minus true
  time in minutes (the generated clock changes are whole hours, so BtUTC attributes them
  to the timezone offset), ``conversionOffset`` 0, ``clockDriftOffset`` within a minute (the
  pump's clock read at upload may be a second off the computer's);
- without clock changes: across-the-board, ``deviceTime`` read in the user's timezone (a
  repeated hour at its first occurrence), as for meters.

Boluses (one per ledger bolus, at its start):

- fast -> ``normal`` (``normal`` delivered; ``expectedNormal`` programmed when cancelled);
- extended -> ``square`` (``extended``, ``duration`` = minutes the extended part ran; when
  cancelled ``expectedExtended`` and ``expectedDuration`` programmed);
- multiwave -> ``dual/square`` (``normal``, ``extended``, ``duration``); cancelled during the
  normal part: ``expectedNormal``, ``extended`` 0, ``duration`` 0, ``expectedExtended`` and
  ``expectedDuration``; cancelled during the extended part: ``expectedExtended`` and
  ``expectedDuration``. A bolus is never split at midnight (IDS reports it as one event).

Basals (one per closed ledger interval; intervals already break at every boundary of the
active schedule, midnight included, at temp/suspend starts and ends, template activations
and clock changes):

- ``scheduled``: ``rate``, ``scheduleName`` ``Template <n>``, ``duration``;
- ``temp``: ``rate`` (absolute, or percent x the scheduled rate), ``percent`` (fraction,
  relative temps only), ``suppressed`` = the scheduled basal (rate, ``scheduleName``),
  ``duration``; the last piece of a temp that ended before its programmed end (cancelled,
  or cut by a suspend) has ``expectedDuration`` = programmed end - piece start;
- ``suspend``: ``duration``, ``suppressed`` = the scheduled basal (a suspend ends any temp);
- the interval still running when the pump is read is *not* expected (its duration is not
  known yet; the next upload sends it).

Device events: ``reservoirChange``; ``prime`` (``primeTarget`` tubing for the first prime
after a reservoir change, cannula after; ``volume``); ``status`` ``suspended`` (reason
``suspended`` automatic with an occlusion alarm, else manual) and ``resumed`` (reason
``resumed`` manual); ``alarm`` (reservoir low -> ``low_insulin``, reservoir empty ->
``no_insulin``, battery low -> ``low_power``, battery empty -> ``no_power``, occlusion ->
``occlusion``, others ``other``), once per annunciation raised; ``timeChange`` per clock
change, at the time the clock was set, ``deviceTime`` the new display time, from/to (current
or legacy form), method/agent manual (its ``timezoneOffset`` is not judged).

Every field the ledger decides (``JUDGED_FIELDS``) must be there exactly when these rules
give it: an ``expectedNormal`` on a bolus delivered in full is as wrong as a missing one.

``pumpSettings``: at least one; the newest must hold every basal template as
``basalSchedules`` (``Template <n>``: ``{start ms, rate}``), ``activeSchedule`` the template
active at the end, ``carbRatios``/``insulinSensitivities``/``bgTargets`` (``Template 1``:
``{start, amount}`` / ``{start, low, high}``) and ``units`` ``{bg: mg/dL, carb: grams}``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from emulator.model.pump import Annunciation, BasalInterval, BolusKind, BolusRecord, PumpModel
from hil.oracle import LedgerComparison, pair_with_copies

ALARM_TYPES = {
    Annunciation.RESERVOIR_LOW: "low_insulin",
    Annunciation.RESERVOIR_EMPTY: "no_insulin",
    Annunciation.BATTERY_LOW: "low_power",
    Annunciation.BATTERY_EMPTY: "no_power",
    Annunciation.OCCLUSION: "occlusion",
}
PUMP_TYPES = ("bolus", "basal", "deviceEvent")
MAX_DRIFT_MS = 60_000
JUDGED_FIELDS = frozenset(
    {
        "normal",
        "expectedNormal",
        "extended",
        "expectedExtended",
        "duration",
        "expectedDuration",
        "rate",
        "percent",
        "scheduleName",
        "suppressed",
        "primeTarget",
        "volume",
        "status",
        "reason",
        "alarmType",
    }
)
"""Fields the ledger decides: a datum that carries one the ledger does not expect (an
``expectedNormal`` on a bolus delivered in full, a ``suppressed`` on a scheduled basal, a
``percent`` on an absolute temp) is wrong, not merely richer."""


WRONG_DAY_MINUTES = 26 * 60
"""Beyond any timezone (UTC-12 to UTC+14) from the zone's own offset: a wrong date."""


def schedule_name(number: int) -> str:
    """The Tidepool name of IDS profile template ``number`` (IDS templates have no names)."""
    return f"Template {number}"


@dataclass(frozen=True)
class ExpectedPumpDatum:
    type: str
    sub: str
    """``subType`` (bolus, deviceEvent) or ``deliveryType`` (basal)."""
    device_time: str
    time: datetime
    timezone_offset: int | None
    """None: not judged (time changes)."""
    fields: dict[str, Any]
    conversion_offset_ms: int = 0
    """A clock set a wrong day, month or year off (a reset to the firmware epoch): BtUTC
    keeps the zone's offset as ``timezoneOffset`` and puts the rest in ``conversionOffset``."""

    @property
    def key(self) -> tuple[str, str, str, str]:
        extra = str(self.fields.get("alarmType", ""))
        return self.type, self.sub, self.device_time, extra


@dataclass(frozen=True)
class ExpectedPump:
    datums: list[ExpectedPumpDatum]
    settings: dict[str, Any]


class _Clock:
    """Places ledger moments as the uploader must (see the module docstring)."""

    def __init__(self, model: PumpModel, timezone: str) -> None:
        self.bootstrapped = bool(model.ledger.clock_changes)
        self.zone = ZoneInfo(timezone)

    def place(self, at: datetime, display: datetime) -> tuple[str, datetime, int]:
        shown = display.replace(microsecond=0)
        if self.bootstrapped:
            offset = round((shown - at.astimezone(UTC).replace(tzinfo=None)).total_seconds() / 60)
            return _text(shown), at.astimezone(UTC).replace(microsecond=0), offset
        local = shown.replace(tzinfo=self.zone, fold=0)
        zone_offset = local.utcoffset() or timedelta(0)
        return (
            _text(shown),
            (shown - zone_offset).replace(tzinfo=UTC),
            int(zone_offset.total_seconds() // 60),
        )


def _text(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S")


def _ms(delta: timedelta) -> int:
    return round(delta.total_seconds() * 1000)


def expected_pump(model: PumpModel, timezone: str) -> ExpectedPump:
    """What the cloud must hold for ``model``'s ledger, for a person in ``timezone``."""
    clock = _Clock(model, timezone)
    ledger = model.ledger
    out: list[ExpectedPumpDatum] = []

    def add(kind: str, sub: str, at: datetime, display: datetime, values: dict[str, Any]) -> None:
        device_time, time, offset, conversion = _placed(clock, at, display)
        out.append(ExpectedPumpDatum(kind, sub, device_time, time, offset, values, conversion))

    for bolus in ledger.boluses:
        sub, values = _bolus(bolus)
        add("bolus", sub, bolus.start, bolus.start_display, values)
    for index, interval in enumerate(ledger.basal):
        following = (
            ledger.basal[index + 1] if index + 1 < len(ledger.basal) else model.open_interval()
        )
        add(
            "basal",
            interval.delivery,
            interval.start,
            interval.start_display,
            _basal(interval, following),
        )
    for swap in ledger.reservoir_changes:
        add("deviceEvent", "reservoirChange", swap.at, swap.display, {})
    for prime in ledger.primes:
        add(
            "deviceEvent",
            "prime",
            prime.at,
            prime.display,
            {"primeTarget": prime.target, "volume": prime.volume},
        )
    for status in ledger.status:
        if status.suspended:
            reason = {"suspended": "automatic" if status.automatic else "manual"}
            add(
                "deviceEvent",
                "status",
                status.at,
                status.display,
                {"status": "suspended", "reason": reason},
            )
        else:
            add(
                "deviceEvent",
                "status",
                status.at,
                status.display,
                {"status": "resumed", "reason": {"resumed": "manual"}},
            )
    for alarm in ledger.alarms:
        add(
            "deviceEvent",
            "alarm",
            alarm.at,
            alarm.display,
            {"alarmType": ALARM_TYPES.get(alarm.kind, "other")},
        )
    for change in ledger.clock_changes:
        device_time, time, _, conversion = _placed(clock, change.at, change.after)
        values = {"from": _text(change.before), "to": _text(change.after)}
        out.append(
            ExpectedPumpDatum(
                "deviceEvent", "timeChange", device_time, time, None, values, conversion
            )
        )
    return ExpectedPump(out, _settings(model))


def _placed(clock: _Clock, at: datetime, display: datetime) -> tuple[str, datetime, int, int]:
    """``clock.place``, with a wrong date's excess moved to ``conversionOffset`` (ms)."""
    device_time, time, offset = clock.place(at, display)
    zone_offset = at.astimezone(clock.zone).utcoffset() or timedelta(0)
    zone_minutes = int(zone_offset.total_seconds() // 60)
    if clock.bootstrapped and abs(offset - zone_minutes) > WRONG_DAY_MINUTES:
        return device_time, time, zone_minutes, (offset - zone_minutes) * 60_000
    return device_time, time, offset, 0


def _bolus(bolus: BolusRecord) -> tuple[str, dict[str, Any]]:
    minutes_ms = 60_000
    if bolus.kind is BolusKind.FAST:
        values: dict[str, Any] = {"normal": bolus.delivered_fast}
        if bolus.cancelled:
            values["expectedNormal"] = bolus.programmed_fast
        return "normal", values
    extended = {
        "extended": bolus.delivered_extended,
        "duration": bolus.delivered_minutes * minutes_ms,
    }
    if bolus.cancelled:
        extended["expectedExtended"] = bolus.programmed_extended
        extended["expectedDuration"] = bolus.programmed_minutes * minutes_ms
    if bolus.kind is BolusKind.EXTENDED:
        return "square", extended
    values = {"normal": bolus.delivered_fast, **extended}
    if bolus.cancelled and bolus.delivered_fast < bolus.programmed_fast:
        values["expectedNormal"] = bolus.programmed_fast
    return "dual/square", values


def _basal(interval: BasalInterval, following: BasalInterval | None) -> dict[str, Any]:
    assert interval.end is not None
    values: dict[str, Any] = {"duration": _ms(interval.end - interval.start)}
    suppressed = {
        "type": "basal",
        "deliveryType": "scheduled",
        "rate": interval.scheduled_rate,
        "scheduleName": schedule_name(interval.template),
    }
    if interval.delivery == "scheduled":
        values["rate"] = interval.rate
        values["scheduleName"] = schedule_name(interval.template)
    elif interval.delivery == "temp":
        values["rate"] = interval.rate
        if interval.percent is not None:
            values["percent"] = interval.percent
        values["suppressed"] = suppressed
        planned = interval.temp_planned_end
        continues = (
            following is not None
            and following.delivery == "temp"
            and following.temp_planned_end == planned
            and following.start == interval.end
        )
        if planned is not None and interval.end < planned and not continues:
            values["expectedDuration"] = _ms(planned - interval.start)
    else:
        values["suppressed"] = suppressed
    return values


def _settings(model: PumpModel) -> dict[str, Any]:
    settings = model.settings

    def segments(template: Any, *names: str) -> list[dict[str, Any]]:
        out = []
        for start, block in zip(template.starts(), template.blocks, strict=True):
            item: dict[str, Any] = {"start": start * 60_000}
            item.update(dict(zip(names, block.values, strict=True)))
            out.append(item)
        return out

    return {
        "basalSchedules": {
            schedule_name(t.number): segments(t, "rate") for t in settings.basal_templates
        },
        "activeSchedule": schedule_name(model.active_template),
        "carbRatios": {
            schedule_name(t.number): segments(t, "amount") for t in settings.icr_templates
        },
        "insulinSensitivities": {
            schedule_name(t.number): segments(t, "amount") for t in settings.isf_templates
        },
        "bgTargets": {
            schedule_name(t.number): segments(t, "low", "high") for t in settings.target_templates
        },
        "units": {"bg": "mg/dL", "carb": "grams"},
    }


# ---- comparison --------------------------------------------------------------------------------


PumpComparison = LedgerComparison
"""The same verdict as for glucose ledgers: matched, missing, duplicated, unexpected, wrong."""


def _same(want: Any, got: Any) -> bool:
    if isinstance(want, dict):
        return (
            isinstance(got, dict)
            and set(want) <= set(got)
            and all(_same(v, got[k]) for k, v in want.items())
        )
    if isinstance(want, list):
        return isinstance(got, list) and len(want) == len(got) and all(map(_same, want, got))
    if isinstance(want, float | int) and not isinstance(want, bool):
        return isinstance(got, int | float) and math.isclose(want, got, rel_tol=1e-9, abs_tol=1e-9)
    return bool(want == got)


def _parse_time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).replace(microsecond=0)
    except ValueError:
        return None


def _key_of(datum: dict[str, Any]) -> tuple[str, str, str, str]:
    kind = str(datum.get("type"))
    sub = str(datum.get("deliveryType") if kind == "basal" else datum.get("subType"))
    extra = str(datum.get("alarmType", "")) if sub == "alarm" else ""
    return kind, sub, str(datum.get("deviceTime")), extra


def _time_change_fields(datum: dict[str, Any]) -> dict[str, Any]:
    """A timeChange's from/to/agent in either form (current or legacy ``change``)."""
    change = datum.get("change")
    if isinstance(change, dict):
        return {"from": change.get("from"), "to": change.get("to"), "method": change.get("agent")}
    before, after = datum.get("from") or {}, datum.get("to") or {}
    return {"from": before.get("time"), "to": after.get("time"), "method": datum.get("method")}


def _problems(want: ExpectedPumpDatum, got: dict[str, Any]) -> list[str]:
    problems = []
    if _parse_time(got.get("time")) != want.time:
        problems.append(f"time {got.get('time')} != {want.time.isoformat()}")
    if want.timezone_offset is not None and got.get("timezoneOffset") != want.timezone_offset:
        problems.append(f"timezoneOffset {got.get('timezoneOffset')} != {want.timezone_offset}")
    if got.get("conversionOffset", 0) != want.conversion_offset_ms:
        problems.append(
            f"conversionOffset {got.get('conversionOffset')} != {want.conversion_offset_ms}"
        )
    if abs(int(got.get("clockDriftOffset", 0) or 0)) >= MAX_DRIFT_MS:
        problems.append(f"clockDriftOffset {got.get('clockDriftOffset')} is a minute or more")
    if want.sub == "timeChange":
        fields = _time_change_fields(got)
        expected = {**want.fields, "method": "manual"}
        for name, value in expected.items():
            if fields.get(name) != value:
                problems.append(f"{name} {fields.get(name)} != {value}")
        return problems
    for name, value in want.fields.items():
        if not _same(value, got.get(name)):
            problems.append(f"{name} {got.get(name)} != {value}")
    for name in sorted(JUDGED_FIELDS & set(got) - set(want.fields)):
        problems.append(f"{name} {got[name]} is not in the ledger")
    return problems


def compare_pump_with_ledger(
    expected: ExpectedPump, cloud: list[dict[str, Any]], device_id: str | None = None
) -> PumpComparison:
    """Compare the cloud's pump datums (bolus, basal, deviceEvent, pumpSettings; of
    ``device_id`` when given) with the ledger's expectation, by type, sub-type and device time."""
    datums = [
        d
        for d in cloud
        if d.get("type") in (*PUMP_TYPES, "pumpSettings")
        and (device_id is None or d.get("deviceId") == device_id)
    ]
    result = PumpComparison(expected=len(expected.datums) + 1)
    pair_with_copies(
        result,
        expected.datums,
        lambda item: item.key,
        [d for d in datums if d.get("type") in PUMP_TYPES],
        _key_of,
        _problems,
        name=lambda key: " ".join(part for part in key if part),
    )
    settings = [d for d in datums if d.get("type") == "pumpSettings"]
    if not settings:
        result.missing.append("pumpSettings")
    else:
        newest = max(settings, key=lambda d: str(d.get("time")))
        problems = [
            f"{name} {newest.get(name)} != {value}"
            for name, value in expected.settings.items()
            if not _same(value, newest.get(name))
        ]
        if problems:
            result.wrong.append(f"pumpSettings: {'; '.join(problems)}")
        else:
            result.matched += 1
    return result
