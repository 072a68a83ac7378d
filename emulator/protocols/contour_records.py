"""ASTM E1394 records in the Contour dialect: header, patient, results, terminator.

Specification: ASTM E1394-97 record layouts, with the Contour field usage described in
../shared/specs/contour-usb.md (from Ascensia's programming guide as cited by open-source
drivers). Delimiters: field ``|``, repeat ``\\``, component ``^``, escape ``&``.

- Header: ``H|\\^&||<password>|<product>^<versions>^<serial>^<sku>|<config>|<results>``
  then ``||||||1|<clock>``; the config field carries ``U=`` (0 mg/dL, 1 mmol/L) and ``V=``
  (measuring range: low bound in 2 digits, high in 3) among others.
- Result: ``R|<n>|^^^Glucose|<value>|<unit>^P||<markers>||<YYYYMMDDHHMM>``; markers joined
  by ``/``: ``<`` LO, ``>`` HI, ``B`` before meal, ``A`` after meal, ``D`` don't feel right,
  ``I`` sick, ``S`` stress, ``X`` activity, ``C`` control solution, ``Z`` user-marked.
- Terminator: ``L|1||N``.

Emulator choices where public sources are silent (see docs/protocols/contour-usb.md): a LO
or HI result carries the range bound as its value; a meter set to mmol/L sends values
converted with factor 18 to one decimal; results go oldest first, numbered from 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from emulator.model.meter import (
    MG_DL_PER_MMOL_L,
    GlucoseUnit,
    MeterModel,
    MeterReading,
    ReadingFlag,
)

MARKERS: dict[ReadingFlag, str] = {
    ReadingFlag.LOW: "<",
    ReadingFlag.HIGH: ">",
    ReadingFlag.BEFORE_MEAL: "B",
    ReadingFlag.AFTER_MEAL: "A",
    ReadingFlag.FEEL_BAD: "D",
    ReadingFlag.SICK: "I",
    ReadingFlag.STRESS: "S",
    ReadingFlag.ACTIVITY: "X",
    ReadingFlag.CONTROL: "C",
    ReadingFlag.USER_MARKED: "Z",
}


@dataclass(frozen=True)
class ContourIdentity:
    """What a Contour header says about the meter beyond the generic model."""

    product_code: str = "Bayer7390"
    analog_version: str = "01.04"
    agp_version: str = "09.02.20"
    sku: str = "7403-"
    access_password: str = "7w3LBL"
    # Meter configuration fields of the header (values from a real Contour Next USB header).
    config: tuple[tuple[str, str], ...] = (
        ("A", "1"),
        ("C", "63"),
        ("G", "1"),
        ("I", "0200"),
        ("R", "0"),
        ("S", "1"),
    )
    thresholds: str = "070070070070180130150250"  # X=
    targets: str = "360126090050099050300089"  # Y=
    trends: str = "1"  # Z=


def device_clock(moment: datetime) -> str:
    return moment.strftime("%Y%m%d%H%M")


def header_record(meter: MeterModel, identity: ContourIdentity, result_count: int) -> str:
    versions = "\\".join((meter.firmware_version, identity.analog_version, identity.agp_version))
    sender = f"{identity.product_code}^{versions}^{meter.serial_number}^{identity.sku}"
    unit_code = "1" if meter.unit is GlucoseUnit.MMOL_L else "0"
    config = "^".join(
        [f"{key}={value}" for key, value in identity.config]
        + [
            f"U={unit_code}",
            f"V={meter.low_limit_mg_dl:02d}{meter.high_limit_mg_dl:03d}",
            f"X={identity.thresholds}",
            f"Y={identity.targets}",
            f"Z={identity.trends}",
        ]
    )
    fields = [
        "H",
        "\\^&",
        "",
        identity.access_password,
        sender,
        config,
        str(result_count),
        "",
        "",
        "",
        "",
        "",
        "1",
        device_clock(meter.clock.now()),
    ]
    return "|".join(fields) + "\r"


def patient_record() -> str:
    return "P|1\r"


def display_value(value_mg_dl: int, unit: GlucoseUnit) -> str:
    """A result's value field as the meter sends it in its display unit."""
    if unit is GlucoseUnit.MMOL_L:
        return f"{value_mg_dl / MG_DL_PER_MMOL_L:.1f}"
    return str(value_mg_dl)


def result_record(number: int, reading: MeterReading, unit: GlucoseUnit) -> str:
    markers = "/".join(MARKERS[flag] for flag in MARKERS if flag in reading.flags)
    fields = [
        "R",
        str(number),
        "^^^Glucose",
        display_value(reading.value_mg_dl, unit),
        f"{unit.value}^P",
        "",
        markers,
        "",
        device_clock(reading.device_time),
    ]
    return "|".join(fields) + "\r"


def terminator_record() -> str:
    return "L|1||N\r"


def transfer_records(meter: MeterModel, identity: ContourIdentity) -> list[str]:
    """Every record of one transfer: header, patient, results (oldest first), terminator."""
    readings = meter.ledger()
    return [
        header_record(meter, identity, len(readings)),
        patient_record(),
        *(result_record(n, reading, meter.unit) for n, reading in enumerate(readings, start=1)),
        terminator_record(),
    ]
