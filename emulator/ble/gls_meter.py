"""An emulated Bluetooth glucose meter: the Glucose Service on a ``MeterModel``.

Specification: Glucose Service / Glucose Profile (values in ``emulator.protocols.gls``,
RACP in ``emulator.protocols.racp`` and ``emulator.ble.racp_server``), Current Time Service,
Device Information Service; ../shared/specs/ble-medical-services.md. The same model and
history generator as the USB meter (``emulator.devices.contour_usb``); what the meter holds
is its ledger, and its records are numbered 1..N in storage order (``records()``).

GATT database:

- Glucose Service 0x1808: Glucose Measurement 0x2A18 (notify), Glucose Measurement Context
  0x2A34 (notify), Glucose Feature 0x2A51 (read), RACP 0x2A52 (write, indicate). Every one
  of them, and the CCCDs, need an authenticated, encrypted link (ATT 0x05 otherwise). RACP
  answers 0x80 while a procedure runs and 0x81 when its indications are off.
- Current Time Service 0x1805: Current Time 0x2A2B (read by anyone; write, by an
  authenticated collector, sets the meter's clock; notify declared, never sent), or with
  the ``date_time_characteristic`` quirk Date Time 0x2A08 in its place.
- Device Information 0x180A: manufacturer, model number, serial number, firmware revision.

Delete stored records works when ``allow_delete`` (the default); without it, delete is
"op code not supported", as on meters that keep their memory.
"""

from __future__ import annotations

from collections.abc import Sequence

from bumble import att, gatt
from bumble.device import Connection

from emulator.ble.peripheral import BlePeripheral
from emulator.ble.quirks import GlsQuirks
from emulator.ble.racp_server import RacpServer
from emulator.ble.uuids import (
    CURRENT_TIME,
    CURRENT_TIME_SERVICE,
    DATE_TIME,
    GLUCOSE_FEATURE,
    GLUCOSE_MEASUREMENT,
    GLUCOSE_MEASUREMENT_CONTEXT,
    GLUCOSE_SERVICE,
    RECORD_ACCESS_CONTROL_POINT,
)
from emulator.faults import FaultPlan
from emulator.model.meter import MeterModel, MeterReading
from emulator.protocols import gls
from emulator.protocols.ble_time import ADJUST_MANUAL, current_time, date_time, parse_date_time

ATT_PROCEDURE_ALREADY_IN_PROGRESS = 0x80
ATT_CCCD_IMPROPERLY_CONFIGURED = 0x81

DEFAULT_NAME = "diahil GLS meter"
DEFAULT_ADDRESS = "F0:F0:F0:F0:F0:01"

NumberedReading = tuple[int, MeterReading]
Props = gatt.Characteristic.Properties


class GlsMeter(BlePeripheral):
    """A BLE glucose meter. ``model`` is its ledger; ``faults`` its fault plan."""

    advertised_service = GLUCOSE_SERVICE

    def __init__(
        self,
        model: MeterModel,
        *,
        name: str = DEFAULT_NAME,
        address: str = DEFAULT_ADDRESS,
        passkey: int | None = None,
        quirks: GlsQuirks | None = None,
        faults: FaultPlan | None = None,
        allow_delete: bool = True,
    ) -> None:
        self.quirks = quirks or GlsQuirks()
        super().__init__(
            name=name,
            address=address,
            passkey=passkey,
            faults=faults,
            connection_interval_ms=self.quirks.connection_interval_ms,
        )
        self._model = model
        self.allow_delete = allow_delete
        self._adjust_reason = 0
        self._racp: RacpServer[NumberedReading] = RacpServer(
            self,
            filters=gls.FILTERS,
            records=self.records,
            key=gls.record_key,
            send=self._send_record,
            delete=self._delete if allow_delete else None,
            newest_first=self.quirks.reversed_sequence,
            busy_error=ATT_PROCEDURE_ALREADY_IN_PROGRESS,
            cccd_error=ATT_CCCD_IMPROPERLY_CONFIGURED,
        )

    @property
    def model(self) -> MeterModel:
        return self._model

    def records(self) -> list[NumberedReading]:
        """What the meter holds, with sequence numbers, oldest first (the GLS ledger)."""
        return self._model.numbered_ledger()

    def ledger_json(self) -> list[dict[str, object]]:
        return [
            {
                "sequence": sequence,
                "device_time": reading.device_time.isoformat(),
                "value_mg_dl": reading.value_mg_dl,
                "flags": sorted(flag.value for flag in reading.flags),
            }
            for sequence, reading in self.records()
        ]

    @property
    def serial_number(self) -> str:
        return self._model.serial_number

    @property
    def model_number(self) -> str:
        return self._model.model_name

    @property
    def firmware_revision(self) -> str:
        return self._model.firmware_version

    # ---- GATT -----------------------------------------------------------------------------

    def _services(self) -> list[gatt.Service]:
        self._measurement = self._secured_characteristic(GLUCOSE_MEASUREMENT, Props.NOTIFY)
        self._context = self._secured_characteristic(GLUCOSE_MEASUREMENT_CONTEXT, Props.NOTIFY)
        feature = self._secured_characteristic(
            GLUCOSE_FEATURE, Props.READ, read=lambda connection: gls.encode_feature()
        )
        racp_point = self._secured_characteristic(
            RECORD_ACCESS_CONTROL_POINT, Props.WRITE | Props.INDICATE, write=self._racp.on_write
        )
        self._racp.characteristic = racp_point
        return [
            gatt.Service(GLUCOSE_SERVICE, [self._measurement, self._context, feature, racp_point])
        ]

    def _extra_services(self) -> list[gatt.Service]:
        clock: gatt.Characteristic[bytes]
        if self.quirks.date_time_characteristic:
            clock = gatt.Characteristic(
                DATE_TIME,
                Props.READ | Props.WRITE,
                gatt.Characteristic.Permissions.READABLE
                | gatt.Characteristic.Permissions.WRITEABLE,
                gatt.CharacteristicValue(read=self._read_date_time, write=self._write_clock),
            )
        else:
            clock = gatt.Characteristic(
                CURRENT_TIME,
                Props.READ | Props.WRITE | Props.NOTIFY,
                gatt.Characteristic.Permissions.READABLE
                | gatt.Characteristic.Permissions.WRITEABLE,
                gatt.CharacteristicValue(read=self._read_current_time, write=self._write_clock),
            )
        return [gatt.Service(CURRENT_TIME_SERVICE, [clock])]

    def _read_current_time(self, connection: Connection) -> bytes:
        return current_time(self._model.clock.now(), self._adjust_reason)

    def _read_date_time(self, connection: Connection) -> bytes:
        return date_time(self._model.clock.now())

    async def _write_clock(self, connection: Connection, value: bytes) -> None:
        await self._require(connection)
        try:
            when = parse_date_time(bytes(value[:7]))
        except ValueError:
            raise att.ATT_Error(att.ErrorCode.OUT_OF_RANGE) from None
        self._model.clock.set(when)
        self._adjust_reason = ADJUST_MANUAL

    # ---- RACP -----------------------------------------------------------------------------

    async def _send_record(
        self, connection: Connection, position: int, record: NumberedReading
    ) -> None:
        sequence, reading = record
        measurement = gls.measurement_of(sequence, reading, self._model.unit)
        await self.notify(connection, self._measurement, measurement)
        context = gls.context_of(sequence, reading)
        if context is not None:
            await self.notify(connection, self._context, context)

    def _delete(self, records: Sequence[NumberedReading]) -> None:
        self._model.delete(sequence for sequence, _ in records)

    def _on_link_lost(self, connection: Connection) -> None:
        self._racp.forget(connection)
