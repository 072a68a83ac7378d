"""The MiniMed 600 oracle: the Tidepool datums a 600-series pump's ledgers say the cloud must hold.

The pump part (``bolus``, ``basal``, ``deviceEvent``, ``pumpSettings``) is the IDS pump's
oracle (``hil.pump_oracle.expected_pump``: the same ``PumpModel`` and ledger) with the 600's
names: basal schedules are the pump's patterns (``Pattern 1``..``Pattern 5``, ``Work Day``,
``Day Off``, ``Sick Day``, as packetStructure.md names them), and the Bolus
Wizard settings (one set on a 600) are keyed ``Default``. What the 600 adds, from its own
ledgers (``Minimed600Pump.sensor`` and ``.bg_readings``):

- ``cbg`` from the pump's sensor history: one per reading, mg/dL, no trend;
- ``smbg`` from the linked meter (``BG_READING`` events): subType ``linked``, mg/dL;
- ``wizard``, one per meal bolus, linked to its bolus (``hil.minimed600_wizard_oracle``).

Time: placed as every pump datum is (``hil.pump_oracle``): bootstrapped to UTC when the
ledger holds clock changes (``time`` the true instant, ``timezoneOffset`` displayed minus
true minutes), else the displayed time read in the user's timezone.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from emulator.devices.minimed600_pump import Minimed600Pump
from hil.glucose_oracle import combine, compare_glucose
from hil.minimed600_wizard_oracle import ExpectedWizard, compare_wizards, expected_wizards
from hil.oracle import ExpectedCbg, LedgerComparison
from hil.pump_oracle import (
    ExpectedPump,
    ExpectedPumpDatum,
    compare_pump_with_ledger,
    expected_pump,
    schedule_name,
)

PATTERN_NAMES = (
    "Pattern 1",
    "Pattern 2",
    "Pattern 3",
    "Pattern 4",
    "Pattern 5",
    "Work Day",
    "Day Off",
    "Sick Day",
)
BOLUS_WIZARD_SCHEDULE = "Default"


def pattern_name(number: int) -> str:
    return PATTERN_NAMES[number - 1]


@dataclass(frozen=True)
class ExpectedLinkedSmbg:
    device_time: str
    time: datetime
    timezone_offset: int
    value: int


@dataclass(frozen=True)
class ExpectedMinimed:
    pump: ExpectedPump
    cbg: list[ExpectedCbg]
    smbg: list[ExpectedLinkedSmbg]
    wizard: list[ExpectedWizard] = field(default_factory=list)


def _rename(value: Any) -> Any:
    if isinstance(value, dict):
        out = {k: _rename(v) for k, v in value.items()}
        if isinstance(out.get("scheduleName"), str):
            out["scheduleName"] = _pattern_of(out["scheduleName"])
        return out
    return value


def _pattern_of(name: str) -> str:
    for number in range(1, len(PATTERN_NAMES) + 1):
        if name == schedule_name(number):
            return pattern_name(number)
    return name


def _settings(settings: dict[str, Any]) -> dict[str, Any]:
    out = dict(settings)
    out["basalSchedules"] = {_pattern_of(k): v for k, v in settings["basalSchedules"].items()}
    out["activeSchedule"] = _pattern_of(settings["activeSchedule"])
    for name in ("carbRatios", "insulinSensitivities", "bgTargets"):
        first = settings[name][schedule_name(1)]
        out[name] = {BOLUS_WIZARD_SCHEDULE: first}
    return out


def expected_minimed(pump: Minimed600Pump, timezone: str) -> ExpectedMinimed:
    """What the cloud must hold after reading ``pump`` for a person in ``timezone``."""
    ids = expected_pump(pump.model, timezone)
    datums = [replace(d, fields=_rename(d.fields)) for d in ids.datums]
    bootstrapped = bool(pump.model.ledger.clock_changes)
    zone = ZoneInfo(timezone)

    def place(at: datetime, shown: datetime) -> tuple[str, datetime, int]:
        text = shown.strftime("%Y-%m-%dT%H:%M:%S")
        if bootstrapped:
            true = at.astimezone(UTC).replace(microsecond=0)
            return text, true, round((shown - true.replace(tzinfo=None)).total_seconds() / 60)
        offset = shown.replace(tzinfo=zone, fold=0).utcoffset() or timedelta(0)
        return text, (shown - offset).replace(tzinfo=UTC), int(offset.total_seconds() // 60)

    cbg = []
    for value in pump.sensor:
        device_time, time, offset = place(value.at, value.display)
        cbg.append(ExpectedCbg(device_time, time, offset, value.mg_dl, None, None))
    smbg = []
    for reading in pump.bg_readings:
        device_time, time, offset = place(reading.at, reading.display)
        smbg.append(ExpectedLinkedSmbg(device_time, time, offset, reading.mg_dl))
    return ExpectedMinimed(
        ExpectedPump(datums, _settings(ids.settings)), cbg, smbg, expected_wizards(pump, timezone)
    )


def compare_cbg(expected: ExpectedMinimed, cloud: list[dict[str, Any]]) -> LedgerComparison:
    """The cloud's ``cbg`` against the pump's sensor ledger."""
    return compare_glucose("cbg", expected.cbg, cloud, None)


def compare_linked_smbg(expected: ExpectedMinimed, cloud: list[dict[str, Any]]) -> LedgerComparison:
    """The cloud's ``smbg`` against the pump's linked-meter BG readings."""
    return compare_glucose("smbg", expected.smbg, cloud, "linked")


def compare_minimed_with_ledger(
    expected: ExpectedMinimed, cloud: list[dict[str, Any]]
) -> LedgerComparison:
    """Everything the pump holds against the cloud: pump datums, ``cbg``, linked ``smbg`` and
    ``wizard`` (each difference named with its kind)."""
    return combine(
        (
            ("pump", compare_pump_with_ledger(expected.pump, cloud)),
            ("cbg", compare_cbg(expected, cloud)),
            ("smbg", compare_linked_smbg(expected, cloud)),
            ("wizard", compare_wizards(expected.wizard, cloud)),
        )
    )


__all__ = [
    "ExpectedMinimed",
    "ExpectedPumpDatum",
    "compare_cbg",
    "compare_linked_smbg",
    "compare_minimed_with_ledger",
    "expected_minimed",
    "pattern_name",
]
