"""Normalization: device records (``uploader.records``) to Tidepool datums
(``uploader.datamodel``), one module per kind of record, dispatched here."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import ValidationError

from uploader.datamodel import DeviceDatum
from uploader.errors import ProtocolError
from uploader.normalize.bgm import smbg_from_reading
from uploader.normalize.cgm import cbg_from_reading
from uploader.normalize.pump import pump_datums
from uploader.normalize.time_change import time_change_datum
from uploader.records import DeviceData
from uploader.time_bootstrap import UtcBootstrapping
from uploader.timeproc import AcrossTheBoardTimezone, TimeProcessor


@dataclass
class Normalized:
    datums: list[DeviceDatum] = field(default_factory=list)
    control_solution_skipped: int = 0
    time_processing: str = AcrossTheBoardTimezone.name


def normalize(data: DeviceData, times: TimeProcessor) -> Normalized:
    """Every datum of one read. A value no real device can produce is the device's fault: it
    becomes a ``ProtocolError`` naming the record, not a crash. With utc-bootstrapping, each
    of the device's clock changes becomes a ``deviceEvent``/``timeChange`` datum too."""
    out = Normalized(time_processing=times.name)
    try:
        for reading in data.readings:
            if reading.control_solution:
                out.control_solution_skipped += 1
                continue
            out.datums.append(smbg_from_reading(reading, data.identity, times))
        for cgm in data.cgm_readings:
            out.datums.append(cbg_from_reading(cgm, data.identity, times))
        if data.pump is not None:
            out.datums.extend(pump_datums(data.pump, data.identity, times))
        if isinstance(times, UtcBootstrapping):
            for change in times.changes:
                out.datums.append(time_change_datum(change, data.identity, times))
    except ValidationError as problem:
        first = problem.errors()[0]
        raise ProtocolError(
            f"The device sent a reading the data model cannot hold ({first['msg']}); "
            "it may be damaged or mis-set."
        ) from problem
    anchored = bool(data.cgm_readings) and all(
        r.utc_offset_minutes is not None for r in data.cgm_readings
    )
    if anchored and not data.readings and not data.time_changes:
        out.time_processing = "none"
    return out
