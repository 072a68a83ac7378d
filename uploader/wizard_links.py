"""Links from ``wizard`` datums to the bolus each calculation led to.

The Tidepool ``wizard`` datum names its bolus by the bolus datum's id (calculator.v1.yaml),
and only the cloud assigns ids. Normalization gives each wizard the device time of its bolus
(``Wizard.bolus_device_time``); the upload fills ``bolus`` from what the cloud holds: a
bolus of the same device at that device time (the nearest in UTC time when a clock set back
shows that time twice). A wizard whose bolus is not in the cloud yet waits: it is sent after
the boluses of the same run (``waiting``), so nothing is sent with a link missing or wrong.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from uploader.datamodel import DeviceDatum
from uploader.datamodel.wizard import Wizard


def _instant(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


class WizardLinks:
    """The wizards of one read (``models`` and their wire form ``datums``, in step)."""

    def __init__(self, models: list[DeviceDatum], datums: list[dict[str, Any]]) -> None:
        self._pending: list[tuple[dict[str, Any], str, datetime]] = []
        for model, datum in zip(models, datums, strict=True):
            if isinstance(model, Wizard) and model.bolus_device_time is not None:
                wanted = model.bolus_device_time.strftime("%Y-%m-%dT%H:%M:%S")
                self._pending.append((datum, wanted, model.time))

    def resolve(self, cloud: list[dict[str, Any]]) -> None:
        """Fill ``bolus`` of every waiting wizard whose bolus ``cloud`` holds."""
        by_time: dict[str, list[dict[str, Any]]] = {}
        for datum in cloud:
            if datum.get("type") == "bolus" and isinstance(datum.get("id"), str):
                by_time.setdefault(str(datum.get("deviceTime")), []).append(datum)
        for datum, wanted, when in self._pending:
            found = by_time.get(wanted)
            if not found:
                continue
            best = min(found, key=lambda b: _distance(b.get("time"), when))
            datum["bolus"] = best["id"]

    def waiting(self) -> list[dict[str, Any]]:
        """Wizard datums still without their bolus id."""
        return [datum for datum, _, _ in self._pending if "bolus" not in datum]

    def ready(self, datums: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``datums`` without the wizards still waiting."""
        waiting = {id(d) for d in self.waiting()}
        return [d for d in datums if id(d) not in waiting]


def _distance(value: Any, when: datetime) -> float:
    moment = _instant(value)
    return abs((moment - when).total_seconds()) if moment is not None else float("inf")
