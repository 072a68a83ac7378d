"""Glucose Service (GLS, 0x1808), collector side: parsing what a meter sends.

Specs: the Glucose Service and the characteristic definitions: Glucose Measurement 0x2A18
(flags; sequence number; base time; optional time offset in minutes; optional
concentration (SFLOAT, kg/L or mol/L by flag) with a type/sample-location octet; optional
sensor status annunciation), Glucose Measurement Context 0x2A34, Glucose Feature 0x2A51.
Notes: ../shared/specs/ble-medical-services.md.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime, timedelta

from uploader.protocols.ble_time import DATE_TIME_SIZE, decode_date_time
from uploader.protocols.ieee11073 import decode_sfloat

SERVICE = "00001808-0000-1000-8000-00805f9b34fb"
MEASUREMENT = "00002a18-0000-1000-8000-00805f9b34fb"
CONTEXT = "00002a34-0000-1000-8000-00805f9b34fb"
FEATURE = "00002a51-0000-1000-8000-00805f9b34fb"
RACP = "00002a52-0000-1000-8000-00805f9b34fb"

FLAG_TIME_OFFSET = 0x01
FLAG_CONCENTRATION = 0x02
FLAG_MOL_PER_L = 0x04
FLAG_STATUS = 0x08
FLAG_CONTEXT_FOLLOWS = 0x10

TYPE_CONTROL_SOLUTION = 10
LOCATION_CONTROL_SOLUTION = 4
STATUS_RESULT_TOO_HIGH = 1 << 5
STATUS_RESULT_TOO_LOW = 1 << 6

MG_DL_PER_KG_L = 100_000
"""1 kg/L = 10^6 mg / 10 dL."""
MMOL_L_PER_MOL_L = 1000


class MeasurementError(ValueError):
    """A measurement value that does not follow the characteristic's layout."""


@dataclass(frozen=True)
class GlucoseMeasurement:
    sequence: int
    base_time: datetime
    time_offset_minutes: int
    concentration: float | None
    """In mg/dL for kg/L meters, in mmol/L for mol/L meters; None if absent or not a number."""
    units: str | None  # "mg/dL" | "mmol/L" | None
    sample_type: int | None
    location: int | None
    status: int
    context_follows: bool

    @property
    def user_facing_time(self) -> datetime:
        return self.base_time + timedelta(minutes=self.time_offset_minutes)

    @property
    def is_control_solution(self) -> bool:
        return (
            self.sample_type == TYPE_CONTROL_SOLUTION or self.location == LOCATION_CONTROL_SOLUTION
        )


def parse_measurement(value: bytes) -> GlucoseMeasurement:
    try:
        flags = value[0]
        sequence = struct.unpack_from("<H", value, 1)[0]
        base_time = decode_date_time(value, 3)
        pos = 3 + DATE_TIME_SIZE
        offset = 0
        if flags & FLAG_TIME_OFFSET:
            offset = struct.unpack_from("<h", value, pos)[0]
            pos += 2
        concentration = units = sample_type = location = None
        if flags & FLAG_CONCENTRATION:
            number = decode_sfloat(value, pos).value
            type_location = value[pos + 2]
            pos += 3
            sample_type, location = type_location & 0x0F, type_location >> 4
            if flags & FLAG_MOL_PER_L:
                units = "mmol/L"
                concentration = None if number is None else round(number * MMOL_L_PER_MOL_L, 6)
            else:
                units = "mg/dL"
                concentration = None if number is None else round(number * MG_DL_PER_KG_L, 6)
        status = 0
        if flags & FLAG_STATUS:
            status = struct.unpack_from("<H", value, pos)[0]
            pos += 2
        _ = base_time + timedelta(minutes=offset)  # the user-facing time must exist
    except (IndexError, struct.error, ValueError, OverflowError) as exc:
        raise MeasurementError(f"malformed Glucose Measurement {value.hex()}: {exc}") from None
    return GlucoseMeasurement(
        sequence=sequence,
        base_time=base_time,
        time_offset_minutes=offset,
        concentration=concentration,
        units=units,
        sample_type=sample_type,
        location=location,
        status=status,
        context_follows=bool(flags & FLAG_CONTEXT_FOLLOWS),
    )


@dataclass(frozen=True)
class MeasurementContext:
    sequence: int
    meal: int | None
    carbohydrate_id: int | None
    carbohydrate_grams: float | None


def parse_context(value: bytes) -> MeasurementContext:
    """The parts of a context record the uploader uses (meal, carbohydrates)."""
    try:
        flags = value[0]
        sequence = struct.unpack_from("<H", value, 1)[0]
        pos = 3
        if flags & 0x80:  # extended flags
            pos += 1
        carb_id = carbs = meal = None
        if flags & 0x01:
            carb_id = value[pos]
            kilograms = decode_sfloat(value, pos + 1).value
            carbs = None if kilograms is None else round(kilograms * 1000, 3)
            pos += 3
        if flags & 0x02:
            meal = value[pos]
    except (IndexError, struct.error, ValueError) as exc:
        raise MeasurementError(
            f"malformed Glucose Measurement Context {value.hex()}: {exc}"
        ) from None
    return MeasurementContext(sequence, meal, carb_id, carbs)


def parse_feature(value: bytes) -> int:
    if len(value) < 2:
        raise MeasurementError(f"malformed Glucose Feature {value.hex()}")
    return int(struct.unpack_from("<H", value)[0])
