"""An emulated Tandem t:slim X2 insulin pump on Bluetooth LE (device side of pumpX2's
public description of the protocol; docs/protocols/tandem.md).

GATT database, as the real pump exposes it: the pump service 0xFDFB (advertised) with
current status 7B83FFF6, qualifying events 7B83FFF7, history log 7B83FFF8, authorization
7B83FFF9, control 7B83FFFC and control stream 7B83FFFD, each written to (requests) and
notifying (responses) in chunks (emulator.protocols.tandem); Device Information.

Per link: the app authenticates on the authorization characteristic with the 16-character
code shown on the pump (emulator.protocols.tandem_auth): CentralChallenge, then
PumpChallenge; a wrong code is answered ``success = 0`` and the link stays unauthenticated.
Every new link authenticates again with the same code (the pump keeps its code: no new
pairing). A pump showing a 6-digit code is the newer firmware (API 3.2): it pairs with
EC-JPAKE instead (emulator.ble.tslim_x2_jpake), lets a paired app confirm with its saved
secret on a new link, and signed messages use the J-PAKE key. Before that, a request on
current status or control drops the link (diahil's choice). Status requests are answered
on current status; a HistoryLogRequest is answered there (HistoryLogResponse, a new
stream id per request) and its entries follow on the history log characteristic, newest
first, three per HistoryLogStreamResponse. Control requests are checked (signature) and not
answered: this pump is read only to a collector.

Faults: ``DisconnectAfterRecord(n)`` drops the link after the n-th entry of a history
request; ``CorruptE2ECrc(record=n)`` sends the stream message carrying entry n with a wrong
CRC16.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

from bumble import gatt
from bumble.core import UUID
from bumble.device import Connection

from emulator.ble.peripheral import BlePeripheral
from emulator.ble.tslim_x2_jpake import JpakeAuthorizer, JpakeLink
from emulator.devices.tslim_x2_pump import TslimX2Pump
from emulator.faults import FaultPlan
from emulator.protocols import tandem_auth as auth
from emulator.protocols import tandem_constants as c
from emulator.protocols import tandem_history as h
from emulator.protocols.tandem import (
    FramingError,
    Joiner,
    Message,
    chunks,
    decode_message,
    encode_message,
)
from emulator.protocols.tandem_jpake import is_six_digit

logger = logging.getLogger(__name__)

DEFAULT_ADDRESS = "F0:F0:F0:F0:F0:0A"
DEFAULT_CODE = "ABCD-EFGH-JKLM-NPQR"

Props = gatt.Characteristic.Properties


@dataclass
class _Link:
    joiners: dict[str, Joiner] = field(default_factory=dict)
    hmac_key: bytes | None = None
    authenticated: bool = False
    jpake: JpakeLink = field(default_factory=JpakeLink)


class TslimX2(BlePeripheral):
    """A t:slim X2 on the air. ``pump`` holds its history; ``pairing_code`` is on its screen."""

    advertised_service = UUID.from_16_bits(c.PUMP_SERVICE_16)
    manufacturer = c.MANUFACTURER

    def __init__(
        self,
        pump: TslimX2Pump,
        *,
        pairing_code: str = DEFAULT_CODE,
        name: str | None = None,
        address: str = DEFAULT_ADDRESS,
        faults: FaultPlan | None = None,
        connection_interval_ms: float = 0.0,
    ) -> None:
        self.jpake: JpakeAuthorizer | None = None
        """Set for a pump showing a 6-digit code (newer firmware, API 3.2: J-PAKE pairing)."""
        if is_six_digit(pairing_code):
            self.jpake = JpakeAuthorizer(pairing_code)
            self.code = self.jpake.code
            pump.api_version = c.JPAKE_API_VERSION
        else:
            self.code = auth.normalize_code(pairing_code)
        self.pairing_code_shown = pairing_code
        super().__init__(
            name=name or c.NAME_PREFIX + pump.serial_number[-3:].rjust(3, "0"),
            address=address,
            passkey=None,
            faults=faults,
            connection_interval_ms=connection_interval_ms,
        )
        self.pump = pump
        self._links: dict[Connection, _Link] = {}
        self._stream_id = 0
        self.authentications = 0
        """Successful PumpChallenge exchanges (or J-PAKE key confirmations) since power-on (a
        test counts re-authentication)."""

    @property
    def display(self) -> str | None:
        """The pairing code on the pump's screen (what the user types into the app)."""
        return self.pairing_code_shown

    def pair_another_phone(self, new_code: str) -> None:
        """The user pairs another phone: the pump shows ``new_code`` and forgets the old one,
        so an app holding the old code fails its next PumpChallenge (diahil's model of
        "paired to another phone"; docs/protocols/tandem.md). A 6-digit pump takes a new
        6-digit code and forgets the old app's J-PAKE secret, so its confirmation fails."""
        if self.jpake is not None:
            self.jpake.change_code(new_code)
            self.code = self.jpake.code
        else:
            self.code = auth.normalize_code(new_code)
        self.pairing_code_shown = new_code
        for link in self._links.values():
            link.authenticated = False
            link.jpake = JpakeLink()

    async def wait_display(self, timeout: float = 5.0) -> str:
        """The code on the pump's screen (always shown: the pump keeps one code)."""
        return self.pairing_code_shown

    def ledger_json(self) -> list[dict[str, object]]:
        """The history log (what ``GET /ledger`` serves), oldest first."""
        return [
            {
                "sequence": e.sequence,
                "utc": e.at.isoformat(),
                "type_id": int.from_bytes(e.raw[:2], "little") & 0x0FFF,
                "entry": e.raw.hex(),
            }
            for e in self.pump.entries
        ]

    @property
    def serial_number(self) -> str:
        return self.pump.serial_number

    @property
    def model_number(self) -> str:
        return c.MODEL_NAME

    @property
    def firmware_revision(self) -> str:
        return self.pump.firmware_revision

    def _seconds_since_reset(self) -> int:
        first = self.pump.entries[0].at if self.pump.entries else self.pump.model.now
        return max(0, int((self.pump.model.time_source() - first).total_seconds()))

    # ---- GATT --------------------------------------------------------------------------------

    def _services(self) -> list[gatt.Service]:
        def characteristic(uuid: str, name: str) -> gatt.Characteristic[bytes]:
            async def on_write(connection: Connection, value: bytes) -> None:
                await self._on_write(connection, name, bytes(value))

            return gatt.Characteristic(
                uuid,
                Props.WRITE | Props.NOTIFY,
                gatt.Characteristic.Permissions.WRITEABLE
                | gatt.Characteristic.Permissions.READABLE,
                gatt.CharacteristicValue(write=on_write),
            )

        self._chars = {
            "current_status": characteristic(c.CURRENT_STATUS, "current_status"),
            "qualifying_events": characteristic(c.QUALIFYING_EVENTS, "qualifying_events"),
            "history_log": characteristic(c.HISTORY_LOG, "history_log"),
            "authorization": characteristic(c.AUTHORIZATION, "authorization"),
            "control": characteristic(c.CONTROL, "control"),
            "control_stream": characteristic(c.CONTROL_STREAM, "control_stream"),
        }
        return [gatt.Service(c.PUMP_SERVICE, list(self._chars.values()))]

    def _on_link(self, connection: Connection) -> None:
        self._links[connection] = _Link()

    def _on_link_lost(self, connection: Connection) -> None:
        self._links.pop(connection, None)

    # ---- requests ----------------------------------------------------------------------------

    async def _on_write(self, connection: Connection, name: str, chunk: bytes) -> None:
        link = self._links.setdefault(connection, _Link())
        joiner = link.joiners.setdefault(name, Joiner())
        try:
            joined = joiner.feed(chunk)
            if joined is None:
                return
            message = decode_message(joined)
        except FramingError as error:
            logger.info("%s: %s: %s", self.name, name, error)
            return
        # Answer after the write response: the app's write completes before any answer.
        self.spawn(self._dispatch(connection, link, name, message))

    async def _dispatch(
        self, connection: Connection, link: _Link, name: str, message: Message
    ) -> None:
        if name == "authorization":
            await self._authorize(
                connection, link, message.opcode, message.transaction_id, message.cargo
            )
            return
        if not link.authenticated:
            logger.info("%s: %s request before authentication: dropping the link", self.name, name)
            await self.drop_link(connection)
            return
        if name == "control":
            try:
                key = link.jpake.key if self.jpake is not None else None
                auth.verify(
                    message.opcode,
                    message.transaction_id,
                    message.cargo,
                    key or self.code.encode(),
                )
            except auth.AuthError as error:
                logger.info("%s: control: %s", self.name, error)
            return
        if name == "current_status":
            await self._status(connection, message.opcode, message.transaction_id, message.cargo)

    async def _send(
        self,
        connection: Connection,
        name: str,
        opcode: int,
        txid: int,
        cargo: bytes,
        corrupt: bool = False,
    ) -> None:
        message = encode_message(opcode, txid, cargo)
        if corrupt:
            message = message[:-1] + bytes([message[-1] ^ 0xFF])
        for part in chunks(message, txid):
            await self.notify(connection, self._chars[name], part)

    async def _authorize(
        self, connection: Connection, link: _Link, opcode: int, txid: int, cargo: bytes
    ) -> None:
        if self.jpake is not None:
            await self._authorize_jpake(connection, link, opcode, txid, cargo)
            return
        try:
            if opcode == c.CENTRAL_CHALLENGE_REQUEST:
                request = auth.parse_central_challenge(cargo)
                link.hmac_key = os.urandom(c.HMAC_KEY_SIZE)
                link.authenticated = False
                answer = auth.central_challenge_response(self.code, request, link.hmac_key)
                await self._send(
                    connection, "authorization", c.CENTRAL_CHALLENGE_RESPONSE, txid, answer
                )
            elif opcode == c.PUMP_CHALLENGE_REQUEST:
                if link.hmac_key is None:
                    raise auth.AuthError("pump challenge", "no CentralChallenge before it")
                app, ok = auth.check_pump_challenge(self.code, link.hmac_key, cargo)
                link.authenticated = ok
                if ok:
                    self.authentications += 1
                answer = auth.pump_challenge_response(app, ok)
                await self._send(
                    connection, "authorization", c.PUMP_CHALLENGE_RESPONSE, txid, answer
                )
        except auth.AuthError as error:
            logger.info("%s: authorization: %s", self.name, error)

    async def _authorize_jpake(
        self, connection: Connection, link: _Link, opcode: int, txid: int, cargo: bytes
    ) -> None:
        """A 6-digit pump: J-PAKE messages (tslim_x2_jpake); the 16-character code's
        CentralChallenge drops the link (diahil's choice: this firmware has no such code)."""
        assert self.jpake is not None
        if opcode in (c.CENTRAL_CHALLENGE_REQUEST, c.PUMP_CHALLENGE_REQUEST):
            logger.info("%s: 16-character challenge to a 6-digit pump: dropping", self.name)
            await self.drop_link(connection)
            return
        answer = self.jpake.answer(link.jpake, opcode, cargo)
        link.authenticated = link.jpake.key is not None
        if answer is None:
            return
        if answer.opcode == c.JPAKE_4_RESPONSE and link.authenticated:
            self.authentications += 1
        await self._send(connection, "authorization", answer.opcode, txid, answer.cargo)

    async def _status(self, connection: Connection, opcode: int, txid: int, cargo: bytes) -> None:
        if opcode == c.HISTORY_LOG_REQUEST:
            await self._history(connection, txid, cargo)
            return
        answer = self.pump.answer(opcode, cargo, self._seconds_since_reset())
        if answer is None:
            logger.info("%s: unknown or malformed status request %d", self.name, opcode)
            return
        await self._send(connection, "current_status", answer[0], txid, answer[1])

    async def _history(self, connection: Connection, txid: int, cargo: bytes) -> None:
        try:
            wanted = h.parse_history_request(cargo)
        except ValueError as error:
            logger.info("%s: %s", self.name, error)
            return
        entries = self.pump.history_range(wanted.start, wanted.count)
        self._stream_id = self._stream_id % 255 + 1
        status = c.HISTORY_OK if entries is not None else c.HISTORY_OUT_OF_RANGE
        response = h.history_response(status, self._stream_id)
        await self._send(connection, "current_status", c.HISTORY_LOG_REQUEST + 1, txid, response)
        if entries is None:
            return
        entries.reverse()  # newest first, as pumpX2's captures show the pump streaming
        sent = 0
        for first in range(0, len(entries), c.ENTRIES_PER_STREAM):
            group = entries[first : first + c.ENTRIES_PER_STREAM]
            positions = range(sent + 1, sent + len(group) + 1)
            corrupt = any(self.faults.corrupt_e2e_crc(p) for p in positions)
            stream = h.stream_cargo(self._stream_id, group)
            await self._send(connection, "history_log", c.HISTORY_LOG_STREAM, txid, stream, corrupt)
            for position in positions:
                if self.faults.disconnect_after_record(position):
                    await self.drop_link(connection)
                    return
            sent += len(group)
