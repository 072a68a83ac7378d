"""The MiniMed 600 Bolus Wizard oracle: the ``wizard`` datums a 600-series pump's ledger says
the cloud must hold, and their comparison with the cloud.

Sources: the pump checklist (../shared/specs/tidepool-uploader/docs/checklisttemplates/
PumpChecklist.md, "Wizard": recommended carb/correction/net, bgInput, carbInput in grams,
insulinOnBoard, insulinCarbRatio, insulinSensitivity with units, bgTarget low/high, units, the
link to the bolus delivered), the mock cloud's ``wizard`` model (mock_cloud/datatypes/
wizard.py) and the emulator's documented wizard rules (docs/protocols/minimed600.md, "Bolus
Wizard"), recomputed here from the ledger (meal boluses, linked-meter BGs, the pump's Bolus
Wizard settings) without the emulator's encoder or calculator:

- one ``wizard`` per meal bolus, at the bolus's time;
- carbInput = round(programmed total x I:C ratio at the bolus's displayed time), grams;
- bgInput = the linked-meter BG 3 minutes before the bolus, mg/dL; absent when there is none;
- correction = (BG - high) / ISF above the target range, (BG - low) / ISF below, else 0;
- insulinOnBoard 0 (the model does not track active insulin);
- recommended: carb = carbs / ratio, correction, net = carb + correction rounded down to 0.025;
- ``bolus`` = the id of the cloud's bolus datum at the same device time (the one it led to).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from emulator.devices.minimed600_pump import Minimed600Pump
from emulator.model.pump import BolusKind, BolusRecord, PumpSettings
from hil.oracle import LedgerComparison, pair_with_copies

BG_BEFORE_BOLUS = timedelta(minutes=3)
BOLUS_STEP = 0.025
BOLUS_SUB_TYPES = {
    BolusKind.FAST: "normal",
    BolusKind.EXTENDED: "square",
    BolusKind.MULTIWAVE: "dual/square",
}


@dataclass(frozen=True)
class ExpectedWizard:
    device_time: str
    time: datetime
    timezone_offset: int
    fields: dict[str, Any]
    """Every wizard field the ledger decides, except ``bolus``."""
    bolus_sub_type: str
    """The linked bolus: its ``subType``, at the same device time."""


def _to_10000(value: float) -> float:
    return round(value * 10000) / 10000


def _recommendation(settings: PumpSettings, bolus: BolusRecord, bg: int | None) -> dict[str, Any]:
    shown = bolus.start_display
    minute = shown.hour * 60 + shown.minute

    def value_at(templates: Any) -> tuple[float, ...]:
        values: tuple[float, ...] = templates[0].block_at(minute)[1].values
        return values

    ratio = round(value_at(settings.icr_templates)[0], 1)
    isf = round(value_at(settings.isf_templates)[0])
    low, high = (round(v) for v in value_at(settings.target_templates)[:2])
    total = _to_10000(bolus.programmed_fast + bolus.programmed_extended)
    carbs = round(total * ratio)
    carb = _to_10000(carbs / ratio)
    correction = 0.0
    if bg is not None and bg > high:
        correction = _to_10000((bg - high) / isf)
    if bg is not None and bg < low:
        correction = _to_10000((bg - low) / isf)
    net = max(0.0, carb + correction)
    net = _to_10000(math.floor(round(net / BOLUS_STEP, 6)) * BOLUS_STEP)
    fields: dict[str, Any] = {
        "carbInput": carbs,
        "insulinCarbRatio": ratio,
        "insulinSensitivity": isf,
        "bgTarget": {"low": low, "high": high},
        "insulinOnBoard": 0.0,
        "units": "mg/dL",
        "recommended": {"carb": carb, "correction": correction, "net": net},
    }
    if bg is not None:
        fields["bgInput"] = bg
    return fields


def expected_wizards(pump: Minimed600Pump, timezone: str) -> list[ExpectedWizard]:
    """One ``wizard`` per meal bolus in the pump's ledger, placed as the bolus is."""
    ledger = pump.model.ledger
    bootstrapped = bool(ledger.clock_changes)
    zone = ZoneInfo(timezone)
    bgs = {reading.at + BG_BEFORE_BOLUS: reading.mg_dl for reading in pump.bg_readings}
    out = []
    for bolus in ledger.boluses:
        if not bolus.meal:
            continue
        shown = bolus.start_display
        if bootstrapped:
            time = bolus.start.astimezone(UTC).replace(microsecond=0)
            offset = round((shown - time.replace(tzinfo=None)).total_seconds() / 60)
        else:
            zone_offset = shown.replace(tzinfo=zone, fold=0).utcoffset() or timedelta(0)
            time = (shown - zone_offset).replace(tzinfo=UTC)
            offset = int(zone_offset.total_seconds() // 60)
        out.append(
            ExpectedWizard(
                device_time=shown.strftime("%Y-%m-%dT%H:%M:%S"),
                time=time,
                timezone_offset=offset,
                fields=_recommendation(pump.model.settings, bolus, bgs.get(bolus.start)),
                bolus_sub_type=BOLUS_SUB_TYPES[bolus.kind],
            )
        )
    return out


def _same(want: Any, got: Any) -> bool:
    if isinstance(want, dict):
        return isinstance(got, dict) and all(_same(v, got.get(k)) for k, v in want.items())
    if isinstance(want, float | int) and not isinstance(want, bool):
        return isinstance(got, int | float) and math.isclose(want, got, abs_tol=1e-6)
    return bool(want == got)


JUDGED = ("bgInput", "carbInput", "insulinCarbRatio", "insulinSensitivity", "bgTarget")


def _problems(
    want: ExpectedWizard, got: dict[str, Any], boluses: dict[str, dict[str, Any]]
) -> list[str]:
    problems = []
    try:
        stored = datetime.fromisoformat(str(got.get("time")).replace("Z", "+00:00"))
    except ValueError:
        stored = None
    if stored is None or stored.replace(microsecond=0) != want.time:
        problems.append(f"time {got.get('time')} != {want.time.isoformat()}")
    if got.get("timezoneOffset") != want.timezone_offset:
        problems.append(f"timezoneOffset {got.get('timezoneOffset')} != {want.timezone_offset}")
    for name, value in want.fields.items():
        if not _same(value, got.get(name)):
            problems.append(f"{name} {got.get(name)} != {value}")
    for name in JUDGED:
        if name in got and name not in want.fields:
            problems.append(f"{name} {got[name]} is not in the ledger (no BG was entered)")
    if got.get("carbUnits", "grams") != "grams":
        problems.append(f"carbUnits {got.get('carbUnits')} != grams")
    linked = boluses.get(str(got.get("bolus")))
    if linked is None:
        problems.append(f"bolus {got.get('bolus')!r} is not a bolus in the cloud")
    elif (linked.get("deviceTime"), linked.get("subType")) != (
        want.device_time,
        want.bolus_sub_type,
    ):
        problems.append(
            f"bolus links to the {linked.get('subType')} bolus at {linked.get('deviceTime')}, "
            f"not the {want.bolus_sub_type} bolus at {want.device_time}"
        )
    return problems


def compare_wizards(
    expected: list[ExpectedWizard], cloud: list[dict[str, Any]]
) -> LedgerComparison:
    """The cloud's ``wizard`` datums against the ledger's meal boluses (by device time; a
    clock set back may repeat one), each linked to the right bolus datum by its ``id``."""
    result = LedgerComparison(expected=len(expected))
    boluses = {str(d["id"]): d for d in cloud if d.get("type") == "bolus" and "id" in d}
    pair_with_copies(
        result,
        expected,
        lambda item: item.device_time,
        [d for d in cloud if d.get("type") == "wizard"],
        lambda datum: str(datum.get("deviceTime")),
        lambda want, got: _problems(want, got, boluses),
    )
    return result
