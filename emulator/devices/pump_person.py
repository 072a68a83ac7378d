"""A pump emulator's view of its past: the pump clock at any moment of its history, and the
person's sensor glucose and meal-time meter readings.

Shared by the MiniMed 600 and t:slim X2 emulators (``emulator.devices.minimed600_pump``,
``emulator.devices.tslim_x2_pump``): both keep the pump's behaviour in a ``PumpModel``
(``emulator.model.pump``) and take glucose from the same seed's ``CgmHistory`` world
(``emulator.generators.cgm_history``). The pump clock's reading at a past moment follows the
reference time events of the history (each sets what the clock shows from then on).
"""

from __future__ import annotations

import bisect
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from emulator.generators.cgm_history import CgmHistory
from emulator.model.pump import PumpModel, ReferenceTime

MIN_MG_DL = 40
MAX_MG_DL = 400


class PumpPerson:
    """The pump's history clock and the glucose of the person wearing it (seed, IANA zone)."""

    def __init__(self, model: PumpModel, *, seed: int, timezone: str) -> None:
        self.model = model
        self.zone = ZoneInfo(timezone)
        self.world = CgmHistory(seed)
        references = [
            (e.utc, e.payload.display - e.utc.astimezone(UTC).replace(tzinfo=None))
            for e in model.history
            if isinstance(e.payload, ReferenceTime)
        ]
        self.times = [at for at, _ in references]
        """When each reference time was recorded (UTC), oldest first."""
        self._offsets = [offset for _, offset in references]

    def display(self, at: datetime) -> datetime:
        """The pump clock's reading at true time ``at`` (from its reference times)."""
        if not self._offsets:
            return self.model.display(at).replace(microsecond=0)
        index = max(0, bisect.bisect_right(self.times, at) - 1)
        return (at.astimezone(UTC).replace(tzinfo=None) + self._offsets[index]).replace(
            microsecond=0
        )

    def _local(self, at: datetime) -> datetime:
        """The person's true local time (the world's clock), naive."""
        return at.astimezone(self.zone).replace(tzinfo=None)

    def glucose(self, at: datetime) -> int:
        """The person's glucose at ``at``, mg/dL, within what a meter or sensor reports."""
        return max(MIN_MG_DL, min(MAX_MG_DL, round(self.world.glucose_at(self._local(at)))))

    def sensor(self, interval_minutes: int) -> list[tuple[datetime, datetime, int]]:
        """(true time, pump clock, mg/dL) every ``interval_minutes`` on the hour's grid, from
        the history's start to the model's present, while the person's sensor stores one."""
        if not self.times:
            return []
        at = self.times[0].replace(second=0, microsecond=0)
        at += timedelta(minutes=(-at.minute) % interval_minutes)
        step = timedelta(minutes=interval_minutes)
        out = []
        while at <= self.model.now:
            if self.world.stored_at(self._local(at)) is not None:
                out.append((at, self.display(at), self.glucose(at)))
            at += step
        return out

    def meal_bg_times(self, before: timedelta) -> list[datetime]:
        """When the person checked their BG: ``before`` each meal bolus within the history."""
        return [
            b.start - before
            for b in self.model.ledger.boluses
            if b.meal and self.times and b.start - before >= self.times[0]
        ]
