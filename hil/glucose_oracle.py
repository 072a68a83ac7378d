"""Judging a pump's own glucose records (``cbg`` from its sensor, ``smbg`` from its meter) and
combining a device's per-kind comparisons into one, for the pump oracles that have them
(``hil.minimed600_oracle``, ``hil.tslim_x2_oracle``).

A glucose datum matches when ``value`` (mg/dL), ``subType`` (when given), ``time`` and
``timezoneOffset`` equal what the ledger says. Datums pair by device time, several per device
time allowed: a pump clock set back repeats an hour, so each expected datum pairs with an
equal copy and only copies beyond the expected count are duplicates.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from hil.oracle import LedgerComparison, pair_with_copies, placement_problems


class PlacedGlucose(Protocol):
    """One glucose value of a device's ledger, placed in time as the cloud must hold it."""

    @property
    def device_time(self) -> str: ...
    @property
    def time(self) -> datetime: ...
    @property
    def timezone_offset(self) -> int: ...
    @property
    def value(self) -> int | float: ...


def glucose_problems(want: PlacedGlucose, got: dict[str, Any], sub_type: str | None) -> list[str]:
    """How ``got`` differs from ``want`` (empty when it matches)."""
    problems = []
    value = got.get("value")
    if got.get("units") != "mg/dL" or not (
        isinstance(value, int | float) and math.isclose(value, want.value)
    ):
        problems.append(f"value {value} {got.get('units')} != {want.value} mg/dL")
    if sub_type is not None and got.get("subType") != sub_type:
        problems.append(f"subType {got.get('subType')} != {sub_type}")
    problems += placement_problems(got, want.time, want.timezone_offset)
    return problems


def compare_glucose(
    kind: str,
    expected: Sequence[PlacedGlucose],
    cloud: list[dict[str, Any]],
    sub_type: str | None,
) -> LedgerComparison:
    """The cloud's ``kind`` datums against ``expected``, by device time."""
    result = LedgerComparison(expected=len(expected))
    pair_with_copies(
        result,
        expected,
        lambda item: item.device_time,
        [d for d in cloud if d.get("type") == kind],
        lambda datum: str(datum.get("deviceTime")),
        lambda want, got: glucose_problems(want, got, sub_type),
    )
    return result


def combine(parts: Iterable[tuple[str, LedgerComparison]]) -> LedgerComparison:
    """One comparison from per-kind ones, each difference prefixed with its kind."""
    total = LedgerComparison()
    for kind, part in parts:
        total.expected += part.expected
        total.matched += part.matched
        for name in ("missing", "duplicated", "unexpected", "wrong"):
            getattr(total, name).extend(f"{kind} {item}" for item in getattr(part, name))
    return total
