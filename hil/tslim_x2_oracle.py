"""The t:slim X2 oracle: the Tidepool datums a Tandem t:slim X2's ledgers say the cloud must
hold after an upload.

The pump part (``bolus``, ``basal``, ``deviceEvent``) is the IDS pump's oracle
(``hil.pump_oracle.expected_pump``: the same ``PumpModel`` and ledger) with the t:slim X2's
names: a schedule is the insulin delivery profile's name (``TslimX2Pump.profiles``), and
``pumpSettings`` holds one entry per profile segment in each of ``basalSchedules``,
``carbRatios``, ``insulinSensitivities`` and ``bgTargets`` (a single ``target``), keyed by
profile name. What the t:slim X2 adds, from its own ledgers (``TslimX2Pump.sensor`` and
``.bg_readings``), as ``hil.minimed600_oracle`` does for the 600:

- ``cbg`` from the pump's CGM readings: one per reading, mg/dL;
- ``smbg`` from the BG readings entered on the pump: subType ``manual``, mg/dL.

Time: as every pump datum (``hil.pump_oracle``): bootstrapped to UTC when the ledger holds
clock changes (``time`` the true instant, ``timezoneOffset`` displayed minus true minutes),
else the displayed time read in the user's timezone.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from emulator.devices.tslim_x2_pump import Reading, TslimX2Pump
from hil.glucose_oracle import combine, compare_glucose
from hil.oracle import LedgerComparison
from hil.pump_oracle import (
    ExpectedPump,
    compare_pump_with_ledger,
    expected_pump,
    schedule_name,
)


@dataclass(frozen=True)
class ExpectedGlucose:
    device_time: str
    time: datetime
    timezone_offset: int
    value: int


@dataclass(frozen=True)
class ExpectedTslim:
    pump: ExpectedPump
    cbg: list[ExpectedGlucose]
    smbg: list[ExpectedGlucose]


def expected_tslim(pump: TslimX2Pump, timezone: str) -> ExpectedTslim:
    """What the cloud must hold after reading ``pump`` for a person in ``timezone``."""
    bootstrapped = bool(pump.model.ledger.clock_changes)
    zone = ZoneInfo(timezone)

    def place(reading: Reading) -> ExpectedGlucose:
        shown = reading.display
        text = shown.strftime("%Y-%m-%dT%H:%M:%S")
        if bootstrapped:
            true = reading.at.astimezone(UTC).replace(microsecond=0)
            offset = round((shown - true.replace(tzinfo=None)).total_seconds() / 60)
            return ExpectedGlucose(text, true, offset, reading.mg_dl)
        utc_offset = shown.replace(tzinfo=zone, fold=0).utcoffset() or timedelta(0)
        true = (shown - utc_offset).replace(tzinfo=UTC)
        return ExpectedGlucose(text, true, int(utc_offset.total_seconds() // 60), reading.mg_dl)

    ids = expected_pump(pump.model, timezone)
    names = {schedule_name(p.idp_id): p.name for p in pump.profiles()}
    datums = [replace(d, fields=_rename(d.fields, names)) for d in ids.datums]
    return ExpectedTslim(
        ExpectedPump(datums, _settings(pump, ids.settings)),
        [place(r) for r in pump.sensor],
        [place(r) for r in pump.bg_readings],
    )


def _rename(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, dict):
        out = {k: _rename(v, names) for k, v in value.items()}
        if isinstance(out.get("scheduleName"), str):
            out["scheduleName"] = names.get(out["scheduleName"], out["scheduleName"])
        return out
    return value


def _settings(pump: TslimX2Pump, ids: dict[str, Any]) -> dict[str, Any]:
    profiles = pump.profiles()

    def table(pick: str) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for p in profiles:
            rows = []
            for seg in p.segments:
                value = {
                    "rate": {"rate": seg.basal},
                    "carb": {"amount": seg.carb_ratio},
                    "isf": {"amount": float(seg.isf)},
                    "target": {"target": float(seg.target)},
                }[pick]
                rows.append({"start": seg.start_minute * 60_000, **value})
            out[p.name] = rows
        return out

    return {
        **ids,
        "basalSchedules": table("rate"),
        "activeSchedule": profiles[0].name,
        "carbRatios": table("carb"),
        "insulinSensitivities": table("isf"),
        "bgTargets": table("target"),
    }


def compare_tslim_with_ledger(
    expected: ExpectedTslim, cloud: list[dict[str, Any]]
) -> LedgerComparison:
    """Everything the pump holds against the cloud: pump datums, ``cbg`` and manual ``smbg``
    (each difference named with its kind)."""
    return combine(
        (
            ("pump", compare_pump_with_ledger(expected.pump, cloud)),
            ("cbg", compare_glucose("cbg", expected.cbg, cloud, None)),
            ("smbg", compare_glucose("smbg", expected.smbg, cloud, "manual")),
        )
    )
