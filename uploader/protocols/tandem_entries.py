"""Payloads of the Tandem t:slim X2 history entries the uploader turns into data.

Source: pumpX2's public description of each history log type (offsets within the 26-byte
entry; little-endian; insulin and rates as IEEE-754 single floats in units and units/hour).

- 3 BasalRateChange: command rate f32 @10, base rate f32 @14, max rate f32 @18, insulin
  delivery profile u16 @22, change type u8 @24 (1 timed segment, 2 new profile, 4 temp rate
  start, 8 temp rate end, 16 suspended, 32 resumed, 64 shut down).
- 16 BG reading: BG mg/dL u16 @10, CGM calibration u8 @12, BG source u8 @13, IOB f32 @14,
  target BG u16 @18, ISF u16 @20, selected IOB u8 @22, BG source type u8 @23.
- 20 BolusCompleted: completion status u16 @10, bolus id u16 @12, IOB f32 @14, delivered f32
  @18, requested f32 @22.
- 211 CgmDataGx: status u16 @10, type u8 @12, rate i8 @13, RSSI i8 @15, value mg/dL u16 @16,
  timestamp u32 @18 (seconds since 2008), transmitter timestamp u32 @22.
- 21 BolexCompleted: as BolusCompleted, for the extended part.
- 55 BolusActivated / 59 BolexActivated: bolus id u16 @10, selected IOB u8 @12, IOB f32 @14,
  size f32 @18 (units).
- 2 TempRateActivated: percent f32 @10, duration f32 @14 (milliseconds: a public capture
  holds 7200000.0 for two hours), temp rate id u16 @20.
- 15 TempRateCompleted: temp rate id u16 @12, time left u32 @14.
- 11 PumpingSuspended: state before u32 @10, insulin amount u16 @14, reason u8 @16.
- 12 PumpingResumed: state before u32 @10, insulin amount u16 @14.
- 13 TimeChanged / 14 DateChange: before u32 @10, after u32 @14, raw RTC u32 @18.
- 33 CartridgeFilled: insulin shown u32 @10, insulin actual f32 @14 (units).
- 61 CannulaFilled / 63 TubingFilled: prime size f32 @10 (units).
- 5 AlarmActivated: alarm id u32 @10 (pumpX2's alarm names: 2 and 26 occlusion, 7 auto-off,
  8 empty cartridge, 12 battery shutdown, ...).
- 4 AlertActivated: alert id u32 @10 (pumpX2's alert names: 0 and 17 low insulin, 2 low
  power, 3 very low power, ...).
- 65 BolusRequestedMsg2: bolus id u16 @10, options u8 @12, standard percent u8 @13,
  duration u16 @14 (minutes: the public description does not name the unit; both sides of
  this project chose minutes), ISF u16 @18, target BG u16 @20.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from uploader.protocols.tandem import FrameError
from uploader.protocols.tandem_history import (
    ALARM_ACTIVATED,
    ALERT_ACTIVATED,
    BASAL_RATE_CHANGE,
    BG_READING_TAKEN,
    BOLEX_ACTIVATED,
    BOLEX_COMPLETED,
    BOLUS_ACTIVATED,
    BOLUS_COMPLETED,
    BOLUS_REQUESTED_2,
    CANNULA_FILLED,
    CARTRIDGE_FILLED,
    DATE_CHANGED,
    ENTRY_SIZE,
    PUMPING_RESUMED,
    PUMPING_SUSPENDED,
    TEMP_RATE_ACTIVATED,
    TEMP_RATE_COMPLETED,
    TIME_CHANGED,
    TUBING_FILLED,
)

CGM_DATA_GX = 211


@dataclass(frozen=True)
class BasalRateChange:
    command_rate: float
    base_rate: float
    max_rate: float
    profile: int
    change_type: int


@dataclass(frozen=True)
class BgReading:
    bg_mg_dl: int
    cgm_calibration: int
    source_id: int
    iob: float
    target_bg: int
    isf: int


@dataclass(frozen=True)
class BolusCompleted:
    extended: bool
    """True for the extended part (BolexCompleted)."""
    completion_status: int
    bolus_id: int
    iob: float
    delivered: float
    requested: float


@dataclass(frozen=True)
class BolusActivated:
    extended: bool
    """True for the extended part (BolexActivated)."""
    bolus_id: int
    selected_iob: int
    iob: float
    size: float


@dataclass(frozen=True)
class TempRateActivated:
    percent: float
    duration_ms: int
    temp_rate_id: int


@dataclass(frozen=True)
class TempRateCompleted:
    temp_rate_id: int
    time_left: int


@dataclass(frozen=True)
class Pumping:
    """PumpingSuspended (``suspended``) or PumpingResumed."""

    suspended: bool
    state_before: int
    insulin_amount: int
    reason: int


@dataclass(frozen=True)
class CartridgeFilled:
    insulin_shown: int
    insulin_actual: float


@dataclass(frozen=True)
class Primed:
    """CannulaFilled (``cannula``) or TubingFilled."""

    cannula: bool
    size: float


@dataclass(frozen=True)
class AlarmActivated:
    alarm_id: int


@dataclass(frozen=True)
class AlertActivated:
    alert_id: int


@dataclass(frozen=True)
class BolusRequested:
    """BolusRequestedMsg2: how the bolus was programmed."""

    bolus_id: int
    options: int
    standard_percent: int
    duration_minutes: int
    isf: int
    target_bg: int


@dataclass(frozen=True)
class TimeChanged:
    """TimeChanged (seconds of day) or DateChange (``date``: days since 2008-01-01)."""

    date: bool
    time_before: int
    time_after: int
    raw_rtc: int


@dataclass(frozen=True)
class CgmReading:
    status: int
    kind: int
    rate: int
    rssi: int
    value_mg_dl: int
    timestamp: int
    transmitter_timestamp: int


Payload = (
    BasalRateChange
    | BgReading
    | BolusCompleted
    | BolusActivated
    | TempRateActivated
    | TempRateCompleted
    | Pumping
    | TimeChanged
    | BolusRequested
    | CartridgeFilled
    | Primed
    | AlarmActivated
    | AlertActivated
    | CgmReading
)


def _f32(value: float) -> float:
    """A pump float as the nearest short decimal (0.9f reads 0.8999999762 otherwise)."""
    return float(f"{value:.6g}")


def decode(raw: bytes) -> Payload | None:
    """The payload of an entry of a known type; None for types this module does not read."""
    if len(raw) != ENTRY_SIZE:
        raise FrameError(f"history entry of {len(raw)} bytes, expected {ENTRY_SIZE}")
    type_id = struct.unpack_from("<H", raw)[0] & 0x0FFF
    if type_id == BASAL_RATE_CHANGE:
        command, base, most, profile, change = struct.unpack_from("<fffHB", raw, 10)
        return BasalRateChange(_f32(command), _f32(base), _f32(most), profile, change)
    if type_id == BG_READING_TAKEN:
        bg, calibration, source, iob, target, isf = struct.unpack_from("<HBBfHH", raw, 10)
        return BgReading(bg, calibration, source, _f32(iob), target, isf)
    if type_id in (BOLUS_COMPLETED, BOLEX_COMPLETED):
        status, bolus_id, iob, delivered, requested = struct.unpack_from("<HHfff", raw, 10)
        return BolusCompleted(
            type_id == BOLEX_COMPLETED,
            status,
            bolus_id,
            _f32(iob),
            _f32(delivered),
            _f32(requested),
        )
    if type_id in (BOLUS_ACTIVATED, BOLEX_ACTIVATED):
        bolus_id, selected, iob, size = struct.unpack_from("<HBxff", raw, 10)
        return BolusActivated(type_id == BOLEX_ACTIVATED, bolus_id, selected, _f32(iob), _f32(size))
    if type_id == TEMP_RATE_ACTIVATED:
        percent, duration = struct.unpack_from("<ff", raw, 10)
        (temp_rate_id,) = struct.unpack_from("<H", raw, 20)
        return TempRateActivated(_f32(percent), round(duration), temp_rate_id)
    if type_id == TEMP_RATE_COMPLETED:
        temp_rate_id, time_left = struct.unpack_from("<HI", raw, 12)
        return TempRateCompleted(temp_rate_id, time_left)
    if type_id in (PUMPING_SUSPENDED, PUMPING_RESUMED):
        state, amount, reason = struct.unpack_from("<IHB", raw, 10)
        suspended = type_id == PUMPING_SUSPENDED
        return Pumping(suspended, state, amount, reason if suspended else 0)
    if type_id in (TIME_CHANGED, DATE_CHANGED):
        return TimeChanged(type_id == DATE_CHANGED, *struct.unpack_from("<III", raw, 10))
    if type_id == CARTRIDGE_FILLED:
        shown, actual = struct.unpack_from("<If", raw, 10)
        return CartridgeFilled(shown, _f32(actual))
    if type_id in (CANNULA_FILLED, TUBING_FILLED):
        (size,) = struct.unpack_from("<f", raw, 10)
        return Primed(type_id == CANNULA_FILLED, _f32(size))
    if type_id == ALARM_ACTIVATED:
        return AlarmActivated(struct.unpack_from("<I", raw, 10)[0])
    if type_id == ALERT_ACTIVATED:
        return AlertActivated(struct.unpack_from("<I", raw, 10)[0])
    if type_id == BOLUS_REQUESTED_2:
        bolus_id, options, percent, duration, isf, target = struct.unpack_from("<HBBH2xHH", raw, 10)
        return BolusRequested(bolus_id, options, percent, duration, isf, target)
    if type_id == CGM_DATA_GX:
        status, kind, rate = struct.unpack_from("<HBb", raw, 10)
        (rssi,) = struct.unpack_from("<b", raw, 15)
        value, timestamp, transmitter = struct.unpack_from("<HII", raw, 16)
        return CgmReading(status, kind, rate, rssi, value, timestamp, transmitter)
    return None
