"""Glucose Service (GLS 0x1808), device side: measurement, context and feature values, and
which stored records a RACP request designates.

Specification: Glucose Service / Glucose Profile and the characteristic definitions of
Glucose Measurement (0x2A18), Glucose Measurement Context (0x2A34) and Glucose Feature
(0x2A51); facts checked in ../shared/specs/ble-medical-services.md. Little-endian.

- Measurement: flags u8 (bit 0 time offset present, 1 concentration and type/location
  present, 2 concentration in mol/L instead of kg/L, 3 sensor status annunciation present,
  4 context information follows), sequence number u16, base time (Date Time), [time offset
  s16 minutes], [concentration SFLOAT, type (low nibble) / sample location (high nibble)],
  [sensor status annunciation u16].
- Context: flags u8 (bit 0 carbohydrate present, 1 meal present, 2 tester-health present),
  sequence number u16, [carbohydrate ID u8, carbohydrate SFLOAT kg], [meal u8],
  [tester (low nibble) / health (high nibble)].
- RACP filter types: 1 sequence number (u16), 2 user-facing time (Date Time; base time plus
  time offset).

How the emulated meter maps its ledger (``MeterReading``) onto these values, where the
specification leaves a choice (also in docs/protocols/gls.md):

- base time = the reading's device time; no time offset is ever sent (the meter stores
  the time it displayed), so the user-facing time is the base time;
- a meter set to mg/dL reports kg/L (mg/dL * 1e-5: mantissa = mg/dL, exponent -5); one set
  to mmol/L reports mol/L to 0.1 mmol/L (mg/dL / 18, mantissa = tenths, exponent -4);
- LO/HI: concentration = the measuring-range bound the meter stored, with status bit 6
  (result lower than the device can process) or bit 5 (higher);
- blood: type 1 capillary whole blood, location 1 finger; control solution: type 10,
  location 4;
- before-meal and after-meal markers become a context record (meal 1 preprandial, 2
  postprandial) right after the measurement, whose flag bit 4 announces it; the other
  markers (sick, stress, activity, don't feel right, user-marked) are not sent.
"""

from __future__ import annotations

import enum
import struct
from datetime import datetime

from emulator.model.meter import MG_DL_PER_MMOL_L, GlucoseUnit, MeterReading, ReadingFlag
from emulator.protocols import racp
from emulator.protocols.ble_time import date_time, parse_date_time
from emulator.protocols.ieee11073 import sfloat


class MeasurementFlag(enum.IntFlag):
    TIME_OFFSET = 0x01
    CONCENTRATION = 0x02
    MOL_PER_L = 0x04
    STATUS = 0x08
    CONTEXT_FOLLOWS = 0x10


class SampleType(enum.IntEnum):
    CAPILLARY_WHOLE_BLOOD = 1
    CAPILLARY_PLASMA = 2
    VENOUS_WHOLE_BLOOD = 3
    VENOUS_PLASMA = 4
    ARTERIAL_WHOLE_BLOOD = 5
    ARTERIAL_PLASMA = 6
    UNDETERMINED_WHOLE_BLOOD = 7
    UNDETERMINED_PLASMA = 8
    INTERSTITIAL_FLUID = 9
    CONTROL_SOLUTION = 10


class SampleLocation(enum.IntEnum):
    FINGER = 1
    ALTERNATE_SITE_TEST = 2
    EARLOBE = 3
    CONTROL_SOLUTION = 4
    NOT_AVAILABLE = 15


class Status(enum.IntFlag):
    """Sensor Status Annunciation bits."""

    BATTERY_LOW = 1 << 0
    SENSOR_MALFUNCTION = 1 << 1
    SAMPLE_SIZE_INSUFFICIENT = 1 << 2
    STRIP_INSERTION_ERROR = 1 << 3
    STRIP_TYPE_INCORRECT = 1 << 4
    RESULT_TOO_HIGH = 1 << 5
    RESULT_TOO_LOW = 1 << 6
    TEMPERATURE_TOO_HIGH = 1 << 7
    TEMPERATURE_TOO_LOW = 1 << 8
    READ_INTERRUPTED = 1 << 9
    GENERAL_DEVICE_FAULT = 1 << 10
    TIME_FAULT = 1 << 11


class ContextFlag(enum.IntFlag):
    CARBOHYDRATE = 0x01
    MEAL = 0x02
    TESTER_HEALTH = 0x04


class Meal(enum.IntEnum):
    PREPRANDIAL = 1
    POSTPRANDIAL = 2
    FASTING = 3
    CASUAL = 4
    BEDTIME = 5


class Feature(enum.IntFlag):
    LOW_BATTERY_DETECTION = 1 << 0
    SENSOR_MALFUNCTION_DETECTION = 1 << 1
    SAMPLE_SIZE = 1 << 2
    STRIP_INSERTION_ERROR_DETECTION = 1 << 3
    STRIP_TYPE_ERROR_DETECTION = 1 << 4
    RESULT_HIGH_LOW_DETECTION = 1 << 5
    TEMPERATURE_HIGH_LOW_DETECTION = 1 << 6
    READ_INTERRUPT_DETECTION = 1 << 7
    GENERAL_DEVICE_FAULT = 1 << 8
    TIME_FAULT = 1 << 9
    MULTIPLE_BOND = 1 << 10


METER_FEATURES = (
    Feature.LOW_BATTERY_DETECTION
    | Feature.SENSOR_MALFUNCTION_DETECTION
    | Feature.RESULT_HIGH_LOW_DETECTION
    | Feature.MULTIPLE_BOND
)
"""What the emulated meter reports in Glucose Feature (0x0423)."""

KG_L_EXPONENT = -5  # mantissa in mg/dL
MOL_L_EXPONENT = -4  # mantissa in tenths of mmol/L

FILTER_SEQUENCE_NUMBER = 1
FILTER_USER_FACING_TIME = 2
FILTERS: dict[int, racp.FilterType] = {
    FILTER_SEQUENCE_NUMBER: racp.FilterType(
        FILTER_SEQUENCE_NUMBER, "sequence number", 2, racp.u16_operand
    ),
    FILTER_USER_FACING_TIME: racp.FilterType(
        FILTER_USER_FACING_TIME, "user facing time", 7, parse_date_time
    ),
}

MEAL_MARKERS = {
    ReadingFlag.BEFORE_MEAL: Meal.PREPRANDIAL,
    ReadingFlag.AFTER_MEAL: Meal.POSTPRANDIAL,
}


def encode_measurement(
    sequence: int,
    base_time: datetime,
    *,
    concentration: tuple[int, int] | None,
    mol_per_l: bool = False,
    sample_type: int = SampleType.CAPILLARY_WHOLE_BLOOD,
    location: int = SampleLocation.FINGER,
    time_offset: int | None = None,
    status: int | None = None,
    context_follows: bool = False,
) -> bytes:
    """A Glucose Measurement value. ``concentration`` is an SFLOAT (mantissa, exponent)."""
    flags = MeasurementFlag(0)
    body = struct.pack("<H", sequence) + date_time(base_time)
    if time_offset is not None:
        flags |= MeasurementFlag.TIME_OFFSET
        body += struct.pack("<h", time_offset)
    if concentration is not None:
        flags |= MeasurementFlag.CONCENTRATION
        if mol_per_l:
            flags |= MeasurementFlag.MOL_PER_L
        body += sfloat(*concentration) + bytes([(location & 0x0F) << 4 | (sample_type & 0x0F)])
    if status is not None:
        flags |= MeasurementFlag.STATUS
        body += struct.pack("<H", status)
    if context_follows:
        flags |= MeasurementFlag.CONTEXT_FOLLOWS
    return bytes([flags]) + body


def encode_context(
    sequence: int,
    *,
    carbohydrate: tuple[int, tuple[int, int]] | None = None,
    meal: int | None = None,
    tester: int | None = None,
    health: int | None = None,
) -> bytes:
    """A Glucose Measurement Context value. ``carbohydrate`` is (ID, kg as SFLOAT)."""
    flags = ContextFlag(0)
    body = struct.pack("<H", sequence)
    if carbohydrate is not None:
        flags |= ContextFlag.CARBOHYDRATE
        carb_id, kilograms = carbohydrate
        body += bytes([carb_id]) + sfloat(*kilograms)
    if meal is not None:
        flags |= ContextFlag.MEAL
        body += bytes([meal])
    if tester is not None or health is not None:
        flags |= ContextFlag.TESTER_HEALTH
        body += bytes([((health or 0x0F) & 0x0F) << 4 | ((tester or 0x0F) & 0x0F)])
    return bytes([flags]) + body


def encode_feature(features: int = METER_FEATURES) -> bytes:
    return struct.pack("<H", features)


def concentration_of(reading: MeterReading, unit: GlucoseUnit) -> tuple[tuple[int, int], bool]:
    """The SFLOAT (mantissa, exponent) and mol/L flag a meter set to ``unit`` reports."""
    if unit is GlucoseUnit.MMOL_L:
        tenths = round(reading.value_mg_dl / MG_DL_PER_MMOL_L * 10)
        return (tenths, MOL_L_EXPONENT), True
    return (reading.value_mg_dl, KG_L_EXPONENT), False


def meal_of(reading: MeterReading) -> Meal | None:
    for flag, meal in MEAL_MARKERS.items():
        if flag in reading.flags:
            return meal
    return None


def measurement_of(sequence: int, reading: MeterReading, unit: GlucoseUnit) -> bytes:
    """The Glucose Measurement the emulated meter sends for one stored reading."""
    concentration, mol_per_l = concentration_of(reading, unit)
    status: int | None = None
    if ReadingFlag.LOW in reading.flags:
        status = Status.RESULT_TOO_LOW
    elif ReadingFlag.HIGH in reading.flags:
        status = Status.RESULT_TOO_HIGH
    if reading.is_control:
        sample_type, location = SampleType.CONTROL_SOLUTION, SampleLocation.CONTROL_SOLUTION
    else:
        sample_type, location = SampleType.CAPILLARY_WHOLE_BLOOD, SampleLocation.FINGER
    return encode_measurement(
        sequence,
        reading.device_time,
        concentration=concentration,
        mol_per_l=mol_per_l,
        sample_type=sample_type,
        location=location,
        status=status,
        context_follows=meal_of(reading) is not None,
    )


def context_of(sequence: int, reading: MeterReading) -> bytes | None:
    """The context record that follows the measurement, or None when there is none."""
    meal = meal_of(reading)
    return None if meal is None else encode_context(sequence, meal=meal)


def record_key(filter_type: int, record: tuple[int, MeterReading]) -> int | datetime:
    """A numbered reading's key under a RACP filter type (sequence number or user time)."""
    sequence, reading = record
    if filter_type == FILTER_SEQUENCE_NUMBER:
        return sequence
    return reading.device_time
