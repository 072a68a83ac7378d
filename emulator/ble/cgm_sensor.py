"""An emulated Bluetooth CGM: the Continuous Glucose Monitoring Service on a ``CgmModel``.

Specification: Continuous Glucose Monitoring Service / Profile (values in
``emulator.protocols.cgms``, RACP in ``emulator.protocols.racp`` and
``emulator.ble.racp_server``), Device Information Service;
../shared/specs/ble-medical-services.md.

GATT database, every CGMS characteristic and CCCD behind the security gate (ATT 0x05):

- CGM Measurement 0x2AA7 (notify): the records a RACP report sends;
- CGM Feature 0x2AA8 (read): trend, quality, LO/HI, low battery, malfunction, multiple
  bonds and sessions; E2E-CRC when the sensor was built with ``e2e_crc=True``;
- CGM Status 0x2AA9 (read): minutes since the session start, session-stopped and
  battery-low bits;
- CGM Session Start Time 0x2AAA (read, write): the session's start in device local time
  with time zone and DST; a collector writes its current local time, zone and DST, and the
  sensor moves the session start to match (see ``CgmModel.set_session_start_time``);
- CGM Session Run Time 0x2AAB (read): the session's expected length in hours;
- RACP 0x2A52 (write, indicate): report, number of records and abort by time offset (filter
  type 1); delete is not offered (op code not supported);
- CGM Specific Ops Control Point 0x2AAC (write, indicate): start session (26), stop session
  (27), set (1) and get (2) communication interval; other op codes: op code not supported.

With E2E-CRC on, every value the sensor sends carries a CRC and SOCP and Session Start Time
writes must carry one: missing -> ATT 0x80, wrong -> ATT 0x81. Busy RACP/SOCP -> 0xFE;
indications off -> 0xFD (CGMS uses the common profile error codes; 0x80/0x81 are CRC
errors here).
"""

from __future__ import annotations

from bumble import att, gatt
from bumble.device import Connection

from emulator.ble.peripheral import BlePeripheral
from emulator.ble.quirks import CgmQuirks
from emulator.ble.racp_server import RacpServer
from emulator.ble.uuids import (
    CGM_FEATURE,
    CGM_MEASUREMENT,
    CGM_SERVICE,
    CGM_SESSION_RUN_TIME,
    CGM_SESSION_START_TIME,
    CGM_SPECIFIC_OPS_CONTROL_POINT,
    CGM_STATUS,
    RECORD_ACCESS_CONTROL_POINT,
)
from emulator.faults import FaultPlan
from emulator.model.cgm import CgmModel, CgmRecord, SessionRunning
from emulator.protocols import cgms
from emulator.protocols.e2e_crc import CrcError

DEFAULT_NAME = "diahil CGM"
DEFAULT_ADDRESS = "F0:F0:F0:F0:F0:02"

Props = gatt.Characteristic.Properties
DEFAULT_COMMUNICATION_INTERVAL_MINUTES = 5


class CgmSensor(BlePeripheral):
    """A BLE CGM sensor. ``model`` is its ledger; ``faults`` its fault plan."""

    advertised_service = CGM_SERVICE

    def __init__(
        self,
        model: CgmModel,
        *,
        name: str = DEFAULT_NAME,
        address: str = DEFAULT_ADDRESS,
        passkey: int | None = None,
        e2e_crc: bool = False,
        quirks: CgmQuirks | None = None,
        faults: FaultPlan | None = None,
    ) -> None:
        self.quirks = quirks or CgmQuirks()
        super().__init__(
            name=name,
            address=address,
            passkey=passkey,
            faults=faults,
            connection_interval_ms=self.quirks.connection_interval_ms,
        )
        self._model = model
        self.e2e_crc = e2e_crc
        self.communication_interval_minutes = DEFAULT_COMMUNICATION_INTERVAL_MINUTES
        self._socp_busy: set[Connection] = set()
        self._racp: RacpServer[CgmRecord] = RacpServer(
            self,
            filters=cgms.FILTERS,
            records=self._model.ledger,
            key=cgms.record_key,
            send=self._send_record,
            newest_first=self.quirks.reversed_sequence,
            busy_error=cgms.ATT_PROCEDURE_ALREADY_IN_PROGRESS,
            cccd_error=cgms.ATT_CCCD_IMPROPERLY_CONFIGURED,
        )

    @property
    def model(self) -> CgmModel:
        return self._model

    def records(self) -> list[CgmRecord]:
        """What the sensor holds now (the current session), by time offset."""
        return self._model.ledger()

    def ledger_json(self) -> list[dict[str, object]]:
        return [
            {
                "session_start": record.session_start.isoformat(),
                "time_zone_minutes": record.time_zone_minutes,
                "time_offset": record.time_offset,
                "device_time": record.device_time.isoformat(),
                "value_mg_dl": record.value_mg_dl,
                "trend": record.trend,
                "quality": record.quality,
                "status": record.status,
            }
            for record in self.records()
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
        self._measurement = self._secured_characteristic(CGM_MEASUREMENT, Props.NOTIFY)
        feature = self._secured_characteristic(
            CGM_FEATURE, Props.READ, read=lambda c: cgms.encode_feature(e2e=self.e2e_crc)
        )
        status = self._secured_characteristic(CGM_STATUS, Props.READ, read=self._read_status)
        start_time = self._secured_characteristic(
            CGM_SESSION_START_TIME,
            Props.READ | Props.WRITE,
            read=self._read_start_time,
            write=self._write_start_time,
        )
        run_time = self._secured_characteristic(
            CGM_SESSION_RUN_TIME, Props.READ, read=self._read_run_time
        )
        racp_point = self._secured_characteristic(
            RECORD_ACCESS_CONTROL_POINT, Props.WRITE | Props.INDICATE, write=self._racp.on_write
        )
        self._racp.characteristic = racp_point
        self._socp = self._secured_characteristic(
            CGM_SPECIFIC_OPS_CONTROL_POINT, Props.WRITE | Props.INDICATE, write=self._write_socp
        )
        characteristics = [self._measurement, feature, status, start_time, run_time]
        return [gatt.Service(CGM_SERVICE, [*characteristics, racp_point, self._socp])]

    def _status_bits(self) -> int:
        bits = 0
        if not self._model.session_running:
            bits |= cgms.Status.SESSION_STOPPED
        if self._model.battery.is_low:
            bits |= cgms.Status.BATTERY_LOW
        return bits

    def _read_status(self, connection: Connection) -> bytes:
        offset = min(self._model.time_offset_now(), 0xFFFF)
        return cgms.encode_status(offset, self._status_bits(), e2e=self.e2e_crc)

    def _read_start_time(self, connection: Connection) -> bytes:
        session = self._model.current_session()
        return cgms.encode_session_start_time(
            None if session is None else session.local_start,
            self._model.time_zone_minutes,
            self._model.dst_minutes,
            e2e=self.e2e_crc,
        )

    async def _write_start_time(self, connection: Connection, value: bytes) -> None:
        try:
            when, zone, dst = cgms.parse_session_start_time(value, e2e=self.e2e_crc)
        except CrcError as error:
            raise att.ATT_Error(_crc_error(error)) from None
        except ValueError:
            raise att.ATT_Error(cgms.ATT_OUT_OF_RANGE) from None
        self._model.set_session_start_time(when, zone, dst)

    def _read_run_time(self, connection: Connection) -> bytes:
        hours = int(self._model.session_length.total_seconds() // 3600)
        return cgms.encode_run_time(min(hours, 0xFFFF), e2e=self.e2e_crc)

    # ---- SOCP -----------------------------------------------------------------------------

    async def _write_socp(self, connection: Connection, value: bytes) -> None:
        if not self.subscribed(connection, self._socp, indicate=True):
            raise att.ATT_Error(cgms.ATT_CCCD_IMPROPERLY_CONFIGURED)
        try:
            request = cgms.parse_socp(value, e2e=self.e2e_crc)
        except CrcError as error:
            raise att.ATT_Error(_crc_error(error)) from None
        if connection in self._socp_busy:
            raise att.ATT_Error(cgms.ATT_PROCEDURE_ALREADY_IN_PROGRESS)
        self._socp_busy.add(connection)
        self.spawn(self._socp_procedure(connection, request))

    async def _socp_procedure(self, connection: Connection, request: cgms.SocpRequest) -> None:
        def finished() -> None:
            # Done once answered: the collector may write again as soon as it sees it.
            self._socp_busy.discard(connection)

        try:
            answer = self._socp_answer(request)
            if self.faults.drop_indication("socp"):
                return
            await self.indicate(connection, self._socp, answer, finished)
        finally:
            finished()

    def _socp_answer(self, request: cgms.SocpRequest) -> bytes:
        op, operand, e2e = request.op, request.operand, self.e2e_crc
        code = cgms.SocpResponse
        if op == cgms.SocpOp.START_SESSION:
            if operand:
                return cgms.socp_response(op, code.INVALID_OPERAND, e2e=e2e)
            try:
                self._model.start_session()
            except SessionRunning:
                return cgms.socp_response(op, code.PROCEDURE_NOT_COMPLETED, e2e=e2e)
            return cgms.socp_response(op, code.SUCCESS, e2e=e2e)
        if op == cgms.SocpOp.STOP_SESSION:
            if operand:
                return cgms.socp_response(op, code.INVALID_OPERAND, e2e=e2e)
            self._model.stop_session()
            return cgms.socp_response(op, code.SUCCESS, e2e=e2e)
        if op == cgms.SocpOp.SET_COMMUNICATION_INTERVAL:
            if len(operand) != 1:
                return cgms.socp_response(op, code.INVALID_OPERAND, e2e=e2e)
            minutes = operand[0]
            self.communication_interval_minutes = (
                DEFAULT_COMMUNICATION_INTERVAL_MINUTES if minutes == 0xFF else minutes
            )
            return cgms.socp_response(op, code.SUCCESS, e2e=e2e)
        if op == cgms.SocpOp.GET_COMMUNICATION_INTERVAL:
            if operand:
                return cgms.socp_response(op, code.INVALID_OPERAND, e2e=e2e)
            return cgms.communication_interval_response(
                self.communication_interval_minutes, e2e=e2e
            )
        return cgms.socp_response(op, code.OP_CODE_NOT_SUPPORTED, e2e=e2e)

    # ---- RACP -----------------------------------------------------------------------------

    async def _send_record(self, connection: Connection, position: int, record: CgmRecord) -> None:
        corrupt = self.e2e_crc and self.faults.corrupt_e2e_crc(position)
        value = cgms.measurement_of(record, e2e=self.e2e_crc, corrupt_crc=corrupt)
        await self.notify(connection, self._measurement, value)

    def _on_link_lost(self, connection: Connection) -> None:
        self._racp.forget(connection)
        self._socp_busy.discard(connection)


def _crc_error(error: CrcError) -> int:
    return cgms.ATT_MISSING_CRC if error.missing else cgms.ATT_INVALID_CRC
