"""Driver for the Tandem t:slim X2 insulin pump over Bluetooth LE (host side of pumpX2's
public description; docs/protocols/tandem-host.md).

Supported: t:slim X2 firmware that pairs with the 16-character code the pump shows.

Supported features:
    - pairing: the central/pump challenge exchange with the code the pump shows, asked for
      once and remembered per pump (``TandemCodeStore``), so a reconnect needs no new
      pairing; a refused code is ``PairingFailed`` (exit code 4) and forgotten;
    - identify: Device Information, the pump's clock (TimeSinceReset);
    - history by sequence number, incrementally: HistoryLogStatus, then HistoryLogRequest in
      runs of at most 255 entries from the one after the last verified entry; every run must
      arrive whole (none missing or repeated) before its entries are used; entries are placed
      in time (untimed ones from their neighbours) and turned into boluses, basal intervals,
      suspend/resume, reservoir change, prime and alarm events, BG (``smbg``) and CGM
      (``cbg``) readings and clock changes (``uploader.drivers.tslim_x2_history``).

Not supported: the 6-digit code of newer firmware (J-PAKE: refused with a clear message);
settings (``pumpSettings``: the pump's insulin delivery profiles are not read yet, so basal
schedules are named ``Template <profile id>`` and temp basals carry no ``suppressed``);
alerts (AlertActivated).
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from uploader.drivers.base import Driver
from uploader.drivers.ble_common import read_device_information
from uploader.drivers.tslim_x2_history import TslimCursor, interpret
from uploader.errors import DeviceDisconnected, PairingFailed, ProtocolError
from uploader.pairing import CodeProvider, PasskeyProvider, terminal_code_prompt
from uploader.progress import Progress
from uploader.protocols import tandem, tandem_auth, tandem_history
from uploader.protocols.tandem import FrameError, Joiner, Message
from uploader.records import DeviceData, DeviceIdentity
from uploader.state import default_state_path
from uploader.transports.ble import Advertisement, BleLink, BleStack

TIME_SINCE_RESET_REQUEST = 54
TIME_SINCE_RESET_RESPONSE = 55
APP_INSTANCE_ID = 0
HISTORY_RUN = 255
CODE_HINT = (
    "On the pump: Options > Device Settings > Bluetooth Settings > Pair Device shows a "
    "16-character code (e.g. ABCD-EFGH-JKLM-NPQR); type it as shown. If the pump is paired "
    "with another phone (the t:slim mobile app), unpair it there first."
)


class TandemCodeStore:
    """The pairing code accepted by each pump (by address), kept for the next connection."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_state_path().with_name("tandem-codes.json")

    def _load(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def get(self, address: str) -> str | None:
        return self._load().get(address)

    def put(self, address: str, code: str | None) -> None:
        codes = self._load()
        if code is None:
            codes.pop(address, None)
        else:
            codes[address] = code
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(codes, indent=1))
        os.chmod(self.path, 0o600)


class TslimX2Driver(Driver):
    """A Tandem t:slim X2 found by a Bluetooth scan (see the module docstring)."""

    service = tandem.SERVICE_UUID
    compat_family = "tslim-x2"
    clock_hint = "Set the pump's clock on the pump (Options > Device Settings > Time and Date)."

    def __init__(
        self,
        stack: BleStack,
        target: Advertisement,
        passkey: PasskeyProvider | None = None,
        timeout_s: float = 10.0,
        code: CodeProvider | None = None,
        codes: TandemCodeStore | None = None,
    ) -> None:
        self.stack = stack
        self.target = target
        self.timeout_s = timeout_s
        self.code = code or terminal_code_prompt()
        self.codes = codes or TandemCodeStore()
        self._link: BleLink | None = None
        self._identity: DeviceIdentity | None = None
        self._joiners: dict[str, Joiner] = {}
        self._transaction = 0

    # -- link and messages -------------------------------------------------------------------

    def _require(self) -> BleLink:
        if self._link is None:
            raise ProtocolError("The driver was used out of order (connect first).")
        return self._link

    def _next_transaction(self) -> int:
        self._transaction = (self._transaction + 1) % 256
        return self._transaction

    async def _send(self, uuid: str, message: Message) -> None:
        link = self._require()
        for packet in tandem.packets(message):
            await link.write(uuid, packet)

    async def _receive(self, uuid: str, doing: str) -> Message:
        """The next whole message notified on ``uuid`` (others' messages are kept joining)."""
        link = self._require()
        while True:
            source, value = await link.next_event(self.timeout_s, doing)
            joiner = self._joiners.setdefault(source, Joiner())
            try:
                message = joiner.feed(value)
            except FrameError as exc:
                raise ProtocolError(
                    f"The pump sent a broken message while {doing}: {exc}."
                ) from None
            if message is not None and source == uuid:
                return message

    async def _ask(self, uuid: str, message: Message, doing: str) -> Message:
        await self._send(uuid, message)
        answer = await self._receive(uuid, doing)
        if answer.transaction_id != message.transaction_id:
            raise ProtocolError(
                f"The pump answered transaction {answer.transaction_id} to request "
                f"{message.transaction_id} while {doing}."
            )
        return answer

    # -- lifecycle ---------------------------------------------------------------------------

    async def connect(self) -> None:
        self._link = await BleLink.open(self.stack, self.target, None)
        for uuid in (
            tandem.AUTHORIZATION_UUID,
            tandem.CURRENT_STATUS_UUID,
            tandem.HISTORY_LOG_UUID,
        ):
            await self._link.subscribe(uuid)
        remembered = self.codes.get(self.target.address)
        code = remembered or await self.code(self._label)
        try:
            accepted = await self._authenticate(code)
        except DeviceDisconnected:
            raise PairingFailed(
                f"{self._label} dropped the connection during pairing: it may be paired with "
                "another phone.",
                hint=CODE_HINT,
            ) from None
        if not accepted:
            self.codes.put(self.target.address, None)
            raise PairingFailed(
                f"{self._label} refused the pairing code"
                + (" it accepted before (it was paired again since)." if remembered else "."),
                hint=CODE_HINT,
            )
        self.codes.put(self.target.address, code)

    @property
    def _label(self) -> str:
        return f"{self.target.name or 'the t:slim X2'} ({self.target.address})"

    async def _authenticate(self, code: str) -> bool:
        try:
            kept = tandem_auth.normalize_code(code)
        except tandem_auth.PairingCodeError as exc:
            raise PairingFailed(
                f"That is not a t:slim X2 pairing code: {exc}.", hint=CODE_HINT
            ) from None
        if tandem_auth.is_six_digit_code(kept):
            raise PairingFailed(
                "This pump shows a 6-digit pairing code (newer firmware, J-PAKE pairing), "
                "which this uploader does not support yet.",
                hint="Upload this pump with Tandem's own software for now.",
            )
        doing = "pairing"
        first = tandem_auth.central_challenge_request(
            self._next_transaction(), APP_INSTANCE_ID, secrets.token_bytes(8)
        )
        try:
            answer = tandem_auth.parse_central_challenge_response(
                await self._ask(tandem.AUTHORIZATION_UUID, first, doing)
            )
            proof = tandem_auth.pump_challenge_request(
                self._next_transaction(), answer.app_instance_id, kept, answer.hmac_key
            )
            verdict = await self._ask(tandem.AUTHORIZATION_UUID, proof, doing)
            return tandem_auth.parse_pump_challenge_response(verdict)
        except FrameError as exc:
            raise ProtocolError(f"The pump's pairing answer is unreadable: {exc}.") from None

    async def identify(self) -> DeviceIdentity:
        link = self._require()
        info = await read_device_information(link)
        request = Message(TIME_SINCE_RESET_REQUEST, self._next_transaction(), b"")
        answer = await self._ask(tandem.CURRENT_STATUS_UUID, request, "reading the pump's clock")
        if answer.opcode != TIME_SINCE_RESET_RESPONSE or len(answer.cargo) < 4:
            raise ProtocolError(f"The pump answered its clock request with opcode {answer.opcode}.")
        seconds = int.from_bytes(answer.cargo[:4], "little")
        self._identity = DeviceIdentity(
            manufacturer=info.manufacturer,
            model=info.model,
            serial_number=info.serial_number,
            firmware_version=info.firmware,
            device_id=info.device_id(),
            tags=("insulin-pump",),
            clock=tandem_history.pump_time(seconds),
        )
        return self._identity

    async def fetch(self, progress: Progress, since: str | None = None) -> DeviceData:
        if self._identity is None:
            raise ProtocolError("The driver was used out of order (identify first).")
        cursor = TslimCursor.from_cursor(since)
        status_request = tandem_history.history_status_request(self._next_transaction())
        try:
            status = tandem_history.parse_history_status(
                await self._ask(
                    tandem.CURRENT_STATUS_UUID, status_request, "reading history status"
                )
            )
            data = DeviceData(identity=self._identity)
            start = status.first if cursor.sequence is None else cursor.sequence + 1
            if cursor.sequence is not None and cursor.sequence > status.last:
                data.notes.append(
                    f"The pump's history ends at {status.last}, before the {cursor.sequence} "
                    "read last time (it was reset or replaced): its whole history was read."
                )
                cursor = TslimCursor()
                start = status.first
            start = max(start, status.first)
            total = max(0, status.last - start + 1)
            progress.start("read", total)
            entries: list[tandem_history.HistoryEntry] = []
            while start <= status.last:
                count = min(HISTORY_RUN, status.last - start + 1)
                entries.extend(await self._history_run(start, count))
                progress.advance("read", count)
                start += count
            progress.finish("read")
        except FrameError as exc:
            raise ProtocolError(f"The pump's history could not be read: {exc}.") from None
        placed = tandem_history.place_in_time(entries, cursor.previous_time)
        out = interpret(placed, cursor)
        data.pump = out.pump
        data.readings = out.readings
        data.cgm_readings = out.cgm
        data.time_changes = out.time_changes
        data.cursor = cursor.to_cursor()
        return data

    async def _history_run(self, first: int, count: int) -> list[tandem_history.HistoryEntry]:
        doing = f"receiving the pump's history from entry {first}"
        request = tandem_history.history_request(self._next_transaction(), first, count)
        answer = await self._ask(tandem.CURRENT_STATUS_UUID, request, doing)
        status, stream_id = tandem_history.parse_history_response(answer)
        if status != 0:
            raise ProtocolError(
                f"The pump refused the history request from {first} (status {status})."
            )
        got: list[tandem_history.HistoryEntry] = []
        while len(got) < count:
            message = await self._receive(tandem.HISTORY_LOG_UUID, doing)
            stream, entries = tandem_history.parse_stream(message)
            if stream == stream_id:
                got.extend(entries)
        return tandem_history.check_range(got, first, count)

    async def disconnect(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            await link.close()
