"""The test oracle: what the cloud must hold, computed from a device's own ledger.

End-to-end tests never judge the uploader by its own output. They take the emulated
device's ledger (every record it holds), derive from the device's semantics and Tidepool's
data model what the cloud should contain, and compare that with what the cloud actually
returns over HTTP: nothing lost, nothing duplicated, nothing invented, every value right.

The derivation is written independently of the uploader's normalization (docs:
../shared/specs/tidepool-api/docs/device-data/oor-values.md for LO/HI, the BGM checklist
for control solutions, docs/datetime for across-the-board timezone placement).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from emulator.model.meter import GlucoseUnit, MeterModel, MeterReading, ReadingFlag
from emulator.protocols.contour_records import display_value

TIDEPOOL_MG_DL_PER_MMOL_L = 18.01559


@dataclass(frozen=True)
class ExpectedSmbg:
    device_time: str
    time: datetime
    timezone_offset: int
    units: str
    value: float
    out_of_range: str | None = None
    threshold: int | None = None


def expected_smbg(meter: MeterModel, timezone: str) -> list[ExpectedSmbg]:
    """The ``smbg`` datums the cloud must hold for ``meter``'s ledger, read in ``timezone``."""
    zone = ZoneInfo(timezone)
    return [_expected(r, meter, zone) for r in meter.ledger() if not r.is_control]


def _expected(reading: MeterReading, meter: MeterModel, zone: ZoneInfo) -> ExpectedSmbg:
    local = reading.device_time.replace(tzinfo=zone, fold=0)
    offset = local.utcoffset()
    assert offset is not None
    units = meter.unit.value
    oor = reading.out_of_range
    threshold = None
    if oor is ReadingFlag.LOW:
        threshold = meter.low_limit_mg_dl
        value_mg_dl: float = threshold - 1
    elif oor is ReadingFlag.HIGH:
        threshold = meter.high_limit_mg_dl
        value_mg_dl = threshold + 1
    if oor is not None:
        value = (
            value_mg_dl
            if meter.unit is GlucoseUnit.MG_DL
            else value_mg_dl / TIDEPOOL_MG_DL_PER_MMOL_L
        )
    else:
        value = float(display_value(reading.value_mg_dl, meter.unit))
    return ExpectedSmbg(
        device_time=reading.device_time.strftime("%Y-%m-%dT%H:%M:%S"),
        time=(reading.device_time - offset).replace(tzinfo=UTC),
        timezone_offset=int(offset.total_seconds() // 60),
        units=units,
        value=value,
        out_of_range=oor.value if oor else None,
        threshold=threshold,
    )


@dataclass
class LedgerComparison:
    expected: int = 0
    matched: int = 0
    missing: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return not (self.missing or self.duplicated or self.unexpected or self.wrong)

    def assert_exact(self) -> int:
        """Fail (AssertionError naming the differences) unless exact; the number matched."""
        if not self.exact:
            raise AssertionError(f"the cloud differs from the device's ledger: {self}")
        return self.matched

    def __str__(self) -> str:
        parts = [f"{self.matched}/{self.expected} matched"]
        for name in ("missing", "duplicated", "unexpected", "wrong"):
            items = getattr(self, name)
            if items:
                parts.append(f"{len(items)} {name} (e.g. {items[0]})")
        return ", ".join(parts)


def _problems(want: ExpectedSmbg, got: dict[str, Any]) -> list[str]:
    problems = []
    if got.get("units") != want.units:
        problems.append(f"units {got.get('units')} != {want.units}")
    value = got.get("value")
    if not isinstance(value, int | float) or not math.isclose(value, want.value, rel_tol=1e-9):
        problems.append(f"value {value} != {want.value}")
    try:
        stored_time = datetime.fromisoformat(str(got.get("time")).replace("Z", "+00:00"))
    except ValueError:
        stored_time = None
    if stored_time != want.time:
        problems.append(f"time {got.get('time')} != {want.time.isoformat()}")
    if got.get("timezoneOffset") != want.timezone_offset:
        problems.append(f"timezoneOffset {got.get('timezoneOffset')} != {want.timezone_offset}")
    oor = [a for a in got.get("annotations") or [] if a.get("code") == "bg/out-of-range"]
    if want.out_of_range is None and oor:
        problems.append("unexpected out-of-range annotation")
    if want.out_of_range is not None:
        if len(oor) != 1 or oor[0].get("value") != want.out_of_range:
            problems.append(f"out-of-range annotation should say {want.out_of_range}: {oor}")
        elif oor[0].get("threshold") != want.threshold:
            problems.append(f"threshold {oor[0].get('threshold')} != {want.threshold}")
    return problems


def compare_with_ledger(
    expected: list[ExpectedSmbg], cloud: list[dict[str, Any]]
) -> LedgerComparison:
    """Compare the cloud's ``smbg`` datums with the ledger's expectation, by device time."""
    result = LedgerComparison(expected=len(expected))
    held: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for datum in cloud:
        if datum.get("type") == "smbg":
            held[str(datum.get("deviceTime"))].append(datum)
    wanted: dict[str, list[ExpectedSmbg]] = defaultdict(list)
    for item in expected:
        wanted[item.device_time].append(item)
    for device_time, items in wanted.items():
        copies = held.get(device_time, [])
        if len(copies) > len(items):
            result.duplicated.append(device_time)
        for index, want in enumerate(items):
            if index >= len(copies):
                result.missing.append(device_time)
                continue
            problems = _problems(want, copies[index])
            if problems:
                result.wrong.append(f"{device_time}: {'; '.join(problems)}")
            else:
                result.matched += 1
    result.unexpected = [t for t in held if t not in wanted]
    return result
