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
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo

from emulator.model.cgm import CgmModel
from emulator.model.meter import GlucoseUnit, MeterModel, MeterReading, ReadingFlag

TIDEPOOL_MG_DL_PER_MMOL_L = 18.01559
METER_MG_DL_PER_MMOL_L = 18.0
"""What a meter set to mmol/L shows: mg/dL / 18 to one decimal (docs/protocols/contour-usb.md)."""


@dataclass(frozen=True)
class ExpectedSmbg:
    device_time: str
    time: datetime
    timezone_offset: int
    units: str
    value: float
    out_of_range: str | None = None
    threshold: int | None = None
    unknown_value: bool = False

    @property
    def annotations(self) -> list[dict[str, Any]]:
        if self.out_of_range is None:
            return []
        if self.unknown_value:
            return [
                {"code": "bg/out-of-range", "value": self.out_of_range},
                {"code": "smbg/unknown-value"},
            ]
        return [
            {"code": "bg/out-of-range", "value": self.out_of_range, "threshold": self.threshold}
        ]


OutOfRangeRule = Literal["threshold", "unknown"]
"""How a protocol conveys LO/HI. ``threshold``: the meter states its range (Contour's ``V=``),
so the datum is the bound -1/+1 mg/dL with the threshold. ``unknown``: the protocol has no
range (GLS status bits), so the datum keeps the value sent (the bound) and says
``smbg/unknown-value`` (docs/device-data/oor-values.md)."""


def expected_smbg(
    meter: MeterModel, timezone: str, out_of_range: OutOfRangeRule = "threshold"
) -> list[ExpectedSmbg]:
    """The ``smbg`` datums the cloud must hold for ``meter``'s ledger, read in ``timezone``."""
    zone = ZoneInfo(timezone)
    return [_expected(r, meter, zone, out_of_range) for r in meter.ledger() if not r.is_control]


def union(*ledgers: list[ExpectedSmbg]) -> list[ExpectedSmbg]:
    """What the cloud must hold after several uploads: every reading any of them saw, once
    (a meter's memory wraps and resets, the cloud keeps what it was given)."""
    seen: dict[tuple[str, float], ExpectedSmbg] = {}
    for ledger in ledgers:
        for item in ledger:
            seen.setdefault((item.device_time, item.value), item)
    return list(seen.values())


def _display(value_mg_dl: float, unit: GlucoseUnit) -> float:
    if unit is GlucoseUnit.MG_DL:
        return float(value_mg_dl)
    return round(value_mg_dl / METER_MG_DL_PER_MMOL_L, 1)


def _expected(
    reading: MeterReading, meter: MeterModel, zone: ZoneInfo, rule: OutOfRangeRule
) -> ExpectedSmbg:
    local = reading.device_time.replace(tzinfo=zone, fold=0)
    offset = local.utcoffset()
    assert offset is not None
    units = meter.unit.value
    oor = reading.out_of_range
    threshold = None
    value = _display(reading.value_mg_dl, meter.unit)
    if oor is not None and rule == "threshold":
        threshold = meter.low_limit_mg_dl if oor is ReadingFlag.LOW else meter.high_limit_mg_dl
        value_mg_dl = threshold - 1 if oor is ReadingFlag.LOW else threshold + 1
        value = (
            float(value_mg_dl)
            if meter.unit is GlucoseUnit.MG_DL
            else value_mg_dl / TIDEPOOL_MG_DL_PER_MMOL_L
        )
    return ExpectedSmbg(
        device_time=reading.device_time.strftime("%Y-%m-%dT%H:%M:%S"),
        time=(reading.device_time - offset).replace(tzinfo=UTC),
        timezone_offset=int(offset.total_seconds() // 60),
        units=units,
        value=value,
        out_of_range=oor.value if oor else None,
        threshold=threshold,
        unknown_value=oor is not None and rule == "unknown",
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


W = TypeVar("W")
K = TypeVar("K", bound=Hashable)


def pair_with_copies(
    result: LedgerComparison,
    expected: Iterable[W],
    expected_key: Callable[[W], K],
    held: Iterable[dict[str, Any]],
    held_key: Callable[[dict[str, Any]], K],
    problems: Callable[[W, dict[str, Any]], list[str]],
    name: Callable[[K], str] = str,
) -> None:
    """Pair each expected datum with an equal copy the cloud holds under the same key (several
    expected per key allowed: a clock set back repeats device times), adding to ``result``
    what matched and what is missing, duplicated (copies beyond the expected count), wrong
    (no copy equal: the first copy's ``problems``) or unexpected (a key nothing expects)."""
    wanted: dict[K, list[W]] = defaultdict(list)
    for item in expected:
        wanted[expected_key(item)].append(item)
    copies_of: dict[K, list[dict[str, Any]]] = defaultdict(list)
    for datum in held:
        copies_of[held_key(datum)].append(datum)
    for key, items in wanted.items():
        copies = list(copies_of.get(key, []))
        label = name(key)
        if len(copies) > len(items):
            result.duplicated.append(label)
        for want in items:
            if not copies:
                result.missing.append(label)
                continue
            match = next((c for c in copies if not problems(want, c)), None)
            if match is None:
                result.wrong.append(f"{label}: {'; '.join(problems(want, copies.pop(0)))}")
            else:
                copies.remove(match)
                result.matched += 1
    result.unexpected.extend(name(key) for key in copies_of if key not in wanted)


def placement_problems(got: dict[str, Any], time: datetime, timezone_offset: int) -> list[str]:
    """How ``got``'s ``time`` and ``timezoneOffset`` differ from where the ledger places it."""
    problems = []
    try:
        stored = datetime.fromisoformat(str(got.get("time")).replace("Z", "+00:00"))
    except ValueError:
        stored = None
    if stored != time:
        problems.append(f"time {got.get('time')} != {time.isoformat()}")
    if got.get("timezoneOffset") != timezone_offset:
        problems.append(f"timezoneOffset {got.get('timezoneOffset')} != {timezone_offset}")
    return problems


def _problems(want: ExpectedSmbg, got: dict[str, Any]) -> list[str]:
    problems = []
    if got.get("units") != want.units:
        problems.append(f"units {got.get('units')} != {want.units}")
    value = got.get("value")
    if not isinstance(value, int | float) or not math.isclose(value, want.value, rel_tol=1e-9):
        problems.append(f"value {value} != {want.value}")
    problems += placement_problems(got, want.time, want.timezone_offset)
    for offset in ("clockDriftOffset", "conversionOffset"):
        if got.get(offset, 0) != 0:
            problems.append(f"{offset} {got.get(offset)} != 0 (a meter's clock is taken as is)")
    if (got.get("annotations") or []) != want.annotations:
        problems.append(f"annotations {got.get('annotations')} != {want.annotations}")
    return problems


def compare_with_ledger(
    expected: list[ExpectedSmbg], cloud: list[dict[str, Any]]
) -> LedgerComparison:
    """Compare the cloud's ``smbg`` datums with the ledger's expectation, by device time."""
    result = LedgerComparison(expected=len(expected))
    device_ids = {datum.get("deviceId") for datum in cloud if datum.get("type") == "smbg"}
    if len(device_ids) > 1:
        result.wrong.append(
            f"smbg datums name {len(device_ids)} devices: {sorted(map(str, device_ids))}"
        )
    # several readings in one minute: each pairs with an equal copy
    pair_with_copies(
        result,
        expected,
        lambda item: item.device_time,
        [d for d in cloud if d.get("type") == "smbg"],
        lambda datum: str(datum.get("deviceTime")),
        _problems,
    )
    return result


@dataclass(frozen=True)
class ExpectedCbg:
    device_time: str
    time: datetime
    timezone_offset: int
    value: int
    trend: float | None
    out_of_range: str | None


def expected_cbg(sensor: CgmModel) -> list[ExpectedCbg]:
    """The ``cbg`` datums the cloud must hold for a CGM's ledger: placed by the sensor's own
    UTC offset (its Session Start Time says it), LO/HI as 39/401 with ``cbg/unknown-value``."""
    out = []
    for record in sensor.ledger():
        zone = record.time_zone_minutes
        assert zone is not None, "the emulated sensors always state their zone"
        oor = "low" if record.is_low else "high" if record.is_high else None
        out.append(
            ExpectedCbg(
                device_time=record.device_time.strftime("%Y-%m-%dT%H:%M:%S"),
                time=(record.device_time - timedelta(minutes=zone)).replace(tzinfo=UTC),
                timezone_offset=zone,
                value=record.value_mg_dl,
                trend=record.trend,
                out_of_range=oor,
            )
        )
    return out


def _cbg_problems(want: ExpectedCbg, got: dict[str, Any]) -> list[str]:
    problems = []
    if (got.get("units"), got.get("value")) != ("mg/dL", want.value):
        problems.append(f"value {got.get('value')} {got.get('units')} != {want.value} mg/dL")
    problems += placement_problems(got, want.time, want.timezone_offset)
    trend = got.get("trendRate")
    if (trend is None) != (want.trend is None) or (
        trend is not None and want.trend is not None and not math.isclose(trend, want.trend)
    ):
        problems.append(f"trendRate {trend} != {want.trend}")
    annotations = got.get("annotations") or []
    wanted = (
        [{"code": "bg/out-of-range", "value": want.out_of_range}, {"code": "cbg/unknown-value"}]
        if want.out_of_range
        else []
    )
    if annotations != wanted:
        problems.append(f"annotations {annotations} != {wanted}")
    return problems


def compare_cbg_with_ledger(
    expected: list[ExpectedCbg], cloud: list[dict[str, Any]]
) -> LedgerComparison:
    """The cloud's ``cbg`` datums against a sensor ledger, by device time."""
    result = LedgerComparison(expected=len(expected))
    held: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for datum in cloud:
        if datum.get("type") == "cbg":
            held[str(datum.get("deviceTime"))].append(datum)
    wanted = {item.device_time: item for item in expected}
    for device_time, want in wanted.items():
        copies = held.get(device_time, [])
        if not copies:
            result.missing.append(device_time)
            continue
        if len(copies) > 1:
            result.duplicated.append(device_time)
        problems = _cbg_problems(want, copies[0])
        if problems:
            result.wrong.append(f"{device_time}: {'; '.join(problems)}")
        else:
            result.matched += 1
    result.unexpected = [t for t in held if t not in wanted]
    return result
