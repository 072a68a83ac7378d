"""Tandem t:slim X2 status responses, device side (cargo of each response message).

From pumpX2's public description (response/currentStatus/*.java): API version, pump
version, current basal and bolus status, Control-IQ and non-Control-IQ IOB, insulin status
(reservoir), battery (V1 and V2), current EGV, CGM status and the home screen mirror (CGM),
time since reset, ErrorResponse. Little-endian; insulin in milliunits where pumpX2 says so.
Vectors: tests/vectors/tandem/status.json.
"""

from __future__ import annotations

import struct

from emulator.protocols import tandem_constants as c


def api_version(major: int = c.API_VERSION_MAJOR, minor: int = c.API_VERSION_MINOR) -> bytes:
    return struct.pack("<HH", major, minor)


def _text(value: str) -> bytes:
    return value.encode("ascii", "replace")[:8].ljust(8, b"\0")


def pump_version(serial: int, pump_rev: str = "0", pcba_rev: str = "A") -> bytes:
    return (
        struct.pack("<IIIIII", c.ARM_SW_VERSION, 0, 0x3FFF, 0, serial, c.PART_NUMBER)
        + _text(pump_rev)
        + struct.pack("<I", 0)
        + _text(pcba_rev)
        + struct.pack("<I", c.MODEL_NUMBER)
    )


def milliunits(amount: float) -> int:
    return max(0, round(amount * 1000))


def basal_status(profile_rate: float, current_rate: float, modified: bool) -> bytes:
    return struct.pack(
        "<IIB", milliunits(profile_rate), milliunits(current_rate), 1 if modified else 0
    )


def bolus_status(
    status: int, bolus_id: int, timestamp: int, requested: float, source: int, types: int
) -> bytes:
    return struct.pack(
        "<BHHIIBB", status, bolus_id, 0, timestamp, milliunits(requested), source, types
    )


def iob(amount: float, seconds_left: int) -> bytes:
    """ControlIQIOBResponse (109): Mudaliar IOB, seconds remaining, Mudaliar total IOB, Swan
    6-hour IOB (milliunits u32 each, seconds u32), IOB type u8."""
    return struct.pack(
        "<IIIIB", milliunits(amount), seconds_left, milliunits(amount), 0, c.IOB_TYPE_MUDALIAR
    )


def non_control_iq_iob(amount: float, seconds_left: int) -> bytes:
    """NonControlIQIOBResponse (39): IOB milliunits u32, seconds remaining u32, total IOB
    milliunits u32."""
    return struct.pack("<III", milliunits(amount), seconds_left, milliunits(amount))


def insulin_status(units: float, low_units: int) -> bytes:
    return struct.pack("<HBB", max(0, int(units)), 0, low_units)


def battery(percent: int) -> bytes:
    """CurrentBatteryV1Response (53): battery ABC u8, battery IBC percent u8."""
    return bytes([percent, percent])


def battery_v2(percent: int, charging: int = c.BATTERY_CHARGING_STATUS) -> bytes:
    """CurrentBatteryV2Response (0x91): ABC u8, IBC percent u8, charging status u8, four
    u16 pumpX2 leaves unnamed (0)."""
    return struct.pack("<BBBHHHH", percent, percent, charging, 0, 0, 0, 0)


def error(request_opcode: int, code: int) -> bytes:
    """ErrorResponse (77): the request's opcode u8, error code u8."""
    return bytes([request_opcode & 0xFF, code])


def egv(timestamp: int, mg_dl: int, status: int, trend: int) -> bytes:
    """CurrentEGVGuiDataResponse (35): reading time u32, mg/dL u16, EGV status u8, trend rate
    i8."""
    return struct.pack("<IHBb", timestamp, mg_dl, status, trend)


def cgm_status(session: int, last_calibration: int, sensor_started: int, battery: int) -> bytes:
    """CGMStatusResponse (81): session state u8, last calibration u32, sensor started u32
    (seconds since 2008), transmitter battery status u8."""
    return struct.pack("<BIIB", session, last_calibration, sensor_started, battery)


def trend_icon(rate: int | None) -> int:
    """HomeScreenMirror's CGMTrendIcon for a trend rate in mg/dL per minute."""
    if rate is None:
        return c.TREND_NONE
    for bound, icon in c.TREND_ICONS:
        if rate >= bound:
            return icon
    return c.TREND_DOUBLE_DOWN


def home_screen_mirror(trend: int, bolus_icon: int, basal_icon: int, cgm_shown: bool) -> bytes:
    """HomeScreenMirrorResponse (57): CGM trend icon, CGM alert icon, status icons 0 and 1,
    bolus status icon, basal status icon, AP control state icon, remaining insulin plus icon,
    CGM display data (one byte each)."""
    return bytes(
        [
            trend,
            c.CGM_ALERT_NONE,
            c.ICON_HIDDEN,
            c.ICON_HIDDEN,
            bolus_icon,
            basal_icon,
            c.ICON_HIDDEN,
            0,
            1 if cgm_shown else 0,
        ]
    )


def time_since_reset(pump_clock: int, seconds_since_reset: int) -> bytes:
    return struct.pack("<II", pump_clock, seconds_since_reset)


def profile_status(idp_ids: list[int], active_segment: int) -> bytes:
    """ProfileStatusResponse (63): number of profiles, six slot ids (0xFF empty), the active
    profile's current segment index."""
    slots = (idp_ids + [c.IDP_EMPTY_SLOT] * c.IDP_SLOTS)[: c.IDP_SLOTS]
    return bytes([len(idp_ids), *slots, active_segment])


def idp_settings(
    idp_id: int, name: str, segments: int, insulin_minutes: int, max_bolus: float, carbs: bool
) -> bytes:
    """IDPSettingsResponse (65): id, name (16 bytes, NUL padded), number of segments,
    insulin duration minutes u16, max bolus milliunits u16, carb entry."""
    text = name.encode("utf-8")[: c.IDP_NAME_SIZE].ljust(c.IDP_NAME_SIZE, b"\0")
    return (
        bytes([idp_id])
        + text
        + struct.pack("<BHHB", segments, insulin_minutes, milliunits(max_bolus), 1 if carbs else 0)
    )


def idp_segment(
    idp_id: int,
    index: int,
    start_minute: int,
    basal: float,
    carb_ratio: float,
    target: int,
    isf: int,
) -> bytes:
    """IDPSegmentResponse (67): id, index, start minutes u16, basal milliunits/h u16, carb
    ratio u32 (grams x 1000), target BG u16, ISF u16, status."""
    return struct.pack(
        "<BBHHIHHB",
        idp_id,
        index,
        start_minute,
        milliunits(basal),
        round(carb_ratio * c.CARB_RATIO_SCALE),
        target,
        isf,
        c.SEGMENT_STATUS,
    )
