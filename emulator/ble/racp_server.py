"""The Record Access Control Point server side: procedures, their lifecycle, abort.

Specification: RACP as the Glucose and CGM services use it (``emulator.protocols.racp`` has
the request format). Behaviour on the air:

- a write is first checked against the link: the security gate (0x05), then the RACP CCCD
  (indications must be on, else the service's "CCCD improperly configured" ATT error), then
  a running procedure (the service's "procedure already in progress" ATT error, except for
  an abort, which stops the running procedure);
- the write is then acknowledged (ATT Write Response) and the procedure runs: a report
  notifies the chosen records, oldest first (newest first with the reversed quirk), then
  indicates ``06 00 01 01``; a report or delete that finds nothing ends with ``06 00 <op>
  06`` (no records found: an answer, not an error); a number request indicates ``05 00
  <count>`` (0 when nothing matches); a malformed request gets its response code;
- an abort stops a running report where it is (no response for the aborted report) and
  indicates ``06 00 03 01``; with nothing running it succeeds too;
- faults: ``DisconnectAfterRecord`` drops the link after the n-th record of a report,
  ``DropIndication("racp")`` swallows the final indication.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from bumble import att, gatt
from bumble.device import Connection

from emulator.protocols import racp

if TYPE_CHECKING:
    from emulator.ble.peripheral import BlePeripheral

R = TypeVar("R")

SendRecord = Callable[[Connection, int, R], Awaitable[None]]
"""Notify one record: (link, its position in this transfer from 1, the record)."""


class RacpServer(Generic[R]):
    """RACP procedures over ``records()`` for one peripheral's service."""

    def __init__(
        self,
        peripheral: BlePeripheral,
        *,
        filters: Mapping[int, racp.FilterType],
        records: Callable[[], Sequence[R]],
        key: Callable[[int, R], Any],
        send: SendRecord[R],
        delete: Callable[[Sequence[R]], None] | None = None,
        newest_first: bool = False,
        busy_error: int,
        cccd_error: int,
    ) -> None:
        self._peripheral = peripheral
        self._filters = filters
        self._records = records
        self._key = key
        self._send = send
        self._delete = delete
        self._newest_first = newest_first
        self._busy_error = busy_error
        self._cccd_error = cccd_error
        self._running: dict[Connection, asyncio.Task[None]] = {}
        self.characteristic: gatt.Characteristic[bytes] | None = None

    @property
    def ops(self) -> Collection[racp.Op]:
        ops = [racp.Op.REPORT_RECORDS, racp.Op.ABORT, racp.Op.REPORT_NUMBER]
        return ops if self._delete is None else [*ops, racp.Op.DELETE_RECORDS]

    def busy(self, connection: Connection) -> bool:
        task = self._running.get(connection)
        return task is not None and not task.done()

    async def on_write(self, connection: Connection, value: bytes) -> None:
        """The RACP write handler (behind the security gate)."""
        assert self.characteristic is not None
        if not self._peripheral.subscribed(connection, self.characteristic, indicate=True):
            raise att.ATT_Error(self._cccd_error)
        if self.busy(connection):
            if value[:1] != bytes([racp.Op.ABORT]):
                raise att.ATT_Error(self._busy_error)
            self._running[connection].cancel()
        self._running[connection] = self._peripheral.spawn(self._procedure(connection, value))

    def forget(self, connection: Connection) -> None:
        """The link is gone: stop its procedure."""
        task = self._running.pop(connection, None)
        if task is not None:
            task.cancel()

    async def _respond(self, connection: Connection, value: bytes) -> None:
        task = asyncio.current_task()

        def finished() -> None:
            # The procedure is over once its response goes out: the collector may write
            # the next request as soon as it sees it, before its confirmation lands.
            if self._running.get(connection) is task:
                del self._running[connection]

        if self._peripheral.faults.drop_indication("racp"):
            finished()
            return
        assert self.characteristic is not None
        await self._peripheral.indicate(connection, self.characteristic, value, finished)

    async def _procedure(self, connection: Connection, value: bytes) -> None:
        try:
            request = racp.parse_request(value, self._filters, self.ops)
        except racp.Rejected as rejected:
            await self._respond(connection, rejected.response())
            return
        op = request.op
        if op is racp.Op.ABORT:
            await self._respond(connection, racp.response_code(op, racp.ResponseCode.SUCCESS))
            return
        selected = racp.select(request, self._records(), self._key)
        if op is racp.Op.REPORT_NUMBER:
            await self._respond(connection, racp.number_response(len(selected)))
            return
        if not selected:
            code = racp.ResponseCode.NO_RECORDS_FOUND
            await self._respond(connection, racp.response_code(op, code))
            return
        if op is racp.Op.DELETE_RECORDS:
            assert self._delete is not None
            self._delete(selected)
            await self._respond(connection, racp.response_code(op, racp.ResponseCode.SUCCESS))
            return
        ordered = list(reversed(selected)) if self._newest_first else selected
        for position, record in enumerate(ordered, start=1):
            await self._send(connection, position, record)
            if self._peripheral.faults.disconnect_after_record(position):
                await self._peripheral.drop_link(connection)
                return
        await self._respond(connection, racp.response_code(op, racp.ResponseCode.SUCCESS))
