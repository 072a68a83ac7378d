"""An emulated Tandem t:slim X2: the person's pump history as the pump's history log, and the
answers to status requests.

The pump part is the shared ``PumpModel`` (emulator.model.pump) and its ledger, written as the
t:slim X2 logs it (emulator.protocols.tandem_history; pumpX2's public description): a bolus is
BolusRequestedMsg2 (standard percent, extended minutes), BolusActivated and BolexActivated
(programmed parts), BolusCompleted and BolexCompleted (delivered parts); each basal change a
BasalRateChange (with TempRateActivated / TempRateCompleted around a temporary rate);
suspend/resume PumpingSuspended / PumpingResumed; a reservoir change CartridgeFilled; primes
TubingFilled / CannulaFilled; alerts (low reservoir, low battery) AlertActivated and alarms
(occlusion, empty cartridge, battery shutdown) AlarmActivated with pumpX2's ids; a clock
change TimeChanged (and DateChange when the day changes). As the MiniMed 600 emulator does,
the same seed's CGM world gives CGM readings (CgmDataGx, every 5 minutes while the sensor
stores one) and a meter BG 5 minutes before each meal bolus (BG). Ledgers ``sensor`` and
``bg_readings`` are the truth for the oracle. Sequence numbers start at 1, oldest first.
Status requests are answered from the model at its present (``answer``): the bolus being
delivered, the basal rate running, insulin on board, reservoir, battery, the latest CGM
reading.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from emulator.devices.pump_person import PumpPerson
from emulator.generators.pump_history import PumpHistoryProfile
from emulator.model.pump import (
    BasalInterval,
    BolusKind,
    BolusProgrammed1,
    BolusProgrammed2,
    BolusRecord,
    PumpModel,
)
from emulator.protocols import tandem_constants as c
from emulator.protocols import tandem_history as h
from emulator.protocols import tandem_status as s


def tslim_x2_use(profile: PumpHistoryProfile | None = None) -> PumpHistoryProfile:
    """How a t:slim X2 is used: ``profile`` (default: the generator's) with temporary basals
    only as a percentage, since the pump has no absolute temporary rate."""
    return replace(profile or PumpHistoryProfile(), percent_temps_only=True)


@dataclass(frozen=True)
class Reading:
    """A CGM or meter reading: true time, the pump's clock then, mg/dL."""

    at: datetime
    display: datetime
    mg_dl: int


@dataclass(frozen=True)
class Segment:
    """One segment of an insulin delivery profile (what IDPSegmentResponse carries)."""

    start_minute: int
    basal: float
    carb_ratio: float
    target: int
    isf: int


@dataclass(frozen=True)
class Profile:
    idp_id: int
    name: str
    segments: tuple[Segment, ...]


@dataclass(frozen=True)
class LogEntry:
    sequence: int
    at: datetime
    raw: bytes


class TslimX2Pump:
    """The pump: ``model`` (history and ledger), ``sensor`` and ``bg_readings`` ledgers,
    ``entries`` (its history log)."""

    def __init__(
        self,
        model: PumpModel,
        *,
        seed: int,
        timezone: str,
        battery_percent: int = c.DEFAULT_BATTERY_PERCENT,
        api_version: tuple[int, int] = (c.API_VERSION_MAJOR, c.API_VERSION_MINOR),
    ) -> None:
        self.model = model
        self.battery_percent = battery_percent
        self.api_version = api_version
        self._battery_v2_asked = False
        self._person = person = PumpPerson(model, seed=seed, timezone=timezone)
        self.zone = person.zone
        self.sensor = [Reading(*value) for value in person.sensor(c.CGM_INTERVAL_MINUTES)]
        before = timedelta(minutes=c.BG_BEFORE_MEAL_BOLUS_MINUTES)
        self.bg_readings = [
            Reading(at, person.display(at), person.glucose(at))
            for at in person.meal_bg_times(before)
        ]
        self.entries = self._build()

    # ---- identity ----------------------------------------------------------------------------

    @property
    def serial_number(self) -> str:
        digits = "".join(ch for ch in self.model.serial_number if ch.isdigit())
        return digits or "0"

    @property
    def firmware_revision(self) -> str:
        return self.model.firmware_version

    # ---- time --------------------------------------------------------------------------------

    def display(self, at: datetime) -> datetime:
        """The pump clock's reading at true time ``at`` (from its reference times)."""
        return self._person.display(at)

    # ---- the history log ---------------------------------------------------------------------

    def _build(self) -> list[LogEntry]:
        items: list[tuple[datetime, int, int, datetime, bytes]] = []

        def add(at: datetime, type_id: int, shown: datetime, payload: bytes) -> None:
            items.append((at, len(items), type_id, shown, payload))

        ledger = self.model.ledger
        # A clock change first: what the pump logs at that instant comes by the new clock.
        for change in ledger.clock_changes:
            self._clock(add, change.at, change.before, change.after)
        for b in ledger.boluses:
            self._bolus(add, b)
        previous: BasalInterval | None = None
        temp_id = 0
        for interval in ledger.basal:
            temp_id = self._basal(add, previous, interval, temp_id)
            previous = interval
        running = self.model.open_interval()
        if running is not None:  # its start was logged when it began, like every change
            self._basal(add, previous, running, temp_id)
        for status in ledger.status:
            if status.suspended:
                reason = c.SUSPEND_ALARM if status.automatic else c.SUSPEND_USER
                add(
                    status.at,
                    c.LOG_PUMPING_SUSPENDED,
                    status.display,
                    h.pumping_suspended(0, reason),
                )
            else:
                add(status.at, c.LOG_PUMPING_RESUMED, status.display, h.pumping_resumed(0))
        for swap in ledger.reservoir_changes:
            add(swap.at, c.LOG_CARTRIDGE_FILLED, swap.display, h.cartridge_filled(swap.fill))
        for prime in ledger.primes:
            if prime.target == "tubing":
                add(prime.at, c.LOG_TUBING_FILLED, prime.display, h.tubing_filled(prime.volume))
            else:
                payload = h.cannula_filled(prime.volume, c.PRIME_COMPLETED)
                add(prime.at, c.LOG_CANNULA_FILLED, prime.display, payload)
        for alarm in ledger.alarms:
            kind = str(alarm.kind)
            if kind in c.ALERT_IDS:
                payload = h.alert_activated(c.ALERT_IDS[kind])
                add(alarm.at, c.LOG_ALERT_ACTIVATED, alarm.display, payload)
            else:
                payload = h.alarm_activated(c.ALARM_IDS[kind])
                add(alarm.at, c.LOG_ALARM_ACTIVATED, alarm.display, payload)
        for bg in self.bg_readings:
            add(bg.at, c.LOG_BG, bg.display, h.bg_reading(bg.mg_dl, 0.0, 0, 0))
        for value in self.sensor:
            seconds = h.pump_seconds(value.display)
            payload = h.cgm_data_gx(value.mg_dl, seconds, seconds)
            add(value.at, c.LOG_CGM_DATA_GX, value.display, payload)
        items.sort(key=lambda item: (item[0], item[1]))
        return [
            LogEntry(n, at, h.entry(type_id, h.pump_seconds(shown), n, payload))
            for n, (at, _, type_id, shown, payload) in enumerate(items, start=1)
        ]

    def _bolus(self, add: Callable[[datetime, int, datetime, bytes], None], b: BolusRecord) -> None:
        total = b.programmed_fast + b.programmed_extended
        percent = (
            100
            if b.kind is BolusKind.FAST or total == 0
            else round(100 * b.programmed_fast / total)
        )
        minutes = b.programmed_minutes if b.programmed_extended else 0
        add(
            b.start,
            c.LOG_BOLUS_REQUESTED_MSG2,
            b.start_display,
            h.bolus_requested_msg2(b.bolus_id, percent, minutes, 0, 0),
        )
        status = c.BOLUS_STOPPED if b.cancelled else c.BOLUS_COMPLETED
        end_shown = self.display(b.end)
        if b.programmed_fast > 0:
            add(
                b.start,
                c.LOG_BOLUS_ACTIVATED,
                b.start_display,
                h.bolus_activated(b.bolus_id, 0.0, b.programmed_fast),
            )
        if b.programmed_extended > 0:
            begun = b.end - timedelta(minutes=b.delivered_minutes)
            add(
                begun,
                c.LOG_BOLEX_ACTIVATED,
                self.display(begun),
                h.bolus_activated(b.bolus_id, 0.0, b.programmed_extended),
            )
        if b.programmed_fast > 0:
            payload = h.bolus_completed(
                b.bolus_id, status, 0.0, b.delivered_fast, b.programmed_fast
            )
            add(b.end, c.LOG_BOLUS_COMPLETED, end_shown, payload)
        if b.programmed_extended > 0:
            payload = h.bolus_completed(
                b.bolus_id, status, 0.0, b.delivered_extended, b.programmed_extended
            )
            add(b.end, c.LOG_BOLEX_COMPLETED, end_shown, payload)

    def _basal(
        self,
        add: Callable[[datetime, int, datetime, bytes], None],
        previous: BasalInterval | None,
        interval: BasalInterval,
        temp_id: int,
    ) -> int:
        if previous is not None and previous.delivery == "temp" and previous.end is not None:
            planned = previous.temp_planned_end or previous.end
            left = max(0, round((planned - previous.end).total_seconds()))
            payload = h.temp_rate_completed(temp_id, left)
            add(previous.end, c.LOG_TEMP_RATE_COMPLETED, self.display(previous.end), payload)
        if interval.delivery == "suspend":
            change = c.CHANGE_PUMP_SUSPENDED
        elif interval.delivery == "temp":
            change = c.CHANGE_TEMP_RATE_START
        elif previous is not None and previous.delivery == "suspend":
            change = c.CHANGE_PUMP_RESUMED
        elif previous is not None and previous.delivery == "temp":
            change = c.CHANGE_TEMP_RATE_END
        elif previous is not None and previous.template != interval.template:
            change = c.CHANGE_NEW_PROFILE
        else:
            change = c.CHANGE_TIMED_SEGMENT
        rate = (
            interval.rate if interval.rate is not None and interval.delivery != "suspend" else 0.0
        )
        if interval.delivery == "temp":
            temp_id += 1
            if interval.percent is not None:
                percent = interval.percent * 100
            elif interval.scheduled_rate:
                percent = rate / interval.scheduled_rate * 100
            else:
                percent = 0.0
            planned = interval.temp_planned_end or interval.end or interval.start
            duration_ms = (planned - interval.start).total_seconds() * 1000
            add(
                interval.start,
                c.LOG_TEMP_RATE_ACTIVATED,
                interval.start_display,
                h.temp_rate_activated(percent, duration_ms, temp_id),
            )
        payload = h.basal_rate_change(rate, interval.scheduled_rate, interval.template, change)
        add(interval.start, c.LOG_BASAL_RATE_CHANGE, interval.start_display, payload)
        return temp_id

    def _clock(
        self,
        add: Callable[[datetime, int, datetime, bytes], None],
        at: datetime,
        before: datetime,
        after: datetime,
    ) -> None:
        def of_day(t: datetime) -> int:
            return t.hour * 3600 + t.minute * 60 + t.second

        rtc = h.pump_seconds(before)
        add(at, c.LOG_TIME_CHANGED, before, h.time_changed(of_day(before), of_day(after), rtc))
        if before.date() != after.date():
            days = (before.date() - c.EPOCH.date()).days, (after.date() - c.EPOCH.date()).days
            add(at, c.LOG_DATE_CHANGED, before, h.date_changed(days[0], days[1], rtc))

    def history_range(self, start: int, count: int) -> list[bytes] | None:
        """Entries ``start`` .. ``start + count - 1``; None when ``start`` is not held."""
        if not self.entries or not 1 <= start <= len(self.entries) or count < 1:
            return None
        return [e.raw for e in self.entries[start - 1 : start - 1 + count]]

    # ---- insulin delivery profiles --------------------------------------------------------

    def profiles(self) -> list[Profile]:
        """One profile per basal template, the active one first; a segment starts wherever
        the basal, the carb ratio, the ISF or the target changes (the model has one of each of
        the last three; a profile's single target is the middle of the model's range)."""
        settings = self.model.settings
        icr, isf, target = (
            settings.icr_templates[0],
            settings.isf_templates[0],
            settings.target_templates[0],
        )
        out = []
        for basal in settings.basal_templates:
            starts = sorted(
                set(basal.starts()) | set(icr.starts()) | set(isf.starts()) | set(target.starts())
            )
            segments = []
            for start in starts:
                low, high = target.block_at(start)[1].values
                segments.append(
                    Segment(
                        start,
                        basal.block_at(start)[1].values[0],
                        icr.block_at(start)[1].values[0],
                        round((low + high) / 2),
                        round(isf.block_at(start)[1].values[0]),
                    )
                )
            name = basal.name or f"Profile {basal.number}"
            out.append(Profile(basal.number, name, tuple(segments)))
        out.sort(key=lambda p: p.idp_id != self.model.active_template)
        return out

    def _profile_answer(self, opcode: int, cargo: bytes) -> bytes | None:
        profiles = {p.idp_id: p for p in self.profiles()}
        if opcode == c.PROFILE_STATUS and not cargo:
            ordered = self.profiles()
            shown = self.model.clock_now()
            minute = shown.hour * 60 + shown.minute
            active = ordered[0].segments
            index = max(i for i, seg in enumerate(active) if seg.start_minute <= minute)
            return s.profile_status([p.idp_id for p in ordered], index)
        if opcode == c.IDP_SETTINGS and len(cargo) == 1 and cargo[0] in profiles:
            p = profiles[cargo[0]]
            max_bolus = self.model.settings.max_bolus_iu
            return s.idp_settings(
                p.idp_id, p.name, len(p.segments), c.INSULIN_DURATION_MINUTES, max_bolus, True
            )
        if opcode == c.IDP_SEGMENT and len(cargo) == 2 and cargo[0] in profiles:
            p = profiles[cargo[0]]
            if cargo[1] >= len(p.segments):
                return None
            seg = p.segments[cargo[1]]
            return s.idp_segment(
                p.idp_id, cargo[1], seg.start_minute, seg.basal, seg.carb_ratio, seg.target, seg.isf
            )
        return None

    # ---- status ------------------------------------------------------------------------------

    def answer(self, opcode: int, cargo: bytes, since_reset: int) -> tuple[int, bytes] | None:
        """The response (opcode, cargo) to status request ``opcode`` with ``cargo``, from the
        model at its present (None: not a status request this pump answers, or a malformed
        one). Mostly opcode + 1; battery requests follow pumpX2's CurrentBatteryBuilder note
        on a pump below API 2.2: a V2 request gets a V1 response, and a V1 request after
        that an ErrorResponse (BAD_OPCODE)."""
        if opcode in (c.CURRENT_BATTERY_V1, c.CURRENT_BATTERY_V2) and not cargo:
            return self._battery(opcode)
        answer = self.status(opcode, cargo, since_reset)
        return None if answer is None else (opcode + 1, answer)

    def _battery(self, opcode: int) -> tuple[int, bytes]:
        percent = self.battery_percent
        v1 = (c.CURRENT_BATTERY_V1 + 1, s.battery(percent))
        if self.api_version >= c.BATTERY_V2_API:
            return v1 if opcode == c.CURRENT_BATTERY_V1 else (opcode + 1, s.battery_v2(percent))
        if opcode == c.CURRENT_BATTERY_V2:
            self._battery_v2_asked = True
            return v1
        if self._battery_v2_asked:
            return c.ERROR_RESPONSE, s.error(opcode, c.ERROR_BAD_OPCODE)
        return v1

    def iob(self) -> tuple[float, int]:
        """Insulin on board at the model's present and the seconds until it is gone: each
        delivered bolus part decays linearly over the insulin duration (diahil's choice; the
        fast part from the bolus start, the extended part from its end; a bolus still running
        counts its programmed fast part)."""
        now = self.model.now
        duration = timedelta(minutes=c.INSULIN_DURATION_MINUTES)
        parts = [
            part
            for b in self.model.ledger.boluses
            for part in ((b.delivered_fast, b.start), (b.delivered_extended, b.end))
        ]
        running = self._running_bolus()
        if running is not None:
            parts.append((running[0].fast, running[2]))
        total, left = 0.0, 0.0
        for amount, given in parts:
            remaining = (given + duration - now).total_seconds()
            if amount <= 0 or remaining <= 0 or given > now:
                continue
            total += amount * min(1.0, remaining / duration.total_seconds())
            left = max(left, remaining)
        return total, round(left)

    def _running_bolus(self) -> tuple[BolusProgrammed1, bool, datetime] | None:
        """The bolus being delivered now: what was programmed, meal or not, when."""
        if not self.model.bolus_running:
            return None
        events = self.model.events()
        for index in range(len(events) - 1, -1, -1):
            payload = events[index].payload
            if isinstance(payload, BolusProgrammed1):
                after = events[index + 1].payload if index + 1 < len(events) else None
                meal = isinstance(after, BolusProgrammed2) and after.meal
                return payload, meal, events[index].utc
        return None

    def _bolus_status(self) -> bytes:
        running = self._running_bolus()
        if running is None:
            return s.bolus_status(c.BOLUS_STATUS_NONE, 0, 0, 0.0, 0, 0)
        programmed, meal, at = running
        types = c.BOLUS_TYPE_FOOD1 if meal else c.BOLUS_TYPE_CORRECTION
        if programmed.extended > 0:
            types |= c.BOLUS_TYPE_EXTENDED
        return s.bolus_status(
            c.BOLUS_STATUS_DELIVERING,
            programmed.bolus_id,
            h.pump_seconds(self.display(at)),
            programmed.fast + programmed.extended,
            c.BOLUS_SOURCE_GUI,
            types,
        )

    def _cgm_current(self) -> Reading | None:
        """The latest CGM reading, if it is recent at the model's present."""
        if not self.sensor:
            return None
        last = self.sensor[-1]
        if self.model.now - last.at > timedelta(minutes=c.CGM_STALE_MINUTES):
            return None
        return last

    def _trend(self) -> int | None:
        """mg/dL per minute between the last two readings, when they are one interval apart."""
        if len(self.sensor) < 2 or self._cgm_current() is None:
            return None
        before, last = self.sensor[-2], self.sensor[-1]
        minutes = (last.at - before.at).total_seconds() / 60
        if minutes != c.CGM_INTERVAL_MINUTES:
            return None
        return round((last.mg_dl - before.mg_dl) / minutes)

    def _session_start(self) -> Reading:
        gap = timedelta(minutes=c.CGM_SESSION_GAP_MINUTES)
        index = len(self.sensor) - 1
        while index > 0 and self.sensor[index].at - self.sensor[index - 1].at <= gap:
            index -= 1
        return self.sensor[index]

    def _cgm_status(self) -> bytes:
        if self._cgm_current() is None:
            return s.cgm_status(c.CGM_SESSION_STOPPED, 0, 0, c.CGM_TRANSMITTER_BATTERY_OK)
        started = h.pump_seconds(self._session_start().display)
        return s.cgm_status(c.CGM_SESSION_ACTIVE, 0, started, c.CGM_TRANSMITTER_BATTERY_OK)

    def _egv(self) -> bytes:
        last = self._cgm_current()
        if last is None:
            shown = self.sensor[-1] if self.sensor else None
            when = h.pump_seconds(shown.display) if shown else 0
            return s.egv(when, 0, c.EGV_UNAVAILABLE, 0)
        return s.egv(h.pump_seconds(last.display), last.mg_dl, c.EGV_VALID, self._trend() or 0)

    def _basal_icon(self) -> int:
        interval = self.model.open_interval()
        rate = self.model.current_rate()
        if interval is not None and interval.delivery == "suspend":
            return c.SUSPEND_ICON
        if interval is not None and interval.delivery == "temp":
            return c.TEMP_RATE_ICON if rate > 0 else c.ZERO_TEMP_RATE_ICON
        return c.BASAL_ICON if rate > 0 else c.ZERO_BASAL_ICON

    def _home_screen(self) -> bytes:
        bolus_icon = c.BOLUS_ICON if self.model.bolus_running else c.ICON_HIDDEN
        current = self._cgm_current()
        return s.home_screen_mirror(
            s.trend_icon(self._trend()), bolus_icon, self._basal_icon(), current is not None
        )

    def status(self, opcode: int, cargo: bytes, since_reset: int) -> bytes | None:
        """The cargo answering status request ``opcode`` with ``cargo`` (None: not a status
        request this pump answers, or a malformed one); the response opcode is ``opcode + 1``
        (``answer`` also covers the battery requests' exceptions)."""
        if opcode in (c.PROFILE_STATUS, c.IDP_SETTINGS, c.IDP_SEGMENT):
            return self._profile_answer(opcode, cargo)
        if cargo:
            return None
        model = self.model
        now_shown = model.clock_now()
        if opcode == c.API_VERSION:
            return s.api_version(*self.api_version)
        if opcode == c.PUMP_VERSION:
            return s.pump_version(int(self.serial_number[-9:]))
        if opcode == c.CURRENT_BASAL_STATUS:
            rate = model.current_rate()
            interval = model.open_interval()
            scheduled = interval.scheduled_rate if interval is not None else rate
            return s.basal_status(scheduled, rate, abs(rate - scheduled) > 1e-9)
        if opcode == c.CURRENT_BOLUS_STATUS:
            return self._bolus_status()
        if opcode == c.CONTROL_IQ_IOB:
            return s.iob(*self.iob())
        if opcode == c.NON_CONTROL_IQ_IOB:
            return s.non_control_iq_iob(*self.iob())
        if opcode == c.INSULIN_STATUS:
            return s.insulin_status(model.reservoir_remaining, c.LOW_INSULIN_UNITS)
        if opcode == c.CURRENT_BATTERY_V1:
            return s.battery(self.battery_percent)
        if opcode == c.CURRENT_EGV_GUI_DATA:
            return self._egv()
        if opcode == c.CGM_STATUS:
            return self._cgm_status()
        if opcode == c.HOME_SCREEN_MIRROR:
            return self._home_screen()
        if opcode == c.TIME_SINCE_RESET:
            return s.time_since_reset(h.pump_seconds(now_shown), since_reset)
        if opcode == c.HISTORY_LOG_STATUS:
            n = len(self.entries)
            return h.history_status(n, 1 if n else 0, n)
        return None
