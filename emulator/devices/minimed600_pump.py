"""An emulated MiniMed 600-series pump: the person's pump and sensor history, its radio
identity (serial, MAC, channel, link key) and its answers to ComD commands.

Specification: packetStructure.md (pump commands), the public NGP history layouts, and the
emulator's choices in ``emulator.protocols.minimed600_constants``. The pump's behaviour comes
from ``emulator.model.pump.PumpModel`` (the same model the IDS pump uses); its ledger is the
truth. The sensor readings and the linked-meter BG readings come from the same person
(``emulator.generators.cgm_history.CgmHistory`` with the pump's seed) and are kept as their own
ledgers (``sensor``, ``bg_readings``) for the oracle.

How the ledger becomes NGP history (the emulator's choice, docs/protocols/minimed600.md):

- every basal interval start is one event: BASAL_SEGMENT_START for scheduled delivery and
  for each later piece of a temp or suspend (a schedule block boundary or a clock change),
  TEMP_BASAL_PROGRAMMED at a temp's start, INSULIN_DELIVERY_STOPPED at a suspend's start;
  TEMP_BASAL_COMPLETE and INSULIN_DELIVERY_RESTARTED at their ends;
- boluses: the *_PROGRAMMED event at the start, *_DELIVERED at the end (a dual bolus: the
  normal part when it ends, the square part at the end); bolus number = ledger bolus id;
  source Bolus Wizard for meal boluses, manual otherwise; a meal bolus is preceded (same
  instant) by its BOLUS_WIZARD_ESTIMATE (``emulator.devices.minimed600_wizard``), whose final
  estimate is the bolus's programmed total (how a host links the two);
- reservoir change: REWIND; prime: CANNULA_FILL_DELIVERED (tubing / cannula); alarm:
  ALARM_NOTIFICATION; clock change: USER_TIME_DATE_CHANGE (header: old clock, body: new
  clock); template activation: BASAL_PATTERN_SELECTED;
- a linked-meter BG reading 3 minutes before every meal bolus (BG_READING, pump history);
- sensor glucose every 5 minutes while the person's sensor stores one (sensor history).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from emulator.devices.minimed600_wizard import wizard_for_bolus
from emulator.devices.pump_person import PumpPerson
from emulator.model.pump import Annunciation, BasalInterval, BolusKind, PumpModel
from emulator.protocols import minimed600_constants as c
from emulator.protocols import minimed600_pump as p
from emulator.protocols.minimed600 import ComdMessage, encode_comd
from emulator.protocols.minimed600_wizard import bolus_wizard_estimate_body


@dataclass(frozen=True)
class SensorValue:
    at: datetime
    display: datetime
    mg_dl: int


@dataclass(frozen=True)
class BgValue:
    at: datetime
    display: datetime
    mg_dl: int
    meter_serial: str


@dataclass
class PumpRadio:
    """What pairs the pump with a link."""

    serial: str = c.DEFAULT_PUMP_SERIAL
    serial_number: int = c.DEFAULT_PUMP_SERIAL_NUMBER
    mac: int = c.DEFAULT_PUMP_MAC
    channel: int = c.DEFAULT_CHANNEL
    link_key: bytes = c.DEFAULT_LINK_KEY


@dataclass
class _Transfer:
    sequence: int
    sessions: list[bytes]
    index: int = 0
    segments: list[bytes] = field(default_factory=list)


ALARM_FAULTS = {
    Annunciation.RESERVOIR_LOW: "reservoir_low",
    Annunciation.RESERVOIR_EMPTY: "reservoir_empty",
    Annunciation.OCCLUSION: "occlusion",
    Annunciation.BATTERY_LOW: "battery_low",
    Annunciation.BATTERY_EMPTY: "battery_empty",
}

BG_BEFORE_BOLUS = timedelta(minutes=c.BG_BEFORE_MEAL_BOLUS_MINUTES)


class Minimed600Pump:
    """The pump: ``model`` (history and ledger), ``sensor`` and ``bg_readings`` ledgers."""

    def __init__(
        self,
        model: PumpModel,
        *,
        seed: int,
        timezone: str,
        radio: PumpRadio | None = None,
        battery_percent: int = 75,
        meter_serial: str = c.DEFAULT_METER_SERIAL,
        compress_history: bool = c.COMPRESS_HISTORY,
    ) -> None:
        self.model = model
        self.compress_history = compress_history
        self.radio = radio or PumpRadio()
        self.battery_percent = battery_percent
        self.meter_serial = meter_serial
        self.high_speed = False
        self._person = person = PumpPerson(model, seed=seed, timezone=timezone)
        self.zone = person.zone
        self.sensor = [SensorValue(*value) for value in person.sensor(c.SG_INTERVAL_MINUTES)]
        self.bg_readings = [
            BgValue(at, person.display(at), person.glucose(at), meter_serial)
            for at in person.meal_bg_times(BG_BEFORE_BOLUS)
        ]
        self._pump_events, self._sensor_events = self._build_history()
        self._transfer: _Transfer | None = None

    # ---- time ------------------------------------------------------------------------------

    def display(self, at: datetime) -> datetime:
        """The pump clock's reading at true time ``at`` (from its reference times)."""
        return self._person.display(at)

    def timestamp(self, at: datetime) -> bytes:
        return p.ngp_timestamp(self.display(at), at)

    # ---- history ---------------------------------------------------------------------------

    def _build_history(self) -> tuple[list[tuple[datetime, bytes]], list[tuple[datetime, bytes]]]:
        events: list[tuple[datetime, int, bytes]] = []
        order = 0

        def add(
            at: datetime, event_type: int, body: bytes, display: datetime | None = None
        ) -> None:
            nonlocal order
            shown = display if display is not None else self.display(at)
            events.append((at, order, p.event(event_type, shown, at, body)))
            order += 1

        ledger = self.model.ledger
        intervals = list(ledger.basal)
        running = self.model.open_interval()
        if running is not None:
            intervals.append(running)
        previous: BasalInterval | None = None
        for interval in intervals:
            self._basal_events(add, previous, interval)
            previous = interval
        if previous is not None and previous.end is not None:
            self._close_basal(add, previous)
        bg_before = {bg.at + BG_BEFORE_BOLUS: bg.mg_dl for bg in self.bg_readings}
        for bolus in ledger.boluses:
            source = c.BOLUS_SOURCE_WIZARD if bolus.meal else c.BOLUS_SOURCE_MANUAL
            n = bolus.bolus_id
            if bolus.meal:
                wizard = wizard_for_bolus(self.model.settings, bolus, bg_before.get(bolus.start))
                add(
                    bolus.start,
                    c.EV_BOLUS_WIZARD_ESTIMATE,
                    bolus_wizard_estimate_body(wizard),
                    bolus.start_display,
                )
            if bolus.kind is BolusKind.FAST:
                add(
                    bolus.start,
                    c.EV_NORMAL_BOLUS_PROGRAMMED,
                    p.normal_bolus_programmed(source, n, bolus.programmed_fast, 0.0),
                    bolus.start_display,
                )
                add(
                    bolus.end,
                    c.EV_NORMAL_BOLUS_DELIVERED,
                    p.normal_bolus_delivered(
                        source, n, bolus.programmed_fast, bolus.delivered_fast, 0.0
                    ),
                )
            elif bolus.kind is BolusKind.EXTENDED:
                add(
                    bolus.start,
                    c.EV_SQUARE_BOLUS_PROGRAMMED,
                    p.square_bolus_programmed(
                        source, n, bolus.programmed_extended, bolus.programmed_minutes
                    ),
                    bolus.start_display,
                )
                add(
                    bolus.end,
                    c.EV_SQUARE_BOLUS_DELIVERED,
                    p.square_bolus_delivered(
                        source,
                        n,
                        bolus.programmed_extended,
                        bolus.delivered_extended,
                        bolus.programmed_minutes,
                        bolus.delivered_minutes,
                    ),
                )
            else:
                add(
                    bolus.start,
                    c.EV_DUAL_BOLUS_PROGRAMMED,
                    p.dual_bolus_programmed(
                        source,
                        n,
                        bolus.programmed_fast,
                        bolus.programmed_extended,
                        bolus.programmed_minutes,
                    ),
                    bolus.start_display,
                )
                normal_end = (
                    bolus.end
                    if bolus.delivered_extended == 0 and bolus.delivered_minutes == 0
                    else (bolus.end - timedelta(minutes=bolus.delivered_minutes))
                )
                add(
                    normal_end,
                    c.EV_DUAL_BOLUS_PART_DELIVERED,
                    p.dual_bolus_part_delivered(
                        source,
                        n,
                        bolus.programmed_fast,
                        bolus.programmed_extended,
                        bolus.delivered_fast,
                        c.DUAL_PART_NORMAL,
                        bolus.programmed_minutes,
                        0,
                        0.0,
                    ),
                )
                if bolus.delivered_minutes > 0 or bolus.delivered_extended > 0:
                    add(
                        bolus.end,
                        c.EV_DUAL_BOLUS_PART_DELIVERED,
                        p.dual_bolus_part_delivered(
                            source,
                            n,
                            bolus.programmed_fast,
                            bolus.programmed_extended,
                            bolus.delivered_extended,
                            c.DUAL_PART_SQUARE,
                            bolus.programmed_minutes,
                            bolus.delivered_minutes,
                            0.0,
                        ),
                    )
        fill = 0.0
        for kind, at, display, raw in self._device_events():
            body = raw
            if kind == c.EV_REWIND:
                fill = struct.unpack(">I", raw[:4])[0] / p.U if raw else fill
                body = b""
            elif kind == c.EV_CANNULA_FILL_DELIVERED:
                amount = struct.unpack(">I", raw[1:5])[0] / p.U
                fill = max(0.0, fill - amount)
                body = p.cannula_fill(raw[0], amount, fill)
            add(at, kind, body, display)
        for bg in self.bg_readings:
            add(
                bg.at,
                c.EV_BG_READING,
                p.bg_reading_body(bg.mg_dl, c.BG_SOURCE_EXTERNAL_METER, bg.meter_serial),
                bg.display,
            )
        # A clock change goes first among events of the same instant: what follows it (the
        # segment that starts at the new time) was logged on the new clock.
        events.sort(
            key=lambda e: (
                e[0],
                c.CLOCK_CHANGE_FIRST and e[2][0] != c.EV_USER_TIME_DATE_CHANGE,
                e[1],
            )
        )
        pump_events = [(at, raw) for at, _, raw in events]
        return pump_events, self._sensor_history()

    def _device_events(self) -> list[tuple[int, datetime, datetime, bytes]]:
        ledger = self.model.ledger
        out: list[tuple[int, datetime, datetime, bytes]] = []
        for swap in ledger.reservoir_changes:
            out.append((c.EV_REWIND, swap.at, swap.display, p.units(swap.fill)))
        for prime in ledger.primes:
            fill_type = c.FILL_TUBING if prime.target == "tubing" else c.FILL_CANNULA
            out.append(
                (
                    c.EV_CANNULA_FILL_DELIVERED,
                    prime.at,
                    prime.display,
                    bytes([fill_type]) + p.units(prime.volume),
                )
            )
        for alarm in ledger.alarms:
            name = ALARM_FAULTS.get(alarm.kind)
            number = c.ALARM_FAULT_NUMBERS[name] if name else c.ALARM_FAULT_OTHER
            out.append((c.EV_ALARM_NOTIFICATION, alarm.at, alarm.display, p.alarm(number)))
        for change in ledger.clock_changes:
            out.append(
                (
                    c.EV_USER_TIME_DATE_CHANGE,
                    change.at,
                    change.before,
                    p.ngp_timestamp(change.after, change.at),
                )
            )
        for profile in ledger.profile_changes:
            out.append(
                (
                    c.EV_BASAL_PATTERN_SELECTED,
                    profile.at,
                    profile.display,
                    bytes([profile.old, profile.new]),
                )
            )
        out.sort(key=lambda e: e[1])
        return out

    def _segment(self, interval: BasalInterval) -> int:
        template = self.model.settings.basal(interval.template)
        shown = interval.start_display
        start, _ = template.block_at(shown.hour * 60 + shown.minute + shown.second / 60)
        return template.starts().index(start)

    def _basal_events(
        self,
        add: Callable[[datetime, int, bytes, datetime | None], None],
        previous: BasalInterval | None,
        interval: BasalInterval,
    ) -> None:
        if previous is not None and previous.end is not None:
            continues = (
                previous.delivery == interval.delivery
                and (
                    interval.delivery != "temp"
                    or previous.temp_planned_end == interval.temp_planned_end
                )
                and previous.end == interval.start
            )
            if not continues:
                self._close_basal(add, previous)
        else:
            continues = False
        segment = p.basal_segment_start(
            interval.template, self._segment(interval), interval.scheduled_rate
        )
        if interval.delivery == "scheduled" or continues:
            add(interval.start, c.EV_BASAL_SEGMENT_START, segment, interval.start_display)
        elif interval.delivery == "temp":
            add(
                interval.start,
                c.EV_TEMP_BASAL_PROGRAMMED,
                self._temp_body(interval),
                interval.start_display,
            )
        else:
            add(
                interval.start,
                c.EV_INSULIN_DELIVERY_STOPPED,
                bytes([c.SUSPEND_USER]),
                interval.start_display,
            )

    def _temp_body(self, interval: BasalInterval, cancelled: bool | None = None) -> bytes:
        planned = interval.temp_planned_end or interval.start
        minutes = round((planned - self._temp_start(interval)).total_seconds() / 60)
        if interval.percent is not None:
            kind, rate, percent = c.TEMP_PERCENT, 0.0, round(interval.percent * 100)
        else:
            kind, rate, percent = c.TEMP_ABSOLUTE, interval.rate or 0.0, 0
        if cancelled is None:
            return p.temp_basal(kind, rate, percent, minutes)
        return p.temp_basal_complete(kind, rate, percent, minutes, cancelled)

    def _temp_start(self, interval: BasalInterval) -> datetime:
        """Where the temp that ``interval`` belongs to began (its pieces are contiguous)."""
        start = interval.start
        for other in reversed(self.model.ledger.basal):
            if other.end is None or other.end > start:
                continue
            if (
                other.delivery == "temp"
                and other.temp_planned_end == interval.temp_planned_end
                and other.end == start
            ):
                start = other.start
            elif other.end <= start:
                break
        return start

    def _close_basal(
        self, add: Callable[[datetime, int, bytes, datetime | None], None], interval: BasalInterval
    ) -> None:
        assert interval.end is not None
        if interval.delivery == "temp":
            planned = interval.temp_planned_end
            cancelled = planned is not None and interval.end < planned
            add(interval.end, c.EV_TEMP_BASAL_COMPLETE, self._temp_body(interval, cancelled), None)
        elif interval.delivery == "suspend":
            add(interval.end, c.EV_INSULIN_DELIVERY_RESTARTED, bytes([c.RESUME_USER]), None)

    def _sensor_history(self) -> list[tuple[datetime, bytes]]:
        out: list[tuple[datetime, bytes]] = []
        group: list[SensorValue] = []
        step = timedelta(minutes=c.SG_INTERVAL_MINUTES)

        def flush() -> None:
            if not group:
                return
            newest = group[-1]
            readings = [p.SensorReading(v.mg_dl) for v in reversed(group)]
            body = p.sensor_readings_body(readings, newest.mg_dl)
            out.append(
                (
                    newest.at,
                    p.event(c.EV_SENSOR_GLUCOSE_READINGS_EXTENDED, newest.display, newest.at, body),
                )
            )
            group.clear()

        for value in self.sensor:
            if group and (value.at - group[-1].at != step or len(group) >= c.SG_READINGS_PER_EVENT):
                flush()
            group.append(value)
        flush()
        return out

    def history_events(
        self, data_type: int, from_rtc: int = 0, to_rtc: int = 0xFFFFFFFF
    ) -> list[bytes]:
        source = self._pump_events if data_type == c.HISTORY_PUMP_DATA else self._sensor_events
        upper = 0xFFFFFFFF if to_rtc == 0 else to_rtc
        return [raw for at, raw in source if from_rtc <= p.rtc_of(at) <= upper]

    # ---- ComD commands ---------------------------------------------------------------------

    def answer(self, request: ComdMessage) -> list[bytes]:
        """The plain ComD messages the pump sends for ``request`` (none for some)."""
        seq, cmd, params = request.sequence, request.command, request.parameters
        now = self.model.time_source()
        if cmd == c.HIGH_SPEED_MODE:
            self.high_speed = bool(params) and params[0] == c.HIGH_SPEED_ENABLE
            return []
        if cmd == c.TIME_REQUEST:
            return [
                encode_comd(seq, c.TIME_RESPONSE, p.time_response(self.model.display(now), now))
            ]
        if cmd == c.READ_PUMP_STATUS_REQUEST:
            return [p.status_response(self._status(now), seq)]
        if cmd == c.READ_BASAL_PATTERN_REQUEST:
            number = params[0] if params else 0
            if not 1 <= number <= c.BASAL_PATTERNS:
                return [self._nak(seq, cmd, c.NAK_DATA_OUT_OF_RANGE)]
            schedule: list[tuple[int, float]] = []
            if any(t.number == number for t in self.model.settings.basal_templates):
                template = self.model.settings.basal(number)
                starts = template.starts()
                schedule = [(s, b.values[0]) for s, b in zip(starts, template.blocks, strict=True)]
            return [
                encode_comd(
                    seq, c.READ_BASAL_PATTERN_RESPONSE, p.basal_pattern_response(number, schedule)
                )
            ]
        if cmd == c.READ_BWZ_CARB_RATIOS_REQUEST:
            t = self.model.settings.icr_templates[0]
            items = [(s, b.values[0]) for s, b in zip(t.starts(), t.blocks, strict=True)]
            return [
                encode_comd(seq, c.READ_BWZ_CARB_RATIOS_RESPONSE, p.carb_ratios_response(items))
            ]
        if cmd == c.READ_BWZ_SENSITIVITY_REQUEST:
            t = self.model.settings.isf_templates[0]
            items = [(s, b.values[0]) for s, b in zip(t.starts(), t.blocks, strict=True)]
            return [
                encode_comd(seq, c.READ_BWZ_SENSITIVITY_RESPONSE, p.sensitivity_response(items))
            ]
        if cmd == c.READ_BWZ_TARGETS_REQUEST:
            t = self.model.settings.target_templates[0]
            ranges = [
                (s, b.values[0], b.values[1]) for s, b in zip(t.starts(), t.blocks, strict=True)
            ]
            return [encode_comd(seq, c.READ_BWZ_TARGETS_RESPONSE, p.targets_response(ranges))]
        if cmd in (c.READ_HISTORY_INFO_REQUEST, c.READ_HISTORY_REQUEST):
            return self._history(seq, cmd, params)
        if cmd == c.ACK_COMMAND:
            return self._ack(params)
        if cmd == c.MULTIPACKET_RESEND_PACKETS and self._transfer is not None and len(params) >= 4:
            start, count = struct.unpack(">HH", params[:4])
            return self._transfer.segments[start : start + count]
        return [self._nak(seq, cmd, c.NAK_MESSAGE_NOT_SUPPORTED)]

    @staticmethod
    def _nak(seq: int, command: int, code: int) -> bytes:
        return encode_comd(seq, c.NAK_COMMAND, struct.pack(">HB", command, code))

    def _history_request(self, params: bytes) -> tuple[int, list[bytes]] | None:
        if len(params) < 10 or params[0] not in (c.HISTORY_PUMP_DATA, c.HISTORY_SENSOR_DATA):
            return None
        data_type, range_type = params[0], params[1]
        from_rtc, to_rtc = struct.unpack(">II", params[2:10])
        if range_type == c.HISTORY_FULL:
            from_rtc, to_rtc = 0, 0xFFFFFFFF
        return data_type, self.history_events(data_type, from_rtc, to_rtc)

    def _history(self, seq: int, cmd: int, params: bytes) -> list[bytes]:
        request = self._history_request(params)
        if request is None:
            return [self._nak(seq, cmd, c.NAK_DATA_OUT_OF_RANGE)]
        data_type, events = request
        blocks = p.history_blocks(events)
        if cmd == c.READ_HISTORY_INFO_REQUEST:
            first = events[0][3:11] if events else bytes(8)
            last = events[-1][3:11] if events else bytes(8)
            return [p.history_info(seq, len(blocks) * c.HISTORY_BLOCK_SIZE, first, last)]
        per = c.HISTORY_BLOCKS_PER_SESSION
        sessions = [
            p.history_session(data_type, blocks[i : i + per], compress=self.compress_history)
            for i in range(0, len(blocks), per)
        ]
        self._transfer = _Transfer(seq, sessions)
        return [self._initiate()]

    def _initiate(self) -> bytes:
        transfer = self._transfer
        assert transfer is not None
        initiate, transfer.segments = p.multipacket(
            transfer.sequence, transfer.sessions[transfer.index]
        )
        return initiate

    def _ack(self, params: bytes) -> list[bytes]:
        transfer = self._transfer
        if transfer is None or len(params) < 2:
            return []
        acked = struct.unpack(">H", params[:2])[0]
        if acked == c.INITIATE_MULTIPACKET_TRANSFER:
            return list(transfer.segments)
        if acked == c.MULTIPACKET_SEGMENT_TRANSMISSION:
            transfer.index += 1
            if transfer.index < len(transfer.sessions):
                return [self._initiate()]
            self._transfer = None
            return [
                encode_comd(transfer.sequence, c.END_HISTORY_TRANSMISSION),
                encode_comd(c.HIGH_SPEED_SEQUENCE, c.HIGH_SPEED_MODE),
            ]
        return []

    def _status(self, now: datetime) -> p.PumpStatus:
        model = self.model
        running = model.open_interval()
        suspended = running is not None and running.delivery == "suspend"
        temp = running is not None and running.delivery == "temp"
        rate = model.current_rate()
        hours, minutes = 25, 0
        if rate > 0 and model.reservoir_remaining / rate < 24:
            total = int(model.reservoir_remaining / rate * 60)
            hours, minutes = divmod(total, 60)
        latest = self.sensor[-1] if self.sensor else None
        return p.PumpStatus(
            suspended=suspended,
            bolusing=False,
            temp_active=temp,
            cgm_active=latest is not None,
            active_pattern=model.active_template,
            normal_rate=running.scheduled_rate if running else 0.0,
            temp_rate=(running.rate or 0.0)
            if temp and running and running.percent is None
            else 0.0,
            temp_percent=round(running.percent * 100)
            if temp and running and running.percent
            else 0,
            temp_minutes_left=(
                max(0, int((running.temp_planned_end - now).total_seconds() // 60))
                if temp and running and running.temp_planned_end
                else 0
            ),
            basal_today=model.today_totals()[1],
            battery_percent=self.battery_percent,
            reservoir=model.reservoir_remaining,
            hours_left=hours,
            minutes_left=minutes,
            active_insulin=0.0,
            sgv=latest.mg_dl if latest else 0,
            sgv_timestamp=self.timestamp(latest.at) if latest else bytes(8),
        )
