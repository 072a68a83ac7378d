"""A continuous glucose monitor's model: identity, clock, battery, sessions and readings.

A CGM sensor measures every 5 minutes during a *session*. It stamps each reading with its
*time offset*: whole minutes since the session started, counted by its own timer, so a
reading's device time is the session's start time (device local time, as the sensor's clock
showed it, or as the collector later set it) plus the offset. The sensor holds only the
current session's readings: starting a session (a new sensor) clears the old ones.

Sensor rules modelled here:

- a session starts (at a time the world's user chooses, or when a collector asks) and runs
  for ``session_length``; then it expires and, if ``auto_restart``, the user starts a new
  sensor when the world says so; a collector can stop it earlier;
- for ``warmup`` after a start there are no readings; then one every ``interval``;
- a reading below 40 mg/dL is stored as 39 with status bit 22 (lower than the device can
  process), above 400 as 401 with bit 23 (higher), as Tidepool expects CGM LO/HI;
- a reading measured during a signal loss is held back and stored when the world delivers
  it (backfill), or never; a session that ends loses what it still held back;
- the trend, in (mg/dL)/min over the last interval, is computed only for readings stored in
  real time that have a predecessor in the session; backfilled readings carry none.

The world the sensor lives in (glucose, signal quality, signal losses, the user's sensor
changes) is a ``CgmWorld``; ``emulator.generators.cgm_history`` provides a seeded one. Time
moves with the clock's time source: the model works out, whenever asked, which readings the
sensor holds at that moment, so a test that steps the source sees backfilled readings
appear, sessions end and new ones start, deterministically.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from emulator.model.battery import Battery
from emulator.model.clock import DeviceClock

LOW_LIMIT_MG_DL = 40
HIGH_LIMIT_MG_DL = 400
LO_VALUE_MG_DL = 39
HI_VALUE_MG_DL = 401
STATUS_RESULT_TOO_LOW = 1 << 22
STATUS_RESULT_TOO_HIGH = 1 << 23
MAX_SESSION = timedelta(minutes=0xFFFF)
"""Time offsets are uint16 minutes: no session can outlast 45.5 days."""


class CgmWorld(Protocol):
    """What happens around a sensor; every answer depends only on its argument."""

    def glucose_at(self, when: datetime) -> float:
        """Interstitial glucose (mg/dL) at true local time ``when``."""
        ...

    def quality_at(self, when: datetime) -> float | None:
        """Signal quality (percent) of a reading measured at ``when``, or None."""
        ...

    def stored_at(self, when: datetime) -> datetime | None:
        """When a reading measured at ``when`` reaches memory: ``when`` itself normally,
        later after a signal loss (backfill), None when it is lost for good."""
        ...

    def next_sensor_start(self, ended: datetime) -> datetime | None:
        """When the user starts a new session after one expired at ``ended`` (None: never)."""
        ...


@dataclass(frozen=True)
class CgmRecord:
    """One stored reading, as the sensor reports it."""

    session_start: datetime
    """The session's start, device local time."""
    time_zone_minutes: int | None
    """UTC offset of the session's local time, DST included (None: unknown)."""
    time_offset: int
    """Minutes since the session start."""
    value_mg_dl: int
    trend: float | None
    """(mg/dL)/min, to 0.1; None when the sensor gives none."""
    quality: float | None
    """Percent; None when the sensor gives none."""
    status: int = 0
    """Sensor status annunciation (24 bits, CGMS layout)."""

    @property
    def device_time(self) -> datetime:
        return self.session_start + timedelta(minutes=self.time_offset)

    @property
    def is_low(self) -> bool:
        return bool(self.status & STATUS_RESULT_TOO_LOW)

    @property
    def is_high(self) -> bool:
        return bool(self.status & STATUS_RESULT_TOO_HIGH)


@dataclass
class CgmSession:
    """A sensor session. ``started``/``stopped`` are true times; ``local_start`` device time."""

    number: int
    started: datetime
    local_start: datetime
    length: timedelta
    stopped: datetime | None = None
    stop_reason: str | None = None
    """``expired``, or ``stopped`` (by a collector)."""

    @property
    def ends(self) -> datetime:
        """When the session ended, or will expire if nothing stops it first."""
        return self.stopped if self.stopped is not None else self.started + self.length

    def running_at(self, when: datetime) -> bool:
        return self.started <= when < self.ends


@dataclass(frozen=True)
class _Slot:
    """One measurement time of a session, computed once (the world is deterministic)."""

    offset: int
    raw: float
    stored_at: datetime | None
    value_mg_dl: int
    trend: float | None
    quality: float | None
    status: int


class SessionRunning(Exception):
    """A session cannot start while one is running."""


@dataclass
class CgmModel:
    """Everything a CGM sensor is, apart from how it talks."""

    serial_number: str
    model_name: str
    firmware_version: str
    world: CgmWorld
    clock: DeviceClock = field(default_factory=DeviceClock)
    battery: Battery = field(default_factory=Battery)
    session_length: timedelta = timedelta(days=14)
    warmup: timedelta = timedelta(hours=2)
    interval: timedelta = timedelta(minutes=5)
    time_zone_minutes: int | None = 0
    """Standard-time UTC offset of the sessions' local time (None: unknown)."""
    dst_minutes: int | None = 0
    """Daylight-saving shift on top of it (None: unknown)."""
    first_session_start: datetime | None = None
    """True time of the first session's start; None: none until a collector starts one."""
    auto_restart: bool = True

    def __post_init__(self) -> None:
        if self.session_length > MAX_SESSION:
            raise ValueError(
                f"a CGMS session lasts at most {MAX_SESSION} (its time offsets are 16-bit "
                f"minutes), not {self.session_length}"
            )
        self._lock = threading.RLock()
        self._sessions: list[CgmSession] = []
        self._slots: dict[int, list[_Slot]] = {}

    # ---- time ---------------------------------------------------------------------------

    def now(self) -> datetime:
        """True local time (the sensor's timers follow it)."""
        return self.clock.true_now()

    @property
    def utc_offset_minutes(self) -> int | None:
        """Time zone plus DST of the sessions' local time, or None when either is unknown."""
        if self.time_zone_minutes is None or self.dst_minutes is None:
            return None
        return self.time_zone_minutes + self.dst_minutes

    # ---- sessions -----------------------------------------------------------------------

    def sessions(self) -> list[CgmSession]:
        """Every session so far, oldest first (copies)."""
        with self._lock:
            self._advance()
            return [CgmSession(**vars(s)) for s in self._sessions]

    def current_session(self) -> CgmSession | None:
        """The latest session (running or ended): the one whose readings the sensor holds."""
        with self._lock:
            self._advance()
            return CgmSession(**vars(self._sessions[-1])) if self._sessions else None

    @property
    def session_running(self) -> bool:
        with self._lock:
            self._advance()
            return bool(self._sessions) and self._sessions[-1].running_at(self.now())

    def start_session(self) -> CgmSession:
        """A collector starts a session now (a new sensor): the old readings are gone."""
        with self._lock:
            if self.session_running:
                raise SessionRunning("a session is already running")
            session = self._new_session(self.now())
            return CgmSession(**vars(session))

    def stop_session(self) -> bool:
        """A collector stops the running session now; False when none was running."""
        with self._lock:
            if not self.session_running:
                return False
            session = self._sessions[-1]
            session.stopped = self.now()
            session.stop_reason = "stopped"
            return True

    def time_offset_now(self) -> int:
        """Whole minutes since the current session started (0 without a session)."""
        with self._lock:
            self._advance()
            if not self._sessions:
                return 0
            elapsed = self.now() - self._sessions[-1].started
            return max(0, int(elapsed.total_seconds() // 60))

    def set_session_start_time(
        self, written: datetime, time_zone_minutes: int | None, dst_minutes: int | None
    ) -> None:
        """A collector writes Session Start Time: ``written`` is its current local time.

        The sensor sets its clock to ``written`` and moves the current session's start so
        that start + elapsed session time = ``written``; it keeps the zone and DST shift."""
        with self._lock:
            self._advance()
            self.clock.set(written)
            self.time_zone_minutes = time_zone_minutes
            self.dst_minutes = dst_minutes
            if self._sessions:
                session = self._sessions[-1]
                elapsed = self.now() - session.started
                session.local_start = (written - elapsed).replace(microsecond=0)

    def _new_session(self, started: datetime) -> CgmSession:
        local_offset = self.clock.now() - self.clock.true_now()
        session = CgmSession(
            number=len(self._sessions) + 1,
            started=started,
            local_start=(started + local_offset).replace(microsecond=0),
            length=self.session_length,
        )
        self._sessions.append(session)
        self._slots.pop(session.number, None)
        return session

    def _advance(self) -> None:
        """Apply what happened up to now: the first start, expiries, the user's restarts."""
        now = self.now()
        if not self._sessions:
            if self.first_session_start is None or self.first_session_start > now:
                return
            self._new_session(self.first_session_start)
        while True:
            last = self._sessions[-1]
            if last.stopped is None and last.started + last.length <= now:
                last.stopped = last.started + last.length
                last.stop_reason = "expired"
            if last.stop_reason != "expired" or not self.auto_restart:
                return
            restart = self.world.next_sensor_start(last.ends)
            if restart is None or restart > now:
                return
            self._new_session(max(restart, last.ends))

    # ---- readings -----------------------------------------------------------------------

    def ledger(self) -> list[CgmRecord]:
        """Every reading the sensor holds now (the current session's), by time offset."""
        with self._lock:
            self._advance()
            if not self._sessions:
                return []
            session = self._sessions[-1]
            now = self.now()
            horizon = min(now, session.ends)
            slots = self._slots_until(session, horizon)
            zone = self.utc_offset_minutes
            return [
                CgmRecord(
                    session_start=session.local_start,
                    time_zone_minutes=zone,
                    time_offset=slot.offset,
                    value_mg_dl=slot.value_mg_dl,
                    trend=slot.trend,
                    quality=slot.quality,
                    status=slot.status,
                )
                for slot in slots
                if slot.stored_at is not None and slot.stored_at <= horizon
            ]

    def _slots_until(self, session: CgmSession, horizon: datetime) -> list[_Slot]:
        """The session's measurement slots measured by ``horizon`` (before the session end)."""
        slots = self._slots.setdefault(session.number, [])
        step = int(self.interval.total_seconds() // 60)
        first = int(self.warmup.total_seconds() // 60)
        offset = slots[-1].offset + step if slots else first
        while True:
            measured = session.started + timedelta(minutes=offset)
            if measured > horizon or measured >= session.ends:
                break
            previous = slots[-1].raw if slots else None
            slots.append(self._measure(offset, measured, previous))
            offset += step
        return [s for s in slots if session.started + timedelta(minutes=s.offset) <= horizon]

    def _measure(self, offset: int, measured: datetime, previous: float | None) -> _Slot:
        """The reading measured at ``measured``; ``previous`` is the raw glucose of the
        session's reading before it (None for the first after warm-up)."""
        raw = self.world.glucose_at(measured)
        stored_at = self.world.stored_at(measured)
        if raw < LOW_LIMIT_MG_DL:
            value, status = LO_VALUE_MG_DL, STATUS_RESULT_TOO_LOW
        elif raw > HIGH_LIMIT_MG_DL:
            value, status = HI_VALUE_MG_DL, STATUS_RESULT_TOO_HIGH
        else:
            value, status = round(raw), 0
        trend: float | None = None
        if previous is not None and stored_at == measured:
            minutes = self.interval.total_seconds() / 60
            trend = round((raw - previous) / minutes, 1)
        quality = self.world.quality_at(measured)
        return _Slot(
            offset=offset,
            raw=raw,
            stored_at=stored_at,
            value_mg_dl=value,
            trend=trend,
            quality=None if quality is None else float(round(quality)),
            status=status,
        )
