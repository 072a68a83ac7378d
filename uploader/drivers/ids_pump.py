"""Driver for Bluetooth insulin pumps speaking the Insulin Delivery Service (IDS 0x183A).

Supported: pumps that implement the Bluetooth SIG Insulin Delivery Service 1.0 (the protocol
Tidepool Loop uses for interoperable pumps), over any bleak stack.

Supported features:
    - pairing (LE Secure Connections, passkey entry) and bonded reconnects;
    - identify: Device Information, IDD Features (E2E protection, insulin concentration),
      IDD Status (therapy state, reservoir), the pump's clock (Current Time, when exposed);
    - settings through the Command Control Point and Command Data: basal rate profile
      templates (and which one is active), insulin sensitivity, insulin-to-carb ratio and
      target glucose range templates -> Tidepool ``pumpSettings``;
    - history through the IDD Record Access Control Point and History Data, incrementally by
      record number: only records after the last verified one (the cursor also keeps the time
      base in force and the basal interval still running, see ``ids_history``); multi-part
      events joined; Reference Time events turned into device time and clock changes;
    - E2E protection (CRC and counter) checked on every value when the pump supports it: a
      mismatch stops the upload with ``DataIntegrityError`` (nothing of the read is uploaded).

Not supported: settings history (only the templates in force at upload are read; basal
schedule edits recorded in history are not replayed); bolus calculator records; setting the
pump's clock (the pump's own app does).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from uploader.drivers.ble_common import (
    BleDriver,
    read_clock,
    read_device_information,
    write_racp,
)
from uploader.drivers.ids_history import HistoryError, HistoryInterpreter, HistoryState
from uploader.errors import DataIntegrityError, DeviceCommunicationError, ProtocolError
from uploader.pairing import PasskeyProvider
from uploader.progress import Progress
from uploader.protocols import ids
from uploader.pump_records import PumpSettingsSnapshot, TimeBlock
from uploader.records import DeviceData, DeviceIdentity
from uploader.transports.ble import Advertisement, BleLink, BleStack

MS_PER_MIN = 60_000
TEMPLATE_READS: tuple[tuple[str, ids.TemplateType, ids.CommandOp, int, int], ...] = (
    # kind, template type, read op, SFLOATs per block, blocks per response
    ("basal", ids.TemplateType.BASAL_RATE, ids.CommandOp.READ_BASAL_RATE_TEMPLATE, 1, 3),
    ("isf", ids.TemplateType.ISF, ids.CommandOp.READ_ISF_TEMPLATE, 1, 3),
    ("carb", ids.TemplateType.I2CHO, ids.CommandOp.READ_I2CHO_TEMPLATE, 1, 3),
    ("target", ids.TemplateType.TARGET_RANGE, ids.CommandOp.READ_TARGET_RANGE_TEMPLATE, 2, 2),
)
RESPONSE_OF = {
    ids.CommandOp.READ_BASAL_RATE_TEMPLATE: ids.CommandOp.READ_BASAL_RATE_TEMPLATE_RESPONSE,
    ids.CommandOp.READ_ISF_TEMPLATE: ids.CommandOp.READ_ISF_TEMPLATE_RESPONSE,
    ids.CommandOp.READ_I2CHO_TEMPLATE: ids.CommandOp.READ_I2CHO_TEMPLATE_RESPONSE,
    ids.CommandOp.READ_TARGET_RANGE_TEMPLATE: ids.CommandOp.READ_TARGET_RANGE_TEMPLATE_RESPONSE,
}
FEATURE_FOR_KIND = {
    "basal": ids.FEATURE_BASAL_RATE,
    "isf": ids.FEATURE_ISF_PROFILE,
    "carb": ids.FEATURE_I2CHO_PROFILE,
    "target": ids.FEATURE_TARGET_RANGE_PROFILE,
}


class IdsPumpDriver(BleDriver):
    """An IDS insulin pump found by a Bluetooth scan (see the module docstring)."""

    service = ids.SERVICE
    compat_family = "ids-pump"
    clock_hint = (
        "An insulin pump's clock is set on the pump (or in its app): the uploader places "
        "every record by the pump's own record of its clock changes."
    )

    def __init__(
        self,
        stack: BleStack,
        target: Advertisement,
        passkey: PasskeyProvider | None,
        timeout_s: float = 10.0,
    ) -> None:
        super().__init__(stack, target, passkey, timeout_s)
        self._features: ids.Features | None = None
        self._status: ids.Status | None = None
        self._counter = 0
        self._counters: dict[str, ids.CounterCheck] = {}

    async def identify(self) -> DeviceIdentity:
        link = self._connected()
        info = await read_device_information(link)
        try:
            self._features = ids.parse_features(await link.read(ids.FEATURES))
            if link.has(ids.STATUS):
                value = await link.read(ids.STATUS)
                self._status = ids.parse_status(value, self._features.e2e)
        except ids.IntegrityError as exc:
            raise DataIntegrityError(f"The pump's {exc}.") from None
        except ids.IdsFormatError as exc:
            raise ProtocolError(f"The pump sent an unreadable value: {exc}.") from None
        self._identity = info.identity(("insulin-pump",), await read_clock(link))
        return self._identity

    @property
    def _e2e(self) -> bool:
        return self._features is not None and self._features.e2e

    async def fetch(self, progress: Progress, since: str | None = None) -> DeviceData:
        link = self._require()
        assert self._identity is not None
        for uuid in (ids.COMMAND_CP, ids.COMMAND_DATA, ids.RACP, ids.HISTORY_DATA):
            if link.has(uuid):
                await link.subscribe(uuid)
        try:
            settings = await self._read_settings(link)
            state = HistoryState.from_cursor(since)
            data = DeviceData(identity=self._identity)
            records = await self._read_history(link, state, progress)
            if not records and state.record is not None:
                newest = await self._newest_record(link)
                if newest is not None and newest < state.record:
                    data.notes.append(
                        f"The pump's history is numbered from {newest} down again (it was "
                        "reset or replaced): its whole history was read; the cloud keeps one "
                        "copy of each record."
                    )
                    state = HistoryState(settings=state.settings)
                    records = await self._read_history(link, state, progress)
            joined = ids.join_events(records)
            interpreter = HistoryInterpreter(state, settings)
            interpreter.begin(joined.events)
            for event in joined.events:
                interpreter.feed(event)
        except ids.IntegrityError as exc:
            raise DataIntegrityError(
                f"The pump's data failed its integrity check: {exc}. Nothing of this read was "
                "uploaded."
            ) from None
        except (ids.IdsFormatError, HistoryError) as exc:
            raise ProtocolError(f"The pump's history could not be read: {exc}.") from None
        data.pump = interpreter.history
        data.pump.settings, data.pump.settings_changed = _dated_settings(
            settings, state, self._identity.clock
        )
        data.time_changes = interpreter.time_changes
        data.bootstrapped_before = state.clock_changed
        data.notes.extend(interpreter.notes)
        if self._status is not None and self._status.therapy != ids.TherapyState.RUN:
            data.notes.append("The pump's insulin delivery is suspended now.")
        data.cursor = state.to_cursor()
        return data

    # -- control points ------------------------------------------------------------------

    def _next_counter(self) -> int:
        self._counter = self._counter % 255 + 1
        return self._counter

    def _unwrap(self, uuid: str, value: bytes, what: str) -> ids.CpResponse:
        response = ids.parse_cp(value, self._e2e, what)
        if self._e2e:
            self._counters.setdefault(uuid, ids.CounterCheck(what)).check(ids.e2e_counter(value))
        return response

    async def _write(self, uuid: str, body: bytes) -> None:
        request = ids.protect(body, self._e2e, self._next_counter())
        await write_racp(self._require(), uuid, request)

    async def _command(self, op: ids.CommandOp, operand: bytes = b"") -> list[ids.CpResponse]:
        """Run one Command Control Point procedure: the response values (from Command Data
        or the control point itself) until the procedure ends. A refused request raises
        ``_Refused``."""
        link = self._require()
        await self._write(ids.COMMAND_CP, ids.cp_request(op, operand))
        answers: list[ids.CpResponse] = []
        while True:
            uuid, value = await link.next_event(self.timeout_s, "reading the pump's settings")
            if uuid == ids.COMMAND_DATA:
                answers.append(self._unwrap(uuid, value, "IDD Command Data"))
                continue
            if uuid != ids.COMMAND_CP:
                continue
            response = self._unwrap(uuid, value, "IDD Command Control Point value")
            if response.op != ids.CommandOp.RESPONSE_CODE:
                answers.append(response)
                return answers
            request_op, code = response.response_code()
            if request_op != op:
                continue
            if code != ids.CP_SUCCESS:
                raise _Refused(code)
            return answers

    async def _read_settings(self, link: BleLink) -> PumpSettingsSnapshot | None:
        features = self._features
        if features is None or not link.has(ids.COMMAND_CP) or not link.has(ids.COMMAND_DATA):
            return None
        try:
            answers = await self._command(ids.CommandOp.GET_ACTIVATED_PROFILE_TEMPLATES)
            active_raw = _one(answers, ids.CommandOp.GET_ACTIVATED_PROFILE_TEMPLATES_RESPONSE)
            activated = ids.parse_activated_templates(active_raw) if active_raw else {}
            read: dict[str, dict[int, tuple[TimeBlock, ...]]] = {}
            for kind, template_type, read_op, per_block, max_blocks in TEMPLATE_READS:
                read[kind] = {}
                if not features.flags & FEATURE_FOR_KIND[kind]:
                    continue
                for number in await self._template_numbers(template_type, activated):
                    try:
                        answers = await self._command(read_op, bytes([number]))
                    except _Refused as refused:
                        if refused.code == OUT_OF_RANGE:
                            continue  # no such template
                        raise
                    chunks = [
                        ids.parse_template_chunk(a.operand, per_block, max_blocks)
                        for a in answers
                        if a.op == RESPONSE_OF[read_op]
                    ]
                    blocks = _blocks(chunks)
                    if blocks:
                        read[kind][number] = blocks
        except _Refused as refused:
            raise ProtocolError(f"The pump refused to report its settings ({refused}).") from None
        active = {kind: activated[t] for kind, t, *_ in TEMPLATE_READS if t in activated}
        if not read["basal"]:
            return None
        return PumpSettingsSnapshot(
            device_time=datetime.min,  # set once the history says what time it is
            basal_schedules=read["basal"],
            active_basal=active.get("basal"),
            carb_ratios=read["carb"],
            insulin_sensitivities=read["isf"],
            bg_targets=read["target"],
            active=active,
        )

    async def _template_numbers(
        self, template_type: ids.TemplateType, activated: dict[int, int]
    ) -> list[int]:
        """The configured templates of a type (Get Template Status and Details), or, from a
        pump without that procedure, every number up to the first one it does not know
        past the active one."""
        try:
            answers = await self._command(
                ids.CommandOp.GET_TEMPLATE_STATUS_AND_DETAILS, bytes([template_type])
            )
        except _Refused as refused:
            if refused.code != NOT_SUPPORTED:
                raise
            active = activated.get(template_type, 1)
            numbers = []
            for number in range(1, MAX_TEMPLATES + 1):
                if number > active and not await self._template_exists(template_type, number):
                    break
                numbers.append(number)
            return numbers
        details = _one(answers, ids.CommandOp.GET_TEMPLATE_STATUS_AND_DETAILS_RESPONSE)
        return list(ids.parse_template_details(details).configured) if details else []

    async def _template_exists(self, template_type: ids.TemplateType, number: int) -> bool:
        op = next(read_op for _, t, read_op, _, _ in TEMPLATE_READS if t == template_type)
        try:
            await self._command(op, bytes([number]))
        except _Refused as refused:
            if refused.code == OUT_OF_RANGE:
                return False
            raise
        return True

    async def _read_history(
        self, link: BleLink, state: HistoryState, progress: Progress
    ) -> list[ids.HistoryRecord]:
        first = state.record + 1 if state.record is not None else None
        if first is None:
            count_request = ids.racp_request(ids.RacpOp.REPORT_NUMBER, ids.RacpOperator.ALL)
            report = ids.racp_request(ids.RacpOp.REPORT_RECORDS, ids.RacpOperator.ALL)
        else:
            op = ids.RacpOperator.GREATER_OR_EQUAL
            count_request = ids.racp_request(ids.RacpOp.REPORT_NUMBER, op, first)
            report = ids.racp_request(ids.RacpOp.REPORT_RECORDS, op, first)
        total = await self._racp_count(link, count_request)
        await self._write(ids.RACP, report)
        progress.start("read", total)
        records: dict[int, ids.HistoryRecord] = {}
        while True:
            uuid, value = await link.next_event(self.timeout_s, "receiving the pump's history")
            if uuid == ids.HISTORY_DATA:
                record = ids.parse_history(value, self._e2e)
                if first is None or record.record_number >= first:
                    records[record.record_number] = record
                progress.advance("read")
                continue
            if uuid != ids.RACP:
                continue
            answer = self._racp_answer(value)
            if answer.request_op != ids.RacpOp.REPORT_RECORDS:
                continue
            progress.finish("read")
            if answer.succeeded or answer.code == ids.RACP_NO_RECORDS:
                break
            raise DeviceCommunicationError(
                f"The pump refused the history request: {answer.describe()}."
            )
        ordered = [records[n] for n in sorted(records)]
        _check_contiguous(ordered, first)
        return ordered

    async def _newest_record(self, link: BleLink) -> int | None:
        """The record number of the pump's newest history record (RACP "last record")."""
        await self._write(
            ids.RACP, ids.racp_request(ids.RacpOp.REPORT_RECORDS, ids.RacpOperator.LAST)
        )
        newest: int | None = None
        while True:
            uuid, value = await link.next_event(self.timeout_s, "asking for the newest record")
            if uuid == ids.HISTORY_DATA:
                newest = ids.parse_history(value, self._e2e).record_number
            elif (
                uuid == ids.RACP
                and self._racp_answer(value).request_op == ids.RacpOp.REPORT_RECORDS
            ):
                return newest

    def _racp_answer(self, value: bytes) -> ids.RacpResponse:
        answer = ids.parse_racp(value, self._e2e)
        if self._e2e:
            check = self._counters.setdefault(ids.RACP, ids.CounterCheck("IDD RACP"))
            check.check(ids.e2e_counter(value))
        return answer

    async def _racp_count(self, link: BleLink, request: bytes) -> int | None:
        await self._write(ids.RACP, request)
        while True:
            uuid, value = await link.next_event(self.timeout_s, "counting the pump's history")
            if uuid != ids.RACP:
                continue
            answer = self._racp_answer(value)
            if answer.number_of_records is not None:
                return answer.number_of_records
            if answer.request_op == ids.RacpOp.REPORT_NUMBER:
                return None  # counting is optional


class _Refused(Exception):
    """The pump answered a Command Control Point request with an error code."""

    def __init__(self, code: int) -> None:
        super().__init__(ids.describe_cp_code(code))
        self.code = code


OUT_OF_RANGE = 0x73
"""Command CP "parameter out of range": e.g. no template with that number."""
NOT_SUPPORTED = 0x70
MAX_TEMPLATES = 8
"""Template numbers tried when the pump cannot list its templates."""


def _one(answers: Iterable[ids.CpResponse], op: int) -> bytes | None:
    return next((a.operand for a in answers if a.op == op), None)


def _blocks(chunks: list[ids.TemplateChunk]) -> tuple[TimeBlock, ...]:
    """Time blocks (each with a duration) to blocks starting at a time of day."""
    ordered = sorted((b for chunk in chunks for b in chunk.blocks), key=lambda b: b.index)
    out: list[TimeBlock] = []
    start = 0
    for block in ordered:
        if block.duration_min == 0 or start >= 24 * 60:
            continue
        out.append(TimeBlock(start * MS_PER_MIN, block.values))
        start += block.duration_min
    return tuple(out)


def _check_contiguous(records: list[ids.HistoryRecord], first: int | None) -> None:
    """Record numbers must follow each other: a gap means records were lost on the way."""
    expected = first
    for record in records:
        if expected is not None and record.record_number != expected:
            raise ProtocolError(
                f"The pump's history skipped from record {expected - 1} to "
                f"{record.record_number}: records were lost on the way, so none were uploaded."
            )
        expected = record.record_number + 1


def _dated_settings(
    settings: PumpSettingsSnapshot | None, state: HistoryState, clock: datetime | None
) -> tuple[PumpSettingsSnapshot | None, bool]:
    """The settings dated by the pump's clock (else its newest history record), and whether
    they differ from those of the last verified upload (the cursor keeps their fingerprint):
    an unchanged pump uploads nothing new."""
    if settings is None:
        return None, False
    digest = settings.fingerprint()
    changed = digest != state.settings
    state.settings = digest
    when = clock or (datetime.fromisoformat(state.last_local) if state.last_local else None)
    if when is None:
        return settings, False
    return replace(settings, device_time=when.replace(microsecond=0)), changed
