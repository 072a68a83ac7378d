"""CGM readings to Tidepool ``cbg`` datums.

Follows ../shared/specs/tidepool-uploader/docs/checklisttemplates/CGMChecklist.md.

Time: a CGMS sensor states its UTC offset (time zone and DST) with each session's start, so
a reading's UTC time is exact: the session start minus that offset plus the reading's time
offset, and ``timezoneOffset`` is the sensor's offset. When the sensor does not know its
offset, the user's timezone is applied as for meters. Values are mg/dL, as CGMS sends
them; the trend goes to ``trendRate`` in mg/dL/minute; ``sampleInterval`` is 5 minutes.
Readings beyond the sensor's range carry ``bg/out-of-range`` and, since CGMS does not state
the sensor's limits, ``cbg/unknown-value`` instead of a threshold (docs/device-data/oor-values.md).
"""

from __future__ import annotations

from datetime import UTC, timedelta

from uploader.datamodel import Annotation, Cbg
from uploader.normalize.placed import placement
from uploader.records import CgmReading, DeviceIdentity
from uploader.timeproc import TimeFields, TimeProcessor

SAMPLE_INTERVAL_MS = 5 * 60 * 1000


def sensor_time(reading: CgmReading, fallback: TimeProcessor) -> TimeFields:
    if reading.utc_offset_minutes is None:
        return fallback.fields(reading.device_time, reading.index)
    utc = reading.device_time - timedelta(minutes=reading.utc_offset_minutes)
    return TimeFields(time=utc.replace(tzinfo=UTC), timezone_offset=reading.utc_offset_minutes)


def cbg_from_reading(reading: CgmReading, identity: DeviceIdentity, fallback: TimeProcessor) -> Cbg:
    when = sensor_time(reading, fallback)
    annotations = None
    if reading.out_of_range is not None:
        annotations = [
            Annotation(code="bg/out-of-range", value=reading.out_of_range),
            Annotation(code="cbg/unknown-value"),
        ]
    trend = reading.trend_mg_dl_per_min
    return Cbg(
        **placement(when, reading.device_time),
        device_id=identity.device_id,
        units="mg/dL",
        value=round(reading.value_mg_dl),
        trend_rate=trend,
        trend_rate_units="mg/dL/minute" if trend is not None else None,
        sample_interval=SAMPLE_INTERVAL_MS,
        annotations=annotations,
    )
