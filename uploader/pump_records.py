"""Insulin pump records as drivers deliver them: device-neutral, in device time, before
normalization (``uploader.normalize.pump`` turns them into Tidepool datums).

Every record has the pump's wall-clock ``device_time`` and ``index``, its place in the pump's
own event order (the IDS record number): time processing places records by it when the pump's
clock was changed (``uploader.time_bootstrap``). Basal delivery comes as intervals the driver
closed (start, duration); the schedule a temp basal or suspend suppressed is added during
normalization from the pump's settings.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal

AlarmType = Literal[
    "auto_off",
    "low_insulin",
    "low_power",
    "no_delivery",
    "no_insulin",
    "no_power",
    "occlusion",
    "other",
    "over_limit",
]


@dataclass(frozen=True)
class PumpBolus:
    """A bolus, joined from its programmed and delivered records."""

    device_time: datetime
    index: int
    kind: Literal["normal", "extended", "combination"]
    normal: float
    """Units delivered at once (0 for an extended bolus)."""
    extended: float
    """Units delivered over ``duration_ms`` (0 for a normal bolus)."""
    duration_ms: int
    expected_normal: float
    expected_extended: float
    expected_duration_ms: int
    automated: bool = False
    """Commanded by an automated insulin delivery controller."""
    link: int | None = None
    """The pump's own identity of the bolus (MiniMed: its programmed event's RTC), when a
    bolus calculator record refers to it (``PumpWizard.bolus_link``)."""

    @property
    def interrupted(self) -> bool:
        return (
            self.normal < self.expected_normal
            or self.extended < self.expected_extended
            or self.duration_ms < self.expected_duration_ms
        )


@dataclass(frozen=True)
class PumpBasal:
    """One closed interval of basal delivery."""

    device_time: datetime
    index: int
    delivery_type: Literal["scheduled", "temp", "suspend"]
    duration_ms: int
    rate: float | None = None
    """U/h; None for a suspend, and for a percentage temp basal (the rate then follows from
    the suppressed scheduled rate)."""
    percent: float | None = None
    """A percentage temp basal's fraction of the scheduled rate (1.0 = 100%)."""
    expected_duration_ms: int | None = None
    """The programmed duration of a temp basal or suspend that ended early."""
    schedule: int | None = None
    """The basal profile template in force (its number)."""
    suppressed_rate: float | None = None
    """The scheduled rate a temp basal or suspend suppressed, when the pump records it with
    the interval (t:slim X2: BasalRateChange's base rate; its pieces already break at the
    schedule's boundaries). None: normalization looks it up in the settings' schedule."""


@dataclass(frozen=True)
class PumpEvent:
    """A device event: reservoir change, prime, delivery suspended/resumed, alarm."""

    device_time: datetime
    index: int
    kind: Literal["reservoirChange", "prime", "status", "alarm"]
    status: Literal["suspended", "resumed"] | None = None
    reason: Literal["manual", "automatic"] | None = None
    prime_target: Literal["cannula", "tubing"] | None = None
    volume: float | None = None
    alarm_type: AlarmType | None = None
    payload: dict[str, str | int] | None = None


@dataclass(frozen=True)
class PumpWizard:
    """One use of the pump's bolus calculator, in the units the pump used."""

    device_time: datetime
    index: int
    bg_units: Literal["mg/dL", "mmol/L"]
    carb_units: Literal["grams", "exchanges"]
    bg_input: float | None
    carb_input: float
    insulin_carb_ratio: float
    insulin_sensitivity: float
    target_low: float
    target_high: float
    insulin_on_board: float
    recommended_carb: float
    recommended_correction: float
    recommended_net: float
    bolus_link: int | None = None
    """``PumpBolus.link`` of the bolus the calculation led to (None: no bolus followed)."""


@dataclass(frozen=True)
class TimeBlock:
    start_ms: int
    """Milliseconds after midnight."""
    values: tuple[float, ...]


@dataclass(frozen=True)
class PumpSettingsSnapshot:
    """The pump's therapy settings as read at upload (IDS profile templates)."""

    device_time: datetime
    basal_schedules: dict[int, tuple[TimeBlock, ...]]
    active_basal: int | None
    carb_ratios: dict[int, tuple[TimeBlock, ...]] = field(default_factory=dict)
    insulin_sensitivities: dict[int, tuple[TimeBlock, ...]] = field(default_factory=dict)
    """mg/dL per unit."""
    bg_targets: dict[int, tuple[TimeBlock, ...]] = field(default_factory=dict)
    """(low, high) in mg/dL, or (target,) for a pump that keeps a single target."""
    active: dict[str, int] = field(default_factory=dict)
    """Active template number by kind: basal, isf, carb, target."""
    schedule_names: dict[int, str] = field(default_factory=dict)
    """The pump's own names of its schedules by number (MiniMed: "Pattern 1", "Work Day"...,
    and "Default" for its one set of Bolus Wizard settings); others are ``Template <n>``."""

    def fingerprint(self) -> str:
        """What the settings hold, not when they were read: equal exactly when nothing
        changed (a driver's cursor keeps it, so an unchanged pump sends no new
        ``pumpSettings``)."""
        content = asdict(replace(self, device_time=datetime.min))
        digest = hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode())
        return digest.hexdigest()[:32]


@dataclass
class PumpHistory:
    """Everything one read of a pump produced, besides clock changes (``DeviceData``)."""

    boluses: list[PumpBolus] = field(default_factory=list)
    basals: list[PumpBasal] = field(default_factory=list)
    events: list[PumpEvent] = field(default_factory=list)
    wizards: list[PumpWizard] = field(default_factory=list)
    settings: PumpSettingsSnapshot | None = None
    """The settings read at upload (normalization needs their schedules every time)."""
    settings_changed: bool = True
    """Whether they differ from the last verified upload's: only then is a ``pumpSettings``
    datum sent."""

    @property
    def record_count(self) -> int:
        return len(self.boluses) + len(self.basals) + len(self.events) + len(self.wizards)

    def device_times(self) -> list[datetime]:
        """The device time of every record (basals: their ends too)."""
        out = [b.device_time for b in self.boluses] + [e.device_time for e in self.events]
        out += [w.device_time for w in self.wizards]
        for basal in self.basals:
            out += [
                basal.device_time,
                basal.device_time + timedelta(milliseconds=basal.duration_ms),
            ]
        return out


def schedule_name(number: int) -> str:
    """The name a profile template's schedule gets in Tidepool (IDS templates are numbered,
    not named)."""
    return f"Template {number}"
