"""Tandem t:slim X2 status and profile requests, host side: what the pump says about itself.

Source: pumpX2's public description (``request|response/currentStatus``). Every request goes
on the current-status characteristic; its response's opcode is the request's + 1. Cargo is
little-endian; insulin in milliunits where pumpX2 says so.

- ApiVersion 32 -> 33: major u16, minor u16.
- PumpVersion 84 -> 85: ARM software u32, MSP software u32, config A bits u32, config B bits
  u32, serial u32, part number u32, pump revision 8 chars, PCBA serial u32, PCBA revision
  8 chars, model number u32 (48 bytes).
- CurrentBasalStatus 40 -> 41: profile basal rate u32, current basal rate u32 (milliunits/h),
  basal modified bitmask u8.
- CurrentBolusStatus 44 -> 45: status u8, bolus id u16, 2 spare, timestamp u32, requested
  volume u32 (milliunits), bolus source u8, bolus type bitmask u8.
- ControlIQIOB 108 -> 109: IOB u32 (milliunits), time remaining u32 (s), total IOB u32,
  swan 6-hour IOB u32, IOB type u8; NonControlIQIOB 38 -> 39: IOB u32, time remaining u32,
  total IOB u32 (pumps without Control-IQ).
- InsulinStatus 36 -> 37: insulin in the cartridge u16 (units), is-estimate u8, low-insulin
  threshold u8 (units).
- CurrentBatteryV1 52 -> 53: ABC u8, IBC percent u8 (API below 2.2); CurrentBatteryV2
  144 -> 145: ABC u8, IBC percent u8, charging status u8, 8 more bytes (API 2.2 and later).
- CurrentEGVGuiData 34 -> 35: reading time u32 (pump seconds), CGM mg/dL u16, EGV status u8,
  trend rate i8. CGMStatus 80 -> 81: session state u8, last calibration u32, sensor started
  u32 (pump seconds), transmitter battery status u8.
- ErrorResponse 77, the answer to a request the pump will not answer: request opcode u8,
  error code u8 (6: BAD_OPCODE).
- ProfileStatus 62 -> 63: number of profiles u8, six slot ids u8 (0xFF: empty), the active
  profile's current segment index u8.
- IDPSettings 64 (idp id u8) -> 65: id u8, name 16 bytes (NUL padded), number of segments u8,
  insulin duration u16 (minutes), max bolus u16 (milliunits), carb entry u8.
- IDPSegment 66 (idp id u8, segment index u8) -> 67: id u8, index u8, start u16 (minutes after
  midnight), basal rate u16 (milliunits/h), carb ratio u32, target BG u16 (mg/dL), ISF u16
  (mg/dL per unit), status u8.

Choices (docs/protocols/tandem-host.md): the profile in slot 0 is the active one; the carb
ratio u32 is grams per unit x 1000.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from uploader.protocols.tandem import FrameError, Message

API_VERSION = 32
CURRENT_EGV = 34
INSULIN_STATUS = 36
CURRENT_BASAL_STATUS = 40
CURRENT_BOLUS_STATUS = 44
CURRENT_BATTERY_V1 = 52
PROFILE_STATUS = 62
IDP_SETTINGS = 64
IDP_SEGMENT = 66
PUMP_VERSION = 84
CONTROL_IQ_IOB = 108
NON_CONTROL_IQ_IOB = 38
CURRENT_BATTERY_V2 = 144
CGM_STATUS = 80
ERROR_RESPONSE = 77
BATTERY_V2_API = (2, 2)
"""pumpX2: pumps of API 2.2 and later answer CurrentBatteryV2; older ones CurrentBatteryV1."""
ERROR_NAMES = {6: "BAD_OPCODE"}
CGM_SESSION_STATES = {2: "active"}
"""pumpX2's CGMStatus session state names this driver reports (others: by number)."""

EMPTY_SLOT = 0xFF
NAME_SIZE = 16
CARB_RATIO_SCALE = 1000
MILLI = 1000


def request(opcode: int, transaction_id: int, cargo: bytes = b"") -> Message:
    """A status request (``idp_settings_request`` / ``idp_segment_request`` for cargo)."""
    return Message(opcode, transaction_id, cargo)


def idp_settings_request(transaction_id: int, idp_id: int) -> Message:
    return Message(IDP_SETTINGS, transaction_id, bytes([idp_id]))


def idp_segment_request(transaction_id: int, idp_id: int, index: int) -> Message:
    return Message(IDP_SEGMENT, transaction_id, bytes([idp_id, index]))


class StatusRefused(FrameError):
    """The pump answered a request with an ErrorResponse (it will not answer that request)."""


def _cargo(message: Message, request_opcode: int, size: int) -> bytes:
    if message.opcode == ERROR_RESPONSE and len(message.cargo) >= 2:
        code = message.cargo[1]
        raise StatusRefused(
            f"the pump refused request {message.cargo[0]} with error {code} "
            f"({ERROR_NAMES.get(code, 'unnamed')})"
        )
    if message.opcode != request_opcode + 1:
        raise FrameError(
            f"expected opcode {request_opcode + 1} answering {request_opcode}, "
            f"the pump sent {message.opcode}"
        )
    if len(message.cargo) != size:
        raise FrameError(
            f"opcode {message.opcode} carries {len(message.cargo)} bytes of cargo, expected {size}"
        )
    return message.cargo


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


@dataclass(frozen=True)
class ApiVersion:
    major: int
    minor: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


def parse_api_version(message: Message) -> ApiVersion:
    return ApiVersion(*struct.unpack("<HH", _cargo(message, API_VERSION, 4)))


@dataclass(frozen=True)
class PumpVersion:
    arm_sw_version: int
    msp_sw_version: int
    config_a_bits: int
    config_b_bits: int
    serial_number: int
    part_number: int
    pump_rev: str
    pcba_serial: int
    pcba_rev: str
    model_number: int


def parse_pump_version(message: Message) -> PumpVersion:
    cargo = _cargo(message, PUMP_VERSION, 48)
    arm, msp, config_a, config_b, serial, part = struct.unpack_from("<6I", cargo)
    (pcba_serial,) = struct.unpack_from("<I", cargo, 32)
    (model,) = struct.unpack_from("<I", cargo, 44)
    return PumpVersion(
        arm,
        msp,
        config_a,
        config_b,
        serial,
        part,
        _text(cargo[24:32]),
        pcba_serial,
        _text(cargo[36:44]),
        model,
    )


@dataclass(frozen=True)
class BasalStatus:
    profile_rate: float
    """U/h the active profile sets now."""
    current_rate: float
    """U/h delivered now."""
    modified: int


def parse_basal_status(message: Message) -> BasalStatus:
    profile, current, modified = struct.unpack("<IIB", _cargo(message, CURRENT_BASAL_STATUS, 9))
    return BasalStatus(profile / MILLI, current / MILLI, modified)


@dataclass(frozen=True)
class BolusStatus:
    status: int
    """0: no bolus running."""
    bolus_id: int
    timestamp: int
    requested: float
    source: int
    types: int


def parse_bolus_status(message: Message) -> BolusStatus:
    status, bolus_id, timestamp, requested, source, types = struct.unpack(
        "<BH2xIIBB", _cargo(message, CURRENT_BOLUS_STATUS, 15)
    )
    return BolusStatus(status, bolus_id, timestamp, requested / MILLI, source, types)


@dataclass(frozen=True)
class InsulinOnBoard:
    iob: float
    """Units."""
    time_remaining_s: int
    total_iob: float
    swan_iob: float
    iob_type: int


def parse_iob(message: Message) -> InsulinOnBoard:
    """ControlIQIOB's answer, or NonControlIQIOB's."""
    if message.opcode == NON_CONTROL_IQ_IOB + 1:
        iob, left, total = struct.unpack("<III", _cargo(message, NON_CONTROL_IQ_IOB, 12))
        return InsulinOnBoard(iob / MILLI, left, total / MILLI, 0.0, 0)
    iob, left, total, swan, kind = struct.unpack("<IIIIB", _cargo(message, CONTROL_IQ_IOB, 17))
    return InsulinOnBoard(iob / MILLI, left, total / MILLI, swan / MILLI, kind)


@dataclass(frozen=True)
class InsulinStatus:
    units: int
    """Insulin left in the cartridge (whole units)."""
    is_estimate: int
    low_units: int
    """The pump's low-insulin alert threshold (units)."""


def parse_insulin_status(message: Message) -> InsulinStatus:
    return InsulinStatus(*struct.unpack("<HBB", _cargo(message, INSULIN_STATUS, 4)))


@dataclass(frozen=True)
class Battery:
    abc: int
    ibc_percent: int


def battery_request(transaction_id: int, api: ApiVersion) -> Message:
    """The battery request a pump of ``api`` answers (pumpX2's CurrentBatteryBuilder)."""
    v2 = (api.major, api.minor) >= BATTERY_V2_API
    return Message(CURRENT_BATTERY_V2 if v2 else CURRENT_BATTERY_V1, transaction_id, b"")


def parse_battery(message: Message) -> Battery:
    """CurrentBatteryV1's answer, or V2's (whose first two bytes are V1's)."""
    if message.opcode == CURRENT_BATTERY_V2 + 1:
        cargo = _cargo(message, CURRENT_BATTERY_V2, 11)
    else:
        cargo = _cargo(message, CURRENT_BATTERY_V1, 2)
    return Battery(cargo[0], cargo[1])


@dataclass(frozen=True)
class CgmStatus:
    timestamp: int
    """Pump seconds of the last reading (0: none)."""
    mg_dl: int
    status: int
    trend: int


def parse_egv(message: Message) -> CgmStatus:
    return CgmStatus(*struct.unpack("<IHBb", _cargo(message, CURRENT_EGV, 8)))


@dataclass(frozen=True)
class SensorSession:
    state: int
    last_calibration: int
    sensor_started: int
    transmitter_battery: int

    @property
    def state_name(self) -> str:
        return CGM_SESSION_STATES.get(self.state, f"in state {self.state}")


def parse_cgm_status(message: Message) -> SensorSession:
    return SensorSession(*struct.unpack("<BIIB", _cargo(message, CGM_STATUS, 10)))


@dataclass(frozen=True)
class ProfileStatus:
    count: int
    slots: tuple[int, ...]
    """Profile ids in the pump's six slots, empty ones left out (slot 0: the active one)."""
    active_segment: int


def parse_profile_status(message: Message) -> ProfileStatus:
    cargo = _cargo(message, PROFILE_STATUS, 8)
    slots = tuple(b for b in cargo[1:7] if b != EMPTY_SLOT)
    if len(slots) != cargo[0]:
        raise FrameError(f"ProfileStatus says {cargo[0]} profiles but fills {len(slots)} slots")
    return ProfileStatus(cargo[0], slots, cargo[7])


@dataclass(frozen=True)
class IdpSettings:
    idp_id: int
    name: str
    segments: int
    insulin_duration_minutes: int
    max_bolus: float
    carb_entry: bool


def parse_idp_settings(message: Message) -> IdpSettings:
    cargo = _cargo(message, IDP_SETTINGS, 23)
    segments, duration, max_bolus, carbs = struct.unpack_from("<BHHB", cargo, 17)
    return IdpSettings(
        cargo[0], _text(cargo[1:17]), segments, duration, max_bolus / MILLI, carbs == 1
    )


@dataclass(frozen=True)
class IdpSegment:
    idp_id: int
    index: int
    start_minutes: int
    basal_rate: float
    """U/h."""
    carb_ratio: float
    """Grams per unit."""
    target_bg: int
    isf: int
    status: int


def parse_idp_segment(message: Message) -> IdpSegment:
    idp, index, start, basal, carb, target, isf, status = struct.unpack(
        "<BBHHIHHB", _cargo(message, IDP_SEGMENT, 15)
    )
    return IdpSegment(
        idp, index, start, basal / MILLI, carb / CARB_RATIO_SCALE, target, isf, status
    )
