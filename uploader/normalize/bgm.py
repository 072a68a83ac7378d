"""Blood glucose meter readings to Tidepool ``smbg`` datums.

Follows ../shared/specs/tidepool-uploader/docs/checklisttemplates/BGMChecklist.md:

- values keep the units the meter reported (mg/dL integers, mmol/L numbers);
- LO/HI results become the bound minus/plus one mg/dL, annotated ``bg/out-of-range`` with
  the meter's threshold in mg/dL (docs/device-data/oor-values.md); when the meter does not
  say its threshold, the value is kept as sent, the annotation has no threshold, and a
  second annotation ``smbg/unknown-value`` says so (as oor-values.md asks);
- control-solution tests are not patient data: they are dropped and counted;
- meal markers have no Tidepool field yet and are not sent.
"""

from __future__ import annotations

from uploader.datamodel import Annotation, Smbg
from uploader.normalize.placed import placement
from uploader.records import BgReading, DeviceIdentity
from uploader.timeproc import TimeProcessor

MG_DL_PER_MMOL_L = 18.01559
"""Tidepool's conversion factor (docs/device-data/units.md)."""


def _in_units(value_mg_dl: float, units: str) -> float:
    return value_mg_dl if units == "mg/dL" else value_mg_dl / MG_DL_PER_MMOL_L


def smbg_from_reading(reading: BgReading, identity: DeviceIdentity, times: TimeProcessor) -> Smbg:
    when = times.fields(reading.device_time, reading.index)
    value: float = reading.value
    annotations = None
    if reading.out_of_range is not None:
        if reading.threshold_mg_dl is None:
            annotations = [
                Annotation(code="bg/out-of-range", value=reading.out_of_range),
                Annotation(code="smbg/unknown-value"),
            ]
        else:
            step = -1 if reading.out_of_range == "low" else 1
            value = _in_units(reading.threshold_mg_dl + step, reading.units)
            annotations = [
                Annotation(
                    code="bg/out-of-range",
                    value=reading.out_of_range,
                    threshold=reading.threshold_mg_dl,
                )
            ]
    return Smbg(
        **placement(when, reading.device_time),
        device_id=identity.device_id,
        units=reading.units,
        value=round(value) if reading.units == "mg/dL" else value,
        annotations=annotations,
        sub_type=reading.sub_type,
    )
