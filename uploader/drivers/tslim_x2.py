"""Driver for the Tandem t:slim X2 insulin pump over Bluetooth LE (host side of pumpX2's
public description; docs/protocols/tandem-host.md).

Supported: t:slim X2 firmware that pairs with the 16-character code the pump shows, and
newer firmware that pairs with a 6-digit code (J-PAKE, ``uploader.drivers.tslim_x2_jpake``).

Supported features:
    - pairing: the central/pump challenge exchange with the code the pump shows, asked for
      once and remembered per pump (``TandemCodeStore``), so a reconnect needs no new
      pairing; a refused code is ``PairingFailed`` (exit code 4) and forgotten; with a
      6-digit code, the J-PAKE exchange, and what is kept is its derived secret, so a
      reconnect runs the confirmation only;
    - identify: Device Information, the pump's clock (TimeSinceReset), its status (API
      version, required; pump version, basal, bolus, IOB, reservoir, battery, CGM: a
      request left unanswered is noted and skipped; ``uploader.drivers.tslim_x2_status``),
      reported as a "Pump status" note;
    - settings: the insulin delivery profiles (ProfileStatus, IDPSettings, IDPSegment) as one
      ``pumpSettings`` keyed by profile name (sent when they changed since the last
      verified upload); basals are named by their profile;
    - history by sequence number, incrementally: HistoryLogStatus, then HistoryLogRequest in
      runs of at most 255 entries from the one after the last verified entry; every run must
      arrive whole (none missing or repeated) before its entries are used; entries are placed
      in time (untimed ones from their neighbours) and turned into boluses, basal intervals,
      suspend/resume, reservoir change, prime, alarm and alert events, BG (``smbg``) and CGM
      (``cbg``) readings and clock changes (``uploader.drivers.tslim_x2_history``).

Errors: a link dropped while pairing is ``DeviceDisconnected`` (keep the pump close, rerun;
it may be paired with another phone), not a wrong code.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from uploader.drivers import tslim_x2_jpake
from uploader.drivers.ble_common import BleDriver, read_device_information
from uploader.drivers.tslim_x2_history import TslimCursor, interpret
from uploader.drivers.tslim_x2_status import PumpStatus, read_settings, read_status
from uploader.errors import (
    NOTHING_UPLOADED,
    DeviceDisconnected,
    DeviceTimeout,
    PairingFailed,
    ProtocolError,
)
from uploader.pairing import CodeProvider, PasskeyProvider, terminal_code_prompt
from uploader.progress import Progress
from uploader.protocols import tandem, tandem_auth, tandem_history, tandem_jpake
from uploader.protocols.tandem import FrameError, Joiner, Message
from uploader.pump_records import PumpSettingsSnapshot
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


JPAKE_CODE_HINT = (
    "Run the upload again and type the 6-digit code shown on the pump (Options > Device "
    "Settings > Bluetooth Settings > Pair Device). If the pump is paired with another phone "
    "(the t:slim mobile app), unpair it there first."
)
JPAKE_SECRET_FIELD = "jpake_derived_secret"


DROPPED_HINT = (
    "Keep the pump close to this computer and run the upload again. If it happens again, the "
    "pump may be paired with another phone: pair again from the pump's Bluetooth settings "
    "(Options > Device Settings > Bluetooth Settings)."
)


class TandemCodeStore:
    """What each pump (by address) accepted, kept for the next connection: the 16-character
    code, or for a 6-digit-code pump the J-PAKE derived secret (``{"jpake_derived_secret":
    hex}``; the 6-digit code itself is not kept). The file is mode 0600 and never logged."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_state_path().with_name("tandem-codes.json")

    def _load(self) -> dict[str, str | dict[str, str]]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {
            str(k): {str(a): str(b) for a, b in v.items()} if isinstance(v, dict) else str(v)
            for k, v in data.items()
        }

    def get(self, address: str) -> str | None:
        kept = self._load().get(address)
        return kept if isinstance(kept, str) else None

    def get_jpake_secret(self, address: str) -> bytes | None:
        """The derived secret of a J-PAKE pairing with this pump, if one is kept."""
        kept = self._load().get(address)
        if not isinstance(kept, dict):
            return None
        try:
            return bytes.fromhex(kept.get(JPAKE_SECRET_FIELD, "")) or None
        except ValueError:
            return None

    def put_jpake_secret(self, address: str, secret: bytes) -> None:
        self._write(address, {JPAKE_SECRET_FIELD: secret.hex()})

    def put(self, address: str, code: str | None) -> None:
        self._write(address, code)

    def _write(self, address: str, kept: str | dict[str, str] | None) -> None:
        codes = self._load()
        if kept is None:
            codes.pop(address, None)
        else:
            codes[address] = kept
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(codes, indent=1))
        os.chmod(self.path, 0o600)


class TslimX2Driver(BleDriver):
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
        super().__init__(stack, target, passkey, timeout_s)
        self.code = code or terminal_code_prompt()
        self.codes = codes or TandemCodeStore()
        self._joiners: dict[str, Joiner] = {}
        self._transaction = 0
        self._jpake_secret: bytes | None = None
        self.auth_key: bytes | None = None
        """The key that signs signed messages on this connection (J-PAKE: the session key)."""
        self.status: PumpStatus | None = None
        """What the pump said about itself at identify (``read_status``)."""
        self._given_up: set[int] = set()
        """Transaction ids of status requests left unanswered in time (a late answer to one
        is passed over)."""

    # -- link and messages -------------------------------------------------------------------

    def _next_transaction(self) -> int:
        self._transaction = (self._transaction + 1) % 256
        return self._transaction

    async def _send(self, uuid: str, message: Message) -> None:
        link = self._connected()
        for packet in tandem.packets(message):
            await link.write(uuid, packet)

    async def _receive(self, uuid: str, doing: str, timeout_s: float | None = None) -> Message:
        """The next whole message notified on ``uuid`` (others' messages are kept joining)."""
        link = self._connected()
        while True:
            source, value = await link.next_event(timeout_s or self.timeout_s, doing)
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

    async def _ask_status(self, message: Message, doing: str, timeout_s: float | None) -> Message:
        """A current-status request and its answer; a late answer to an earlier request that
        went unanswered in time is passed over, any other transaction id is an error."""
        await self._send(tandem.CURRENT_STATUS_UUID, message)
        while True:
            try:
                answer = await self._receive(tandem.CURRENT_STATUS_UUID, doing, timeout_s)
            except DeviceTimeout:
                self._given_up.add(message.transaction_id)
                raise
            if answer.transaction_id == message.transaction_id:
                return answer
            if answer.transaction_id in self._given_up:
                self._given_up.discard(answer.transaction_id)
            else:
                raise ProtocolError(
                    f"The pump answered transaction {answer.transaction_id} to request "
                    f"{message.transaction_id} while {doing}."
                )

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
        saved = self.codes.get_jpake_secret(self.target.address)
        code = remembered or ("" if saved else await self.code(self._label))
        try:
            if saved:
                accepted = await self._jpake(None, saved)
            else:
                accepted = await self._authenticate(code)
        except DeviceDisconnected:
            raise DeviceDisconnected(
                f"{self._label} dropped the link while pairing.",
                hint=DROPPED_HINT,
                kept=NOTHING_UPLOADED,
            ) from None
        six_digits = bool(saved) or tandem_auth.is_six_digit_code(tandem_auth.normalize_code(code))
        if not accepted:
            self.codes.put(self.target.address, None)
            raise PairingFailed(
                f"{self._label} refused the pairing code"
                + (
                    " it accepted before (it was paired again since)."
                    if remembered or saved
                    else "."
                ),
                hint=JPAKE_CODE_HINT if six_digits else CODE_HINT,
            )
        if self._jpake_secret is not None:
            self.codes.put_jpake_secret(self.target.address, self._jpake_secret)
        else:
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
            return await self._jpake(kept, None)
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

    async def _jpake(self, code: str | None, saved: bytes | None) -> bool:
        """J-PAKE (6-digit code, ``tslim_x2_jpake``): the full exchange with ``code``, or the
        confirmation alone with the ``saved`` derived secret; True when the pump confirmed."""

        answers = 0

        async def ask(message: Message) -> Message:
            nonlocal answers
            answer = await self._ask(tandem.AUTHORIZATION_UUID, message, "pairing")
            answers += 1
            return answer

        try:
            if saved is not None:
                result = await tslim_x2_jpake.confirm(
                    ask, self._next_transaction, saved, APP_INSTANCE_ID
                )
            else:
                assert code is not None
                result = await tslim_x2_jpake.pair(
                    ask, self._next_transaction, code, APP_INSTANCE_ID
                )
        except tandem_jpake.JpakeError as exc:
            raise PairingFailed(
                f"{self._label} answered the pairing with data that does not check out: {exc}.",
                hint="Run the upload again. If it happens again, the pump or something "
                "pretending to be it is misbehaving: report it with a support bundle.",
            ) from None
        except FrameError as exc:
            raise ProtocolError(f"The pump's pairing answer is unreadable: {exc}.") from None
        except DeviceTimeout:
            if answers or saved is not None:
                raise
            raise PairingFailed(
                f"{self._label} did not answer pairing with a 6-digit code.",
                hint="Check the code on the pump (Options > Device Settings > Bluetooth "
                "Settings > Pair Device): older firmware shows a 16-character code such as "
                "ABCD-EFGH-JKLM-NPQR; type that one.",
            ) from None
        if isinstance(result, tslim_x2_jpake.Refused):
            return False
        self._jpake_secret = result.derived_secret
        self.auth_key = result.session_key
        return True

    async def identify(self) -> DeviceIdentity:
        link = self._connected()
        info = await read_device_information(link)
        request = Message(TIME_SINCE_RESET_REQUEST, self._next_transaction(), b"")
        answer = await self._ask(tandem.CURRENT_STATUS_UUID, request, "reading the pump's clock")
        if answer.opcode != TIME_SINCE_RESET_RESPONSE or len(answer.cargo) < 4:
            raise ProtocolError(f"The pump answered its clock request with opcode {answer.opcode}.")
        seconds = int.from_bytes(answer.cargo[:4], "little")
        try:
            self.status = await read_status(self._ask_status, self._next_transaction, self._label)
        except FrameError as exc:
            raise ProtocolError(f"The pump's API version answer is unreadable: {exc}.") from None
        self._identity = info.identity(("insulin-pump",), tandem_history.pump_time(seconds))
        return self._identity

    async def fetch(self, progress: Progress, since: str | None = None) -> DeviceData:
        if self._identity is None:
            raise ProtocolError("The driver was used out of order (identify first).")
        cursor = TslimCursor.from_cursor(since)
        status_request = tandem_history.history_status_request(self._next_transaction())
        try:
            status = tandem_history.parse_history_status(
                await self._ask_status(status_request, "reading history status", None)
            )
            data = DeviceData(identity=self._identity)
            if self.status is not None:
                data.notes.extend(self.status.notes())
                data.device_status = self.status.as_dict()
            settings = await self._settings(data)
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
        if settings is not None:
            data.pump.settings = settings
            data.pump.settings_changed = cursor.settings != settings.fingerprint()
            cursor.settings = settings.fingerprint()
        data.readings = out.readings
        data.cgm_readings = out.cgm
        data.time_changes = out.time_changes
        data.cursor = cursor.to_cursor()
        return data

    async def _settings(self, data: DeviceData) -> PumpSettingsSnapshot | None:
        """The pump's profiles as settings; a pump that does not give them is noted (its
        basal schedules are then named ``Template <profile id>``)."""
        assert self._identity is not None and self._identity.clock is not None
        try:
            return await read_settings(
                self._ask_status, self._next_transaction, self._identity.clock
            )
        except (DeviceTimeout, FrameError) as exc:
            data.notes.append(
                f"The pump's insulin delivery profiles could not be read ({exc}): no "
                "pumpSettings this time, basal schedules named by profile id."
            )
            return None

    async def _history_run(self, first: int, count: int) -> list[tandem_history.HistoryEntry]:
        doing = f"receiving the pump's history from entry {first}"
        request = tandem_history.history_request(self._next_transaction(), first, count)
        answer = await self._ask_status(request, doing, None)
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
