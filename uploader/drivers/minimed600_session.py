"""One session with a MiniMed 600-series pump through a Contour Next Link 2.4, host side.

The order of a session (packetStructure.md, "sequence diagram" and public descriptions):

1. ASTM control layer of the Contour meter inside the link: ``X`` (the link answers with
   its ASTM header, which names its serial number, then ENQ); NAK -> EOT and ENQ -> ACK
   (control mode); ``W|``, ``Q|``, ``1|``, each ACKed (passthrough mode).
2. MiniMed messages: Open Connection with the HMAC of the link's serial, Read Info (the
   pump's and the link's MACs), Request Link Key (the AES key).
3. Channel negotiation: Join Network on each channel of ``ngp.CHANNELS`` in order until one
   is joined; none joined means the pump is out of range.
4. High-speed mode, then pump commands: each a Transmit Packet (SEND_MESSAGE) that the link
   acknowledges (SEND_MESSAGE_RESPONSE) and the pump answers (RECEIVE_MESSAGE). Every answer
   is checked: the MiniMed checksum, the NGP CRC, the MACs, the sequence number echoed
   outside and inside the encryption, the decrypted frame's CRC and its command code.
5. Close: high speed off, Close Connection, ``W|``, ``Q|``, ``0|`` and EOT.

Choices the document leaves open (kept here, see docs/protocols/minimed600.md): two
sequence counters, as public drivers keep them: the Transmit Packet's (NGP) sequence runs
2, 3, ... after the join's 1, the pump frame's (inside the encryption) 1, 2, ...; the
high-speed command carries 0x80 in both and advances neither; both wrap within 1..127. The
high-speed command has no pump answer. A corrupted answer is asked for again up to
``retries`` times, with new sequence numbers.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

from uploader.errors import DeviceTimeout, ProtocolError
from uploader.protocols import minimed_history as hist
from uploader.protocols import minimed_link as mm
from uploader.protocols import minimed_pump as cmds
from uploader.protocols import ngp
from uploader.protocols.astm_e1381 import ACK, ENQ, EOT, NAK, FrameError, parse_frame
from uploader.protocols.contour_hid import PAYLOAD_SIZE, REPORT_SIZE, PacketLink
from uploader.protocols.contour_records import RecordError, parse_header
from uploader.protocols.minimed_errors import (
    NOTHING_SENT,
    MessageCorrupted,
    PumpOutOfRange,
    WrongLinkKey,
)


@dataclass(frozen=True)
class LinkIdentity:
    serial: str
    """The link's serial as its ASTM header gives it (``NNNN-NNNNNNN``)."""
    firmware: str
    info: mm.LinkInfo
    channel: int
    pump_serial: int | None


class CnlSession:
    """Speaks to a pump through a Contour Next Link over a packet link (64-byte reports)."""

    def __init__(
        self,
        packets: PacketLink,
        timeout_ms: int = 5000,
        join_timeout_ms: int = 1500,
        retries: int = 3,
        on_message: Callable[[str], None] | None = None,
    ) -> None:
        self.packets = packets
        self.timeout_ms = timeout_ms
        self.join_timeout_ms = join_timeout_ms
        self.retries = retries
        self.on_message = on_message
        self.sequence = 0
        self.ngp_sequence = ngp.JOIN_SEQUENCE
        self.frame_sequence = 0
        self.high_speed = False
        self.serial = ""
        self.pump_serial_text = ""
        """The pump's serial as the link's ASTM header names it (``NG1234567H``)."""
        self.firmware = ""
        self.key = b""
        self.info: mm.LinkInfo | None = None
        self.channel: int | None = None
        self.pump_serial: int | None = None
        self.retried = 0

    # HID reports -------------------------------------------------------------------------
    def _write(self, payload: bytes) -> None:
        for start in range(0, max(len(payload), 1), PAYLOAD_SIZE):
            chunk = payload[start : start + PAYLOAD_SIZE]
            report = (b"ABC" + bytes([len(chunk)]) + chunk).ljust(REPORT_SIZE, b"\x00")
            self.packets.write(report, self.timeout_ms)

    def _read_report(self, timeout_ms: int) -> bytes:
        report = self.packets.read(timeout_ms)
        if len(report) < 4 or report[3] > PAYLOAD_SIZE or 4 + report[3] > len(report):
            raise ProtocolError(f"The Contour Next Link sent a malformed report {report[:8]!r}.")
        return bytes(report[4 : 4 + report[3]])

    def _read_minimed(self, timeout_ms: int | None = None) -> mm.MiniMedMessage:
        timeout = self.timeout_ms if timeout_ms is None else timeout_ms
        return self._complete(self._read_report(timeout))

    def _complete(self, data: bytes) -> mm.MiniMedMessage:
        """The MiniMed message that starts with ``data``, reading its further reports."""
        while (
            len(data) < mm.HEADER_SIZE
            or len(data) < mm.HEADER_SIZE + struct.unpack_from("<H", data, 28)[0]
        ):
            if len(data) < mm.HEADER_SIZE and data[:1] != bytes([mm.HEADER]):
                raise ProtocolError(
                    f"The Contour Next Link sent {data[:8]!r} where a MiniMed message was expected."
                )
            data += self._read_report(self.timeout_ms)
        return mm.decode_message(data)

    # ASTM control layer ------------------------------------------------------------------
    def _control(self, send: bytes, expect: int, doing: str) -> None:
        self._write(send)
        answer = self._read_report(self.timeout_ms)
        if answer[-1:] != bytes([expect]):
            raise ProtocolError(
                f"The Contour Next Link answered {answer[-8:]!r} to {doing} "
                f"(0x{expect:02x} was expected)."
            )

    def enter_passthrough(self) -> None:
        self._write(b"X")
        text = b""
        for _ in range(16):
            text += self._read_report(self.timeout_ms)
            if text.endswith(bytes([ENQ])):
                break
        else:
            raise ProtocolError("The Contour Next Link did not finish its device information.")
        try:
            header = parse_header(parse_frame(text[:-1]).text)
        except (FrameError, RecordError) as problem:
            raise ProtocolError(
                f"The Contour Next Link's device information is unreadable ({problem})."
            ) from None
        mm.serial_digits(header.serial_number)  # checks the form
        self.serial, self.firmware = header.serial_number, header.firmware_version
        self.pump_serial_text = header.sku.strip()
        self._control(bytes([NAK]), EOT, "entering control mode (NAK)")
        self._control(bytes([ENQ]), ACK, "entering control mode (ENQ)")
        for command in (b"W|", b"Q|", b"1|"):
            self._control(command, ACK, f"entering passthrough mode ({command.decode()})")

    # MiniMed messages --------------------------------------------------------------------
    def _send(self, operation: int, payload: bytes = b"") -> None:
        self.sequence += 1
        self._write(mm.encode_message(operation, self.sequence, payload))

    def _expect(self, operation: int, timeout_ms: int | None = None) -> mm.MiniMedMessage:
        return self._check_operation(self._read_minimed(timeout_ms), operation)

    def _check_operation(self, message: mm.MiniMedMessage, operation: int) -> mm.MiniMedMessage:
        if message.operation != operation:
            raise ProtocolError(
                f"The Contour Next Link sent {_name(message.operation)} where "
                f"{_name(operation)} was expected."
            )
        return message

    def open(self) -> None:
        self._send(mm.OPEN_CONNECTION, mm.open_connection_hmac(self.serial))
        first = self._read_report(self.timeout_ms)
        if first == bytes([NAK]):
            raise ProtocolError(
                f"The Contour Next Link refused the connection: it did not accept the "
                f"authentication computed from its serial number {self.serial}.",
                hint="Unplug the Contour Next Link, plug it back in and retry; if it happens "
                "again, the link's firmware may be newer than this uploader supports.",
            )
        self._check_operation(self._complete(first), mm.OPEN_CONNECTION)
        self._send(mm.READ_INFO)
        self.info = mm.parse_read_info(self._expect(mm.READ_INFO).payload)
        self._send(mm.REQUEST_LINK_KEY)
        link_key = self._expect(mm.REQUEST_LINK_KEY_RESPONSE).payload
        self.key = mm.aes_key(link_key, self.serial)

    def join(self) -> int:
        info = self._info()
        for channel in ngp.CHANNELS:
            self._send(
                mm.SEND_MESSAGE, ngp.join_network_request(channel, info.link_mac, info.pump_mac)
            )
            self._expect(mm.SEND_MESSAGE_RESPONSE)
            try:
                answer = self._expect(mm.RECEIVE_MESSAGE, self.join_timeout_ms)
                message = ngp.decode_ngp(answer.payload)
            except DeviceTimeout:
                continue
            except MessageCorrupted as problem:
                self.retried += 1
                if self.retried > self.retries:
                    raise MessageCorrupted(
                        f"{problem.message} It stayed corrupted after {self.retries} retries "
                        "(joining the pump's network).",
                        kept=NOTHING_SENT,
                    ) from None
                return self.join()
            result = ngp.parse_join_response(message.payload, info.link_mac, info.pump_mac)
            if result.joined and result.channel is not None:
                self.channel, self.pump_serial = result.channel, result.pump_serial
                self.ngp_sequence = ngp.JOIN_SEQUENCE
                return result.channel
        tried = ", ".join(str(c) for c in ngp.CHANNELS)
        raise PumpOutOfRange(
            f"Pump not found on any channel (tried {tried}): bring it within 1 m of the link "
            "and retry.",
            kept=NOTHING_SENT,
        )

    def identity(self) -> LinkIdentity:
        return LinkIdentity(
            self.serial, self.firmware, self._info(), self.channel or 0, self.pump_serial
        )

    def _info(self) -> mm.LinkInfo:
        if self.info is None:
            raise ProtocolError("The session was used before the link was opened.")
        return self.info

    def _mode(self) -> int:
        return ngp.MODE_ENCRYPTED | (ngp.MODE_HIGH_SPEED if self.high_speed else 0)

    def _transmit(self, sequence: int, inner: int, command: int, parameters: bytes) -> None:
        if self.channel is None:
            raise ProtocolError("A pump command was sent before the pump's network was joined.")
        frame = ngp.encode_frame(inner, command, parameters)
        request = ngp.transmit_request(
            self._info().pump_mac, sequence, self._mode(), self.key, self.channel, frame
        )
        self._send(mm.SEND_MESSAGE, request)
        self._acknowledged()

    def _acknowledged(self) -> None:
        """The link's acknowledgement of a Transmit Packet. A pump message that arrives
        before it (one the pump sent on its own) is opened and checked, then passed over."""
        for _ in range(8):
            message = self._read_minimed()
            if message.operation == mm.SEND_MESSAGE_RESPONSE:
                ngp.decode_ngp(message.payload)
                return
            self._check_operation(message, mm.RECEIVE_MESSAGE)
            frame = self._open(ngp.decode_ngp(message.payload))
            if frame.command == hist.NAK_COMMAND:
                refused, code = hist.parse_nak(frame.parameters)
                raise ProtocolError(
                    f"The pump refused command 0x{refused:04x} (code 0x{code:02x})."
                )
        raise ProtocolError("The Contour Next Link did not acknowledge a message to the pump.")

    def set_high_speed(self, enable: bool) -> None:
        self._transmit(
            ngp.HIGH_SPEED_SEQUENCE,
            ngp.HIGH_SPEED_SEQUENCE,
            cmds.HIGH_SPEED_MODE,
            cmds.high_speed_parameters(enable),
        )
        self.high_speed = enable

    def command(self, command: int, parameters: bytes = b"") -> bytes:
        """Send one pump command; the checked, decrypted parameters of the pump's answer."""
        for attempt in range(self.retries + 1):
            try:
                return self._command_once(command, parameters)
            except MessageCorrupted as problem:
                if attempt == self.retries:
                    raise MessageCorrupted(
                        f"{problem.message} It stayed corrupted after {self.retries} retries "
                        f"(command 0x{command:04x}).",
                        kept=NOTHING_SENT,
                    ) from None
                self.retried += 1
        raise AssertionError("unreachable")

    def _command_once(self, command: int, parameters: bytes) -> bytes:
        inner = self._send_only(command, parameters)
        try:
            answer = self._expect(mm.RECEIVE_MESSAGE)
        except DeviceTimeout:
            raise PumpOutOfRange(
                f"The pump stopped answering (command 0x{command:04x}): it went out of the "
                "link's range, or it does not share the link's key.",
                kept=NOTHING_SENT,
            ) from None
        frame = self._open(ngp.decode_ngp(answer.payload), self.ngp_sequence)
        expected = cmds.RESPONSE_TO.get(command)
        if frame.sequence != inner or (expected is not None and frame.command != expected):
            raise ProtocolError(
                f"The pump answered command 0x{frame.command:04x} (message {frame.sequence}) "
                f"to 0x{command:04x} (message {inner})."
            )
        return frame.parameters

    # history -----------------------------------------------------------------------------
    def _send_only(self, command: int, parameters: bytes) -> int:
        """Send a pump command that may have no answer; its frame sequence number."""
        self.ngp_sequence = _next(self.ngp_sequence)
        self.frame_sequence = _next(self.frame_sequence)
        self._transmit(self.ngp_sequence, self.frame_sequence, command, parameters)
        return self.frame_sequence

    def _receive(self, sequence: int, doing: str) -> ngp.PumpFrame:
        """The next pump frame of the exchange numbered ``sequence`` (frames the pump sends
        on its own, numbered 0x80, are skipped); corrupted ones raise ``MessageCorrupted``."""
        while True:
            try:
                answer = self._expect(mm.RECEIVE_MESSAGE)
            except DeviceTimeout:
                raise PumpOutOfRange(
                    f"The pump stopped answering while {doing}: it went out of the link's range.",
                    kept=NOTHING_SENT,
                ) from None
            frame = self._open(ngp.decode_ngp(answer.payload))
            if frame.sequence == ngp.HIGH_SPEED_SEQUENCE:
                continue
            if frame.sequence != sequence:
                raise ProtocolError(
                    f"The pump sent message {frame.sequence} while {doing} (message {sequence})."
                )
            if frame.command == hist.NAK_COMMAND:
                refused, code = hist.parse_nak(frame.parameters)
                raise ProtocolError(
                    f"The pump refused command 0x{refused:04x} (code 0x{code:02x}) while {doing}."
                )
            return frame

    def _open(self, message: ngp.NgpMessage, sequence: int | None = None) -> ngp.PumpFrame:
        """The pump frame a link message carries, checked to come from the paired pump (and,
        given ``sequence``, to answer that NGP message) and decrypted."""
        if message.command != ngp.COMMAND_RESPONSE:
            raise ProtocolError(
                f"The Contour Next Link answered with NGP command 0x{message.command:02x}."
            )
        response = ngp.parse_transmit_response(message.payload)
        info = self._info()
        if response.pump_mac != info.pump_mac or response.link_mac != info.link_mac:
            raise ProtocolError("An answer came from a pump this link is not paired with.")
        if sequence is not None and response.sequence != sequence:
            raise ProtocolError(
                f"The pump answered message {response.sequence} where {sequence} was expected."
            )
        assert self.channel is not None
        try:
            return ngp.decode_frame(ngp.decrypt(self.key, self.channel, response.encrypted))
        except WrongLinkKey as wrong:
            raise WrongLinkKey(wrong.message, kept=NOTHING_SENT) from None

    def read_history(
        self,
        data_type: int,
        from_rtc: int | None,
        on_bytes: Callable[[int], None] | None = None,
    ) -> list[bytes]:
        """Every history session the pump sends for one Read History request."""
        doing = "sending its history"
        sequence = self._send_only(
            hist.READ_HISTORY_REQUEST, hist.request_parameters(data_type, from_rtc)
        )
        sessions: list[bytes] = []
        frame = self._receive(sequence, doing)
        while frame.command != hist.END_HISTORY_TRANSMISSION:
            if frame.command != hist.INITIATE_MULTIPACKET_TRANSFER:
                raise ProtocolError(
                    f"The pump sent command 0x{frame.command:04x} where a history session "
                    "or the end of history was expected."
                )
            initiate = hist.parse_initiate(frame.parameters)
            self._send_only(
                hist.ACK_COMMAND, hist.ack_parameters(hist.INITIATE_MULTIPACKET_TRANSFER)
            )
            packets = self._segments(sequence, initiate, doing)
            if on_bytes is not None:
                on_bytes(initiate.session_size)
            sessions.append(b"".join(packets[n] for n in range(initiate.packets)))
            self._send_only(
                hist.ACK_COMMAND, hist.ack_parameters(hist.MULTIPACKET_SEGMENT_TRANSMISSION)
            )
            frame = self._receive(sequence, doing)
        self._after_history()
        return sessions

    def _after_history(self) -> None:
        """The pump follows the end of its history with a high-speed mode message of its own
        (frame sequence 0x80); read it so that it is not taken for the next answer."""
        try:
            answer = self._expect(mm.RECEIVE_MESSAGE, self.join_timeout_ms)
        except DeviceTimeout:
            return
        frame = self._open(ngp.decode_ngp(answer.payload))
        if frame.sequence != ngp.HIGH_SPEED_SEQUENCE:
            raise ProtocolError(
                f"The pump sent command 0x{frame.command:04x} after the end of its history."
            )

    def _segments(self, sequence: int, initiate: hist.Initiate, doing: str) -> dict[int, bytes]:
        packets: dict[int, bytes] = {}
        wanted = list(range(initiate.packets))
        for attempt in range(self.retries + 1):
            for _ in wanted:
                try:
                    frame = self._receive(sequence, doing)
                except MessageCorrupted:
                    self.retried += 1
                    continue
                if frame.command != hist.MULTIPACKET_SEGMENT_TRANSMISSION:
                    raise ProtocolError(
                        f"The pump sent command 0x{frame.command:04x} in the middle of a "
                        "history session."
                    )
                number, data = hist.parse_segment(frame.parameters)
                size = (
                    initiate.last_packet_size
                    if number == initiate.packets - 1
                    else initiate.packet_size
                )
                if number >= initiate.packets or len(data) != size:
                    raise ProtocolError(
                        f"The pump sent history packet {number} with {len(data)} bytes "
                        f"({initiate.packets} packets of {initiate.packet_size} were announced)."
                    )
                packets[number] = data
            wanted = [n for n in range(initiate.packets) if n not in packets]
            if not wanted:
                return packets
            if attempt < self.retries:
                first = wanted[0]
                count = next((i for i, n in enumerate(wanted) if n != first + i), len(wanted))
                wanted = wanted[:count]
                self._send_only(
                    hist.MULTIPACKET_RESEND_PACKETS, hist.resend_parameters(first, count)
                )
        raise MessageCorrupted(
            f"History packets {', '.join(str(n) for n in wanted[:5])} stayed corrupted after "
            f"{self.retries} requests to send them again.",
            kept=NOTHING_SENT,
        )

    def close(self) -> None:
        """Leave high speed, close the connection, leave passthrough: best effort."""
        try:
            if self.high_speed:
                self.set_high_speed(False)
            if self.info is not None:
                self._send(mm.CLOSE_CONNECTION)
                self._expect(mm.CLOSE_CONNECTION)
            for command in (b"W|", b"Q|", b"0|"):
                self._control(command, ACK, "leaving passthrough")
            self._control(bytes([EOT]), ENQ, "leaving control mode")
        except Exception:  # closing must not hide the real outcome
            return


def _next(sequence: int) -> int:
    return sequence + 1 if sequence < 0x7F else 1


def _name(operation: int) -> str:
    return mm.OPERATION_NAMES.get(operation, f"operation 0x{operation:02x}")
