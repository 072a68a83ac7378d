"""An emulated Bluetooth insulin pump: the Insulin Delivery Service on a ``PumpModel``.

Specification: Insulin Delivery Service 1.0.x (values and requests in
``emulator.protocols.ids``), Current Time Service, Device Information Service;
../shared/specs/ble-medical-services.md; docs/protocols/ids.md.

GATT database, every IDS characteristic and CCCD behind the security gate (ATT 0x05 until
the link is encrypted with an authenticated key: passkey pairing, bonding, as the meter):

- IDD Status Changed 0x2B20 (read, indicate): what changed since the collector last reset
  it (history event recorded, from the start);
- IDD Status 0x2B21 (read, indicate): therapy control state, operational state, reservoir
  remaining, reservoir attached;
- IDD Annunciation Status 0x2B22 (read, indicate): the newest pending annunciation, if any;
- IDD Features 0x2B23 (read): E2E protection (with ``e2e=True``), basal, TBR absolute and
  relative, fast/extended/multiwave boluses, activation type, multiple bonds, ISF, I:CHO
  and target range templates; insulin concentration 100 IU/mL;
- IDD Status Reader Control Point 0x2B24 (write, indicate): reset status, get active bolus
  IDs, get active basal rate delivery, get total daily insulin status;
- IDD Command Control Point 0x2B25 (write, indicate) with IDD Command Data 0x2B26
  (notify): read basal rate / ISF / I:CHO ratio / target glucose range profile templates and
  get activated profile templates; every other op code (delivery commands: this pump is read
  only to a collector) answers "op code not supported";
- IDD Record Access Control Point 0x2B27 (write, indicate) with IDD History Data 0x2B28
  (notify): report records (all, first, last, <=, >=, range by record number, optionally
  restricted to reference time events or to the others), report number of records, abort;
  delete answers "op code not supported" (the pump keeps its history).
- Current Time Service 0x1805: Current Time 0x2A2B (read, open): the pump's displayed time.

Writes to a control point are checked in this order: security (0x05), its indications on
(0xFD, and Command Data / History Data notifications for CCP / RACP), the E2E-CRC with E2E
protection on (missing 0x80, wrong 0x81), a procedure running on it (0xFE; an abort is
always taken on the RACP).

Faults: ``DisconnectAfterRecord(n)`` drops the link after the n-th history event of a
report; ``DropIndication("racp")`` swallows the RACP's final indication;
``CorruptE2ECrc(record=n)`` sends history event n of a report with a wrong CRC (E2E on);
``RejectPairing`` as for every peripheral.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from bumble import att, gatt
from bumble.device import Connection

from emulator.ble.peripheral import BlePeripheral
from emulator.ble.uuids import (
    CURRENT_TIME,
    CURRENT_TIME_SERVICE,
    IDD_ANNUNCIATION_STATUS,
    IDD_COMMAND_CONTROL_POINT,
    IDD_COMMAND_DATA,
    IDD_FEATURES,
    IDD_HISTORY_DATA,
    IDD_RECORD_ACCESS_CONTROL_POINT,
    IDD_STATUS,
    IDD_STATUS_CHANGED,
    IDD_STATUS_READER_CONTROL_POINT,
    INSULIN_DELIVERY_SERVICE,
)
from emulator.faults import FaultPlan
from emulator.model.pump import HistoryEvent, ProfileTemplate, PumpModel
from emulator.protocols import ids
from emulator.protocols.ble_time import current_time
from emulator.protocols.e2e_crc import CrcError

DEFAULT_NAME = "diahil IDS pump"
DEFAULT_ADDRESS = "F0:F0:F0:F0:F0:03"

Props = gatt.Characteristic.Properties


class IdsPump(BlePeripheral):
    """A BLE insulin pump. ``model`` holds its history and ledger; ``faults`` its fault plan."""

    advertised_service = INSULIN_DELIVERY_SERVICE

    def __init__(
        self,
        model: PumpModel,
        *,
        name: str = DEFAULT_NAME,
        address: str = DEFAULT_ADDRESS,
        passkey: int | None = None,
        e2e: bool = False,
        faults: FaultPlan | None = None,
        connection_interval_ms: float = 0.0,
    ) -> None:
        super().__init__(
            name=name,
            address=address,
            passkey=passkey,
            faults=faults,
            connection_interval_ms=connection_interval_ms,
        )
        self._model = model
        self.e2e = e2e
        self.status_changed = int(ids.StatusChanged.HISTORY_EVENT_RECORDED) if model.history else 0
        self._counters: dict[str, ids.Counter] = {}
        self._busy: dict[str, set[Connection]] = {"racp": set(), "ccp": set(), "srcp": set()}
        self._racp_tasks: dict[Connection, Any] = {}

    @property
    def model(self) -> PumpModel:
        return self._model

    def records(self) -> list[HistoryEvent]:
        return self._model.events()

    def ledger_json(self) -> list[dict[str, object]]:
        """The history events (what ``GET /ledger`` serves), oldest first."""
        return [
            {
                "record_number": event.record_number,
                "utc": event.utc.isoformat(),
                "relative_offset": event.relative_offset,
                "event": type(event.payload).__name__,
                **{k: _json(v) for k, v in dataclasses.asdict(event.payload).items()},
            }
            for event in self.records()
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

    # ---- E2E -------------------------------------------------------------------------------

    def _counter(self, name: str) -> int | None:
        if not self.e2e:
            return None
        return self._counters.setdefault(name, ids.Counter()).next()

    def _unprotect(self, value: bytes) -> bytes:
        try:
            return ids.unprotect(value, self.e2e)
        except CrcError as error:
            code = ids.ATT_MISSING_CRC if error.missing else ids.ATT_INVALID_CRC
            raise att.ATT_Error(code) from None

    # ---- GATT ------------------------------------------------------------------------------

    def _services(self) -> list[gatt.Service]:
        read_indicate = Props.READ | Props.INDICATE
        self._status_changed = self._secured_characteristic(
            IDD_STATUS_CHANGED, read_indicate, read=self._read_status_changed
        )
        self._status = self._secured_characteristic(
            IDD_STATUS, read_indicate, read=self._read_status
        )
        self._annunciation = self._secured_characteristic(
            IDD_ANNUNCIATION_STATUS, read_indicate, read=self._read_annunciation
        )
        features = self._secured_characteristic(
            IDD_FEATURES,
            Props.READ,
            read=lambda c: ids.encode_features(
                e2e=self.e2e, concentration=self._model.settings.insulin_concentration
            ),
        )
        write_indicate = Props.WRITE | Props.INDICATE
        self._srcp = self._secured_characteristic(
            IDD_STATUS_READER_CONTROL_POINT, write_indicate, write=self._write_srcp
        )
        self._ccp = self._secured_characteristic(
            IDD_COMMAND_CONTROL_POINT, write_indicate, write=self._write_ccp
        )
        self._command_data = self._secured_characteristic(IDD_COMMAND_DATA, Props.NOTIFY)
        self._racp = self._secured_characteristic(
            IDD_RECORD_ACCESS_CONTROL_POINT, write_indicate, write=self._write_racp
        )
        self._history = self._secured_characteristic(IDD_HISTORY_DATA, Props.NOTIFY)
        characteristics = [
            self._status_changed,
            self._status,
            self._annunciation,
            features,
            self._srcp,
            self._ccp,
            self._command_data,
            self._racp,
            self._history,
        ]
        return [gatt.Service(INSULIN_DELIVERY_SERVICE, characteristics)]

    def _extra_services(self) -> list[gatt.Service]:
        clock: gatt.Characteristic[bytes] = gatt.Characteristic(
            CURRENT_TIME,
            Props.READ,
            gatt.Characteristic.Permissions.READABLE,
            gatt.CharacteristicValue(read=self._read_clock),
        )
        return [gatt.Service(CURRENT_TIME_SERVICE, [clock])]

    def _read_clock(self, connection: Connection) -> bytes:
        return current_time(self._model.clock_now())

    def _read_status_changed(self, connection: Connection) -> bytes:
        return ids.encode_status_changed(self.status_changed, self._counter("status_changed"))

    def _read_status(self, connection: Connection) -> bytes:
        model = self._model
        return ids.encode_status(
            model.therapy_state,
            model.operational_state,
            model.reservoir_remaining,
            model.reservoir_attached,
            self._counter("status"),
        )

    def _read_annunciation(self, connection: Connection) -> bytes:
        pending = self._model.pending_annunciation
        return ids.encode_annunciation_status(pending, self._counter("annunciation"))

    # ---- control points: common checks ------------------------------------------------------

    def _check_write(
        self,
        connection: Connection,
        point: gatt.Characteristic[bytes],
        data: gatt.Characteristic[bytes] | None,
        value: bytes,
        name: str,
        abort: Callable[[bytes], bool] = lambda payload: False,
    ) -> bytes:
        if not self.subscribed(connection, point, indicate=True):
            raise att.ATT_Error(ids.ATT_CCCD_IMPROPERLY_CONFIGURED)
        if data is not None and not self.subscribed(connection, data, indicate=False):
            raise att.ATT_Error(ids.ATT_CCCD_IMPROPERLY_CONFIGURED)
        payload = self._unprotect(value)
        if connection in self._busy[name] and not abort(payload):
            raise att.ATT_Error(ids.ATT_PROCEDURE_ALREADY_IN_PROGRESS)
        return payload

    async def _answer(
        self, connection: Connection, point: gatt.Characteristic[bytes], name: str, value: bytes
    ) -> None:
        def finished() -> None:
            self._busy[name].discard(connection)

        try:
            if name == "racp" and self.faults.drop_indication("racp"):
                return
            await self.indicate(connection, point, value, finished)
        finally:
            finished()

    # ---- Status Reader Control Point -------------------------------------------------------

    async def _write_srcp(self, connection: Connection, value: bytes) -> None:
        payload = self._check_write(connection, self._srcp, None, value, "srcp")
        self._busy["srcp"].add(connection)
        self.spawn(self._answer(connection, self._srcp, "srcp", self._srcp_answer(payload)))

    def _srcp_answer(self, payload: bytes) -> bytes:
        counter = self._counter("srcp")
        if len(payload) < 2:
            return ids.srcp_response(0, ids.CcpCode.OP_CODE_NOT_SUPPORTED, counter)
        op, operand = int.from_bytes(payload[:2], "little"), payload[2:]
        code = ids.CcpCode
        if op == ids.SrcpOp.RESET_STATUS:
            if len(operand) != 2:
                return ids.srcp_response(op, code.INVALID_OPERAND, counter)
            self.status_changed &= ~int.from_bytes(operand, "little")
            return ids.srcp_response(op, code.SUCCESS, counter)
        if operand:
            return ids.srcp_response(op, code.INVALID_OPERAND, counter)
        if op == ids.SrcpOp.GET_ACTIVE_BOLUS_IDS:
            return ids.active_bolus_ids([], counter)
        if op == ids.SrcpOp.GET_ACTIVE_BASAL_RATE_DELIVERY:
            model = self._model
            return ids.active_basal_delivery(model.active_template, model.current_rate(), counter)
        if op == ids.SrcpOp.GET_TOTAL_DAILY_INSULIN_STATUS:
            bolus, basal = self._model.today_totals()
            return ids.total_daily_insulin(bolus, basal, counter)
        return ids.srcp_response(op, code.OP_CODE_NOT_SUPPORTED, counter)

    # ---- Command Control Point ---------------------------------------------------------------

    async def _write_ccp(self, connection: Connection, value: bytes) -> None:
        payload = self._check_write(connection, self._ccp, self._command_data, value, "ccp")
        self._busy["ccp"].add(connection)
        self.spawn(self._ccp_procedure(connection, payload))

    async def _ccp_procedure(self, connection: Connection, payload: bytes) -> None:
        try:
            data, answer = self._ccp_answer(payload)
            for item in data:
                await self.notify(
                    connection, self._command_data, ids.protect(item, self._counter("command_data"))
                )
        except BaseException:
            self._busy["ccp"].discard(connection)
            raise
        await self._answer(connection, self._ccp, "ccp", answer)

    def _ccp_answer(self, payload: bytes) -> tuple[list[bytes], bytes]:
        code = ids.CcpCode
        if len(payload) < 2:
            return [], ids.ccp_response(0, code.OP_CODE_NOT_SUPPORTED, self._counter("ccp"))
        op, operand = int.from_bytes(payload[:2], "little"), payload[2:]
        settings = self._model.settings
        reads: dict[int, tuple[ids.CcpOp, tuple[ProfileTemplate, ...]]] = {
            ids.CcpOp.READ_BASAL_TEMPLATE: (
                ids.CcpOp.READ_BASAL_TEMPLATE_RESPONSE,
                settings.basal_templates,
            ),
            ids.CcpOp.READ_ISF_TEMPLATE: (
                ids.CcpOp.READ_ISF_TEMPLATE_RESPONSE,
                settings.isf_templates,
            ),
            ids.CcpOp.READ_I2CHO_TEMPLATE: (
                ids.CcpOp.READ_I2CHO_TEMPLATE_RESPONSE,
                settings.icr_templates,
            ),
            ids.CcpOp.READ_TARGET_TEMPLATE: (
                ids.CcpOp.READ_TARGET_TEMPLATE_RESPONSE,
                settings.target_templates,
            ),
        }
        if op in reads:
            response_op, templates = reads[op]
            if len(operand) != 1:
                return [], ids.ccp_response(op, code.INVALID_OPERAND, self._counter("ccp"))
            found = [t for t in templates if t.number == operand[0]]
            if not found:
                return [], ids.ccp_response(op, code.PARAMETER_OUT_OF_RANGE, self._counter("ccp"))
            data = ids.template_responses(response_op, found[0])
            return data, ids.ccp_response(op, code.SUCCESS, self._counter("ccp"))
        if op == ids.CcpOp.GET_ACTIVATED_TEMPLATES:
            if operand:
                return [], ids.ccp_response(op, code.INVALID_OPERAND, self._counter("ccp"))
            data = [ids.activated_templates(self._model.active_template)]
            return data, ids.ccp_response(op, code.SUCCESS, self._counter("ccp"))
        return [], ids.ccp_response(op, code.OP_CODE_NOT_SUPPORTED, self._counter("ccp"))

    # ---- IDD Record Access Control Point -------------------------------------------------------

    async def _write_racp(self, connection: Connection, value: bytes) -> None:
        payload = self._check_write(
            connection,
            self._racp,
            self._history,
            value,
            "racp",
            abort=lambda p: p[:1] == bytes([ids.RacpOp.ABORT]),
        )
        running = self._racp_tasks.get(connection)
        if running is not None and not running.done():
            running.cancel()
        self._busy["racp"].add(connection)
        self._racp_tasks[connection] = self.spawn(self._racp_procedure(connection, payload))

    async def _racp_procedure(self, connection: Connection, payload: bytes) -> None:
        code = ids.RacpCode
        try:
            request = ids.parse_racp(payload)
        except ids.RacpRejected as rejected:
            answer = ids.racp_response(rejected.op, rejected.code, self._counter("racp"))
            await self._answer(connection, self._racp, "racp", answer)
            return
        op = request.op
        if op is ids.RacpOp.ABORT:
            answer = ids.racp_response(op, code.SUCCESS, self._counter("racp"))
            await self._answer(connection, self._racp, "racp", answer)
            return
        selected = ids.select_events(request, self.records())
        if op is ids.RacpOp.REPORT_NUMBER:
            answer = ids.racp_number(len(selected), self._counter("racp"))
            await self._answer(connection, self._racp, "racp", answer)
            return
        if not selected:
            answer = ids.racp_response(op, code.NO_RECORDS_FOUND, self._counter("racp"))
            await self._answer(connection, self._racp, "racp", answer)
            return
        for position, event in enumerate(selected, start=1):
            corrupt = self.e2e and self.faults.corrupt_e2e_crc(position)
            value = ids.encode_event(event, e2e=self.e2e, corrupt=corrupt)
            await self.notify(connection, self._history, value)
            if self.faults.disconnect_after_record(position):
                self._busy["racp"].discard(connection)
                await self.drop_link(connection)
                return
        answer = ids.racp_response(op, code.SUCCESS, self._counter("racp"))
        await self._answer(connection, self._racp, "racp", answer)

    def _on_link_lost(self, connection: Connection) -> None:
        task = self._racp_tasks.pop(connection, None)
        if task is not None:
            task.cancel()
        for busy in self._busy.values():
            busy.discard(connection)


def _json(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
