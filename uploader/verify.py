"""Verification: does the cloud hold exactly what was read from the device?

The uploader reads back what the cloud holds for the device over the read's time range and
compares it, datum by datum, with the datums normalized from this read (all of them, not
only the new ones: something uploaded earlier and since lost is found too). A datum is
identified by (type, deviceId, deviceTime); then every field the uploader sends must come
back equal (times as instants, numbers as numbers). The cloud's own bookkeeping fields
(``id``, ``uploadId``, ``createdTime``...) are ignored.

Outcomes: missing (on the device, not in the cloud), duplicated (more copies in the cloud
than on the device), mismatched (in both, different values), and extra (in the cloud for
this device and range, not on the device: not the uploader's doing, reported as a warning).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

Key = tuple[str, str, str]


def datum_key(datum: dict[str, Any]) -> Key:
    return (str(datum.get("type")), str(datum.get("deviceId")), str(datum.get("deviceTime")))


def _instant(value: Any) -> Any:
    """A timestamp string as a datetime (so equal instants compare equal), else unchanged."""
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    return value


def _same(sent: Any, stored: Any) -> bool:
    if isinstance(sent, dict) and isinstance(stored, dict):
        return all(k in stored and _same(v, stored[k]) for k, v in sent.items())
    if isinstance(sent, list) and isinstance(stored, list):
        return len(sent) == len(stored) and all(
            _same(a, b) for a, b in zip(sent, stored, strict=True)
        )
    if isinstance(sent, bool) or isinstance(stored, bool):
        return sent is stored
    if isinstance(sent, int | float) and isinstance(stored, int | float):
        return float(sent) == float(stored)
    return bool(_instant(sent) == _instant(stored))


def differences(
    sent: dict[str, Any], stored: dict[str, Any], ignore: frozenset[str] = frozenset()
) -> list[str]:
    """The fields of ``sent`` (but ``ignore``) that ``stored`` lacks or holds differently."""
    return [
        name
        for name, value in sent.items()
        if name not in ignore and (name not in stored or not _same(value, stored[name]))
    ]


@dataclass
class Mismatch:
    key: Key
    fields: list[str]


@dataclass
class VerificationReport:
    expected: int = 0
    found: int = 0
    missing: list[Key] = field(default_factory=list)
    duplicated: list[Key] = field(default_factory=list)
    mismatched: list[Mismatch] = field(default_factory=list)
    extra: list[Key] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.duplicated or self.mismatched)

    def summary(self) -> str:
        parts = [f"{self.expected} expected", f"{self.found} found"]
        for name in ("missing", "duplicated", "mismatched", "extra"):
            items = getattr(self, name)
            if items:
                parts.append(f"{len(items)} {name}")
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "expected": self.expected,
            "found": self.found,
            "missing": [list(k) for k in self.missing],
            "duplicated": [list(k) for k in self.duplicated],
            "mismatched": [{"key": list(m.key), "fields": m.fields} for m in self.mismatched],
            "extra": [list(k) for k in self.extra],
        }


PROVENANCE = frozenset({"clockDriftOffset"})
"""Fields that record how a datum was placed without moving it: a device's drift grows
between reads, so a datum uploaded earlier may hold another value and still be the same."""


def compare(
    expected: Iterable[dict[str, Any]],
    stored: Iterable[dict[str, Any]],
    ignore: frozenset[str] = frozenset(),
) -> VerificationReport:
    """Datum by datum, fields named in ``ignore`` aside."""
    report = VerificationReport()
    wanted: dict[Key, list[dict[str, Any]]] = defaultdict(list)
    for datum in expected:
        wanted[datum_key(datum)].append(datum)
        report.expected += 1
    held: dict[Key, list[dict[str, Any]]] = defaultdict(list)
    for datum in stored:
        held[datum_key(datum)].append(datum)
    counts = Counter({key: len(items) for key, items in held.items()})

    for key, sent_items in wanted.items():
        stored_items = list(held.get(key, []))
        for sent in sent_items:
            match = next((s for s in stored_items if not differences(sent, s, ignore)), None)
            if match is not None:
                stored_items.remove(match)
                report.found += 1
            elif stored_items:
                report.mismatched.append(
                    Mismatch(key, differences(sent, stored_items.pop(0), ignore))
                )
            else:
                report.missing.append(key)
        if counts[key] > len(sent_items):
            report.duplicated.append(key)
    report.extra = [key for key in held if key not in wanted]
    return report
