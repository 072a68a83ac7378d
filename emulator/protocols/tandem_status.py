"""Tandem t:slim X2 status responses, device side (cargo of each response message).

From pumpX2's public description (response/currentStatus/*.java): API version, pump
version, current basal and bolus status, Control-IQ IOB, insulin status (reservoir), battery
(V1), current EGV (CGM), time since reset. Little-endian; insulin in milliunits where pumpX2
says so. Vectors: tests/vectors/tandem/status.json.
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
    return struct.pack("<IIIIB", milliunits(amount), seconds_left, milliunits(amount), 0, 0)


def insulin_status(units: float, low_units: int) -> bytes:
    return struct.pack("<HBB", max(0, int(units)), 0, low_units)


def battery(percent: int) -> bytes:
    return bytes([percent, percent])


def egv(timestamp: int, mg_dl: int, status: int, trend: int) -> bytes:
    return struct.pack("<IHBb", timestamp, mg_dl, status, trend)


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
