"""Emulated Bluetooth devices with generated history, ready to start on an ``Air``.

``build_gls_meter`` fills a ``MeterModel`` from the same seeded generator as the USB meter
and wraps it in a ``GlsMeter``; ``build_cgm_sensor`` builds a ``CgmModel`` on a seeded
``CgmHistory`` world and wraps it in a ``CgmSensor``; ``build_ids_pump`` generates a
``PumpModel``'s history (the same person as the CGM's) and wraps it in an ``IdsPump``;
``build_tslim_x2`` does the same for a Tandem t:slim X2 (``TslimX2``).
Same seed, same clock, same history.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from emulator.ble import cgm_sensor, gls_meter, ids_pump
from emulator.ble.cgm_sensor import CgmSensor
from emulator.ble.gls_meter import GlsMeter
from emulator.ble.ids_pump import IdsPump
from emulator.ble.quirks import CgmQuirks, GlsQuirks
from emulator.ble.tslim_x2 import DEFAULT_ADDRESS as TSLIM_ADDRESS
from emulator.ble.tslim_x2 import DEFAULT_CODE as TSLIM_CODE
from emulator.ble.tslim_x2 import TslimX2
from emulator.devices.tslim_x2_pump import TslimX2Pump, tslim_x2_use
from emulator.faults import FaultPlan
from emulator.generators.cgm_history import CgmHistory, CgmHistoryProfile
from emulator.generators.meter_history import generate_meter_history
from emulator.generators.pump_history import generate_pump_history
from emulator.model.cgm import CgmModel
from emulator.model.clock import DeviceClock
from emulator.model.meter import GlucoseUnit, MeterModel
from emulator.protocols.tandem_jpake import is_six_digit

GLS_MODEL_NAME = "diahil GLS meter"
CGM_MODEL_NAME = "diahil CGM"
GLS_MEMORY_CAPACITY = 1000
"""Results a BLE meter holds (a Contour Next One holds 800, an Accu-Chek Guide 720)."""


def build_gls_meter(
    *,
    seed: int = 1,
    days: int | None = 90,
    count: int | None = None,
    end: datetime | None = None,
    serial_number: str | None = None,
    unit: GlucoseUnit = GlucoseUnit.MG_DL,
    firmware_version: str = "1.0.0",
    memory_capacity: int = GLS_MEMORY_CAPACITY,
    clock: DeviceClock | None = None,
    name: str = gls_meter.DEFAULT_NAME,
    address: str = gls_meter.DEFAULT_ADDRESS,
    passkey: int | None = None,
    quirks: GlsQuirks | None = None,
    faults: FaultPlan | None = None,
    allow_delete: bool = True,
) -> GlsMeter:
    """A GLS meter holding ``days`` days (or the last ``count``) of generated readings up to
    ``end`` (default: its clock now), wrapping when there are more than it can hold."""
    model = MeterModel(
        serial_number=serial_number or f"GLS{seed:08d}",
        model_name=GLS_MODEL_NAME,
        firmware_version=firmware_version,
        unit=unit,
        memory_capacity=memory_capacity,
        clock=clock or DeviceClock(),
    )
    history_end = end or model.clock.now()
    if days is not None or count is not None:
        model.load_history(generate_meter_history(seed, history_end, days=days, count=count))
    return GlsMeter(
        model,
        name=name,
        address=address,
        passkey=passkey,
        quirks=quirks,
        faults=faults,
        allow_delete=allow_delete,
    )


def host_time_zone() -> tuple[int, int]:
    """The host's standard UTC offset and current DST shift, in minutes."""
    standard = -time.timezone // 60
    dst = (time.timezone - time.altzone) // 60 if time.localtime().tm_isdst > 0 else 0
    return standard, dst


def build_cgm_model(
    *,
    seed: int = 1,
    days: float = 10,
    serial_number: str | None = None,
    firmware_version: str = "1.0.0",
    clock: DeviceClock | None = None,
    profile: CgmHistoryProfile | None = None,
    time_zone_minutes: int | None = None,
    dst_minutes: int | None = None,
) -> CgmModel:
    """A CGM whose first session started ``days`` days ago (by its clock's time source).

    With ``days`` beyond the session length the sensor has since expired and been
    replaced: it holds only the current session. Zone and DST default to the host's."""
    prof = profile or CgmHistoryProfile()
    clock = clock or DeviceClock()
    if time_zone_minutes is None and dst_minutes is None:
        time_zone_minutes, dst_minutes = host_time_zone()
    return CgmModel(
        serial_number=serial_number or f"CGM{seed:08d}",
        model_name=CGM_MODEL_NAME,
        firmware_version=firmware_version,
        world=CgmHistory(seed, prof),
        clock=clock,
        session_length=timedelta(days=prof.session_days),
        warmup=timedelta(minutes=prof.warmup_minutes),
        time_zone_minutes=time_zone_minutes,
        dst_minutes=dst_minutes,
        first_session_start=clock.true_now() - timedelta(days=days),
    )


def build_cgm_sensor(
    *,
    seed: int = 1,
    days: float = 10,
    serial_number: str | None = None,
    clock: DeviceClock | None = None,
    profile: CgmHistoryProfile | None = None,
    name: str = cgm_sensor.DEFAULT_NAME,
    address: str = cgm_sensor.DEFAULT_ADDRESS,
    passkey: int | None = None,
    e2e_crc: bool = False,
    quirks: CgmQuirks | None = None,
    faults: FaultPlan | None = None,
) -> CgmSensor:
    """A CGM sensor (see ``build_cgm_model``) ready to start on an ``Air``."""
    model = build_cgm_model(
        seed=seed, days=days, serial_number=serial_number, clock=clock, profile=profile
    )
    return CgmSensor(
        model,
        name=name,
        address=address,
        passkey=passkey,
        e2e_crc=e2e_crc,
        quirks=quirks,
        faults=faults,
    )


def _live_from(end: datetime | None) -> tuple[datetime, Callable[[], datetime]]:
    """Where generated history stops (``end``, default now; to the second) and a time source
    that runs on from there in real time (a pump's live clock)."""
    stop = (end or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    began = time.monotonic()
    return stop, lambda: stop + timedelta(seconds=int(time.monotonic() - began))


def build_ids_pump(
    *,
    seed: int = 1,
    days: int = 90,
    timezone: str = "UTC",
    end: datetime | None = None,
    clock_changes: bool = True,
    serial_number: str | None = None,
    name: str = ids_pump.DEFAULT_NAME,
    address: str = ids_pump.DEFAULT_ADDRESS,
    passkey: int | None = None,
    e2e: bool = False,
    faults: FaultPlan | None = None,
    connection_interval_ms: float = 0.0,
) -> IdsPump:
    """An IDS pump holding ``days`` days of history up to ``end`` (default: now) for a
    person in ``timezone`` (an IANA name); its clock then runs in real time."""
    stop, time_source = _live_from(end)
    model = generate_pump_history(
        seed,
        timezone=timezone,
        end=stop,
        days=days,
        clock_changes=clock_changes,
        serial_number=serial_number or f"IDS{seed:08d}",
        time_source=time_source,
    )
    return IdsPump(
        model,
        name=name,
        address=address,
        passkey=passkey,
        e2e=e2e,
        faults=faults,
        connection_interval_ms=connection_interval_ms,
    )


def build_tslim_x2(
    *,
    seed: int = 1,
    days: int = 90,
    timezone: str = "UTC",
    end: datetime | None = None,
    clock_changes: bool = True,
    serial_number: str | None = None,
    pairing_code: str | None = None,
    name: str | None = None,
    address: str | None = None,
    faults: FaultPlan | None = None,
    connection_interval_ms: float = 0.0,
) -> TslimX2:
    """A t:slim X2 holding ``days`` days of history up to ``end`` (default: now) for a person
    in ``timezone``, showing ``pairing_code``; its clock then runs in real time."""
    stop, time_source = _live_from(end)
    model = generate_pump_history(
        seed,
        timezone=timezone,
        end=stop,
        days=days,
        clock_changes=clock_changes,
        serial_number=serial_number or f"{90000000 + seed:08d}",
        model_name="t:slim X2",
        profile=tslim_x2_use(),
        # 7.7 brought the 6-digit code (pumpX2 KnownApiVersion.API_V3_2)
        firmware_version="7.7.0" if is_six_digit(pairing_code or "") else "7.4.0",
        time_source=time_source,
    )
    return TslimX2(
        TslimX2Pump(model, seed=seed, timezone=timezone),
        pairing_code=pairing_code or TSLIM_CODE,
        name=name,
        address=address or TSLIM_ADDRESS,
        faults=faults,
        connection_interval_ms=connection_interval_ms,
    )
