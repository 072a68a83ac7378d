"""Driver for continuous glucose monitors speaking the CGM Service (CGMS 0x181F).

Supported features:
    - pairing (LE Secure Connections, passkey entry) and bonded reconnects;
    - identify: Device Information, CGM Feature (E2E-CRC, trend, quality), the current
      session's start (with the sensor's time zone and DST) and run time;
    - incremental download by time offset within the current session, re-reading a
      backfill window (3 hours) before the last verified reading, because sensors store
      readings missed during signal loss later; a new session starts from its beginning;
    - E2E-CRC checked on every value when the feature says so: a mismatch stops the upload
      with ``DataIntegrityError`` (nothing of a corrupted read is uploaded);
    - trend ((mg/dL)/min) and LO/HI (status "lower/higher than the device can process").

Not supported: calibration and alert settings (Specific Ops Control Point is not written);
earlier sessions (a sensor keeps only the current session's readings).
"""

from __future__ import annotations

import json
from typing import Literal

from uploader.drivers.ble_common import (
    BleDriver,
    racp_read,
    read_device_information,
)
from uploader.errors import DataIntegrityError, ProtocolError
from uploader.pairing import PasskeyProvider
from uploader.progress import Progress
from uploader.protocols import cgms, racp
from uploader.records import CgmReading, DeviceData, DeviceIdentity
from uploader.transports.ble import Advertisement, BleStack

BACKFILL_WINDOW_MIN = 180


class CgmsDriver(BleDriver):
    """A CGMS sensor found by a Bluetooth scan (see the module docstring)."""

    service = cgms.SERVICE
    compat_family = "cgms"
    clock_hint = (
        "A CGM's time is set through its session start time, and setting it would move every "
        "reading of the current session (those already uploaded would be stored twice, at "
        "old and new times), so the uploader does not: set the time in the sensor's app "
        "before its next session starts."
    )

    def __init__(
        self,
        stack: BleStack,
        target: Advertisement,
        passkey: PasskeyProvider | None,
        timeout_s: float = 10.0,
    ) -> None:
        super().__init__(stack, target, passkey, timeout_s)
        self._feature: cgms.Feature | None = None
        self._session: cgms.SessionStartTime | None = None

    async def identify(self) -> DeviceIdentity:
        link = self._connected()
        info = await read_device_information(link)
        try:
            self._feature = cgms.parse_feature(await link.read(cgms.FEATURE))
            e2e = self._feature.e2e_crc
            self._session = cgms.parse_session_start_time(
                await link.read(cgms.SESSION_START_TIME), e2e
            )
        except cgms.CrcMismatch as exc:
            raise DataIntegrityError(str(exc)) from None
        except cgms.CgmValueError as exc:
            raise ProtocolError(str(exc)) from None
        self._identity = info.identity(("cgm",), None)
        return self._identity

    async def fetch(self, progress: Progress, since: str | None = None) -> DeviceData:
        link, session, feature = self._require(), self._session, self._feature
        assert session is not None and feature is not None and self._identity is not None
        session_key = session.local_start.isoformat()
        first = _resume_offset(since, session_key)
        await link.subscribe(cgms.MEASUREMENT)
        await link.subscribe(cgms.RACP)
        by_offset: dict[int, cgms.CgmMeasurement] = {}

        def on_record(uuid: str, value: bytes) -> None:
            if uuid != cgms.MEASUREMENT:
                return
            try:
                records = cgms.parse_measurements(value, feature.e2e_crc)
            except cgms.CrcMismatch as exc:
                raise DataIntegrityError(
                    f"A reading from the sensor failed its integrity check ({exc}); nothing from "
                    "this read was uploaded."
                ) from None
            except cgms.CgmValueError as exc:
                raise ProtocolError(str(exc)) from None
            for record in records:
                by_offset[record.time_offset_minutes] = record

        await racp_read(
            link, cgms.RACP, first, racp.FILTER_TIME_OFFSET, on_record, progress, self.timeout_s
        )
        data = DeviceData(identity=self._identity)
        unusable = 0
        for offset in sorted(by_offset):
            reading = _reading(by_offset[offset], session)
            if reading is None:
                unusable += 1
            else:
                data.cgm_readings.append(reading)
        if unusable:
            data.notes.append(f"Skipped {unusable} sensor record(s) without a glucose value.")
        last = max(by_offset, default=None)
        if last is None and first is not None:
            data.cursor = since
        elif last is not None:
            data.cursor = json.dumps({"session": session_key, "offset": last})
        return data


def _resume_offset(since: str | None, session_key: str) -> int | None:
    """Where to start in the current session; None to read it all (first time, or new session)."""
    if since is None:
        return None
    try:
        cursor = json.loads(since)
        if cursor.get("session") != session_key:
            return None
        return max(0, int(cursor["offset"]) - BACKFILL_WINDOW_MIN)
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def _reading(m: cgms.CgmMeasurement, session: cgms.SessionStartTime) -> CgmReading | None:
    if m.glucose_mg_dl is None:
        return None
    out_of_range: Literal["low", "high"] | None = (
        "low" if m.too_low else "high" if m.too_high else None
    )
    return CgmReading(
        session_start=session.local_start,
        utc_offset_minutes=session.utc_offset_minutes,
        time_offset_minutes=m.time_offset_minutes,
        value_mg_dl=m.glucose_mg_dl,
        trend_mg_dl_per_min=m.trend,
        out_of_range=out_of_range,
    )
