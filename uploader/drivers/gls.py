"""Driver for Bluetooth glucose meters speaking the Glucose Service (GLS 0x1808).

Supported: meters that implement the Bluetooth SIG Glucose Profile (e.g. Contour Next One,
Accu-Chek Guide/Instant), over any bleak stack.

Supported features:
    - pairing (LE Secure Connections, passkey entry) and bonded reconnects;
    - identify: manufacturer, model, serial number and firmware (Device Information), the
      meter's clock (Current Time, or Date Time on meters that expose that instead);
    - incremental download: only records after the last verified sequence number (RACP
      "greater than or equal"), the whole memory on the first upload; records may arrive in
      any order (some meters report newest first);
    - LO/HI (status bits "lower/higher than the device can process"), control solution
      (type or location "control solution": counted, not uploaded);
    - setting the meter's clock (``--set-clock``): Current Time, or Date Time, written on
      the paired link.

Not supported: meal and other context (no Tidepool field yet); sequence numbers that wrap
past 65535 (the cursor restarts from the whole memory).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from uploader.drivers.ble_common import (
    BleDriver,
    racp_read,
    racp_transfer,
    read_clock,
    read_device_information,
    write_clock,
)
from uploader.errors import ProtocolError
from uploader.progress import NoProgress, Progress
from uploader.protocols import gls, racp
from uploader.records import BgReading, DeviceData, DeviceIdentity
from uploader.transports.ble import BleLink


class GlsDriver(BleDriver):
    """A GLS meter found by a Bluetooth scan (see the module docstring)."""

    service = gls.SERVICE
    compat_family = "gls"

    async def identify(self) -> DeviceIdentity:
        link = self._connected()
        info = await read_device_information(link)
        gls.parse_feature(await link.read(gls.FEATURE))  # also proves the link is trusted
        self._identity = info.identity(("bgm",), await read_clock(link))
        return self._identity

    async def fetch(self, progress: Progress, since: str | None = None) -> DeviceData:
        link = self._require()
        assert self._identity is not None
        first = int(since) + 1 if since is not None and since.isdigit() else None
        await link.subscribe(gls.MEASUREMENT)
        if link.has(gls.CONTEXT):
            await link.subscribe(gls.CONTEXT)
        await link.subscribe(gls.RACP)
        notes: list[str] = []
        if first is not None:
            newest = await self._newest_sequence(link)
            if newest is not None and newest < first - 1:
                notes.append(
                    f"The meter's records are numbered from {newest} down again (it was reset "
                    "or replaced): its whole memory was read; the cloud keeps one copy of each."
                )
                first = None

        measurements: dict[int, gls.GlucoseMeasurement] = {}

        def on_record(uuid: str, value: bytes) -> None:
            if uuid != gls.MEASUREMENT:
                return  # context: meal markers have no Tidepool field yet
            try:
                measurement = gls.parse_measurement(value)
            except gls.MeasurementError as exc:
                raise ProtocolError(str(exc)) from None
            if first is None or measurement.sequence >= first:
                measurements[measurement.sequence] = measurement

        await racp_read(
            link, gls.RACP, first, racp.FILTER_SEQUENCE_NUMBER, on_record, progress, self.timeout_s
        )
        data = DeviceData(identity=self._identity, notes=notes)
        unusable = 0
        for sequence in sorted(measurements):
            reading = _reading(measurements[sequence])
            if reading is None:
                unusable += 1
            else:
                data.readings.append(reading)
        if unusable:
            data.notes.append(f"Skipped {unusable} record(s) without a glucose value.")
        last = max(measurements, default=None)
        data.cursor = str(last) if last is not None else since
        return data

    async def _newest_sequence(self, link: BleLink) -> int | None:
        """The sequence number of the meter's newest record (RACP "last record")."""
        newest: list[int] = []

        def on_record(uuid: str, value: bytes) -> None:
            if uuid == gls.MEASUREMENT:
                newest.append(gls.parse_measurement(value).sequence)

        request = racp.request(racp.OpCode.REPORT_RECORDS, racp.Operator.LAST)
        await racp_transfer(link, gls.RACP, request, on_record, NoProgress(), None, self.timeout_s)
        return max(newest, default=None)

    async def set_clock(self, wall_time: datetime) -> bool:
        link = self._require()
        return await write_clock(link, wall_time)


def _reading(m: gls.GlucoseMeasurement) -> BgReading | None:
    if m.concentration is None or m.units is None:
        return None
    out_of_range: Literal["low", "high"] | None = None
    if m.status & gls.STATUS_RESULT_TOO_LOW:
        out_of_range = "low"
    elif m.status & gls.STATUS_RESULT_TOO_HIGH:
        out_of_range = "high"
    units: Literal["mg/dL", "mmol/L"] = "mmol/L" if m.units == "mmol/L" else "mg/dL"
    return BgReading(
        device_time=m.user_facing_time,
        value=m.concentration,
        units=units,
        out_of_range=out_of_range,
        control_solution=m.is_control_solution,
    )
