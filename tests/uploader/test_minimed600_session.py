"""The host's session with a Contour Next Link 2.4, replayed against the emulator side's
vectors (tests/vectors/minimed600/control.json, minimed.json, ngp.json): the same bytes in
the same order, channel negotiation, and each fault's clear error."""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path

import pytest

from uploader.drivers.minimed600_session import CnlSession
from uploader.errors import DeviceTimeout, ProtocolError
from uploader.protocols import minimed_history as hist
from uploader.protocols import minimed_link as mm
from uploader.protocols import minimed_pump as cmds
from uploader.protocols import ngp
from uploader.protocols.minimed_errors import MessageCorrupted, PumpOutOfRange, WrongLinkKey

VECTORS = Path(__file__).parents[1] / "vectors" / "minimed600"
CONTROL = json.loads((VECTORS / "control.json").read_text())
MM = {m["name"]: m for m in json.loads((VECTORS / "minimed.json").read_text())["messages"]}
NGP = {m["name"]: m for m in json.loads((VECTORS / "ngp.json").read_text())["messages"]}
ANY = "any"


class ScriptedLink:
    """A packet link that checks each whole message the host writes against a script and
    answers with the script's reports (64-byte HID reports, as the link sends them)."""

    def __init__(self) -> None:
        self.script: deque[tuple[str, bool, list[bytes]]] = deque()
        self.pending: deque[bytes] = deque()
        self.partial = b""
        self.sent: list[bytes] = []

    def expect(self, out_hex: str, *answers: str, payload_only: bool = False) -> None:
        self.script.append((out_hex, payload_only, [bytes.fromhex(a) for a in answers]))

    def write(self, data: bytes, timeout_ms: int) -> None:
        assert data[:3] == b"ABC" and len(data) == 64
        self.partial += data[4 : 4 + data[3]]
        if data[3] == 60:
            return
        message, self.partial = self.partial, b""
        self.sent.append(message)
        expected, payload_only, answers = self.script.popleft()
        if expected != ANY:
            got = message[33:] if payload_only else message
            assert got.hex() == expected
        for answer in answers:
            for start in range(0, len(answer) + 1, 60):
                chunk = answer[start : start + 60]
                self.pending.append((b"ABC" + bytes([len(chunk)]) + chunk).ljust(64, b"\0"))
                if len(chunk) < 60:
                    break

    def read(self, timeout_ms: int) -> bytes:
        if not self.pending:
            raise DeviceTimeout("nothing to read")
        return self.pending.popleft()


def _opened(link: ScriptedLink) -> None:
    info = CONTROL["device_info"]
    link.expect(info["request"], *info["answers"])
    for step in CONTROL["exchange"][:5]:
        link.expect(step["host"], step["link"])
    for name in ("open_connection", "read_info", "request_link_key"):
        link.expect(MM[f"{name}_request"]["hex"], MM[f"{name}_response"]["hex"])


def _joined(link: ScriptedLink) -> None:
    _opened(link)
    link.expect(
        NGP["join_network_request"]["minimed"],
        NGP["join_network_ack_0x81"]["minimed"],
        NGP["join_network_response_not_joined"]["minimed"],
    )
    link.expect(
        NGP["join_network_request_right_channel"]["minimed"],
        NGP["join_network_ack_0x81"]["minimed"],
        NGP["join_network_response_joined"]["minimed"],
    )
    link.expect(ANY, NGP["transmit_packet_ack_0x81"]["minimed"])  # high speed on


def _at_high_speed(link: ScriptedLink) -> CnlSession:
    """A session through the link's exchanges that ``_joined`` scripted: joined, high speed on."""
    session = CnlSession(link, join_timeout_ms=10)
    session.enter_passthrough()
    session.open()
    session.join()
    session.set_high_speed(True)
    return session


def test_session_matches_the_emulator_vectors_byte_for_byte() -> None:
    link = ScriptedLink()
    _joined(link)
    link.expect(
        NGP["transmit_packet_request_time"]["hex"],
        NGP["transmit_packet_ack_0x81"]["minimed"],
        NGP["transmit_packet_response_time"]["minimed"],
        payload_only=True,
    )
    session = CnlSession(link, join_timeout_ms=10)
    session.enter_passthrough()
    assert (session.serial, session.firmware, session.pump_serial_text) == (
        "6213-1234567",
        "01.24",
        "NG1234567H",
    )
    session.open()
    assert session.key.hex() == "5d8f0e3b2a1c47e69b0d73f41c2a8e55"
    assert session.join() == 17 and session.pump_serial == 1234567
    session.set_high_speed(True)
    time = cmds.parse_time(session.command(cmds.TIME_REQUEST))
    assert (time.rtc, time.offset) == (0x05F5E100, 0xFFFFF000)
    assert not link.script


def test_pump_out_of_range_on_every_channel() -> None:
    link = ScriptedLink()
    _opened(link)
    for channel in range(5):
        answers = [NGP["join_network_ack_0x81"]["minimed"]]
        if channel % 2 == 0:  # some channels answer "not joined", the others stay silent
            answers.append(NGP["join_network_response_not_joined"]["minimed"])
        link.expect(ANY, *answers)
    session = CnlSession(link, join_timeout_ms=10)
    session.enter_passthrough()
    session.open()
    with pytest.raises(PumpOutOfRange) as caught:
        session.join()
    text = caught.value.user_message()
    assert "Pump not found on any channel (tried 20, 17, 14, 23, 26)" in text
    assert "within 1 m of the link" in text and "Nothing from this read was sent" in text
    assert [m[33 + 3] for m in link.sent[-5:]] == [0x14, 0x11, 0x0E, 0x17, 0x1A]


def test_a_refused_hmac_is_a_clear_error() -> None:
    link = ScriptedLink()
    info = CONTROL["device_info"]
    link.expect(info["request"], *info["answers"])
    for step in CONTROL["exchange"][:5]:
        link.expect(step["host"], step["link"])
    link.expect(
        MM["open_connection_request"]["hex"],
        json.loads((VECTORS / "minimed.json").read_text())["wrong_hmac_answer"],
    )
    session = CnlSession(link)
    session.enter_passthrough()
    with pytest.raises(ProtocolError, match="refused the connection"):
        session.open()


def _corrupt(hex_message: str) -> str:
    data = bytearray.fromhex(hex_message)
    data[-1] ^= 0x01  # the NGP CRC's high byte; the MiniMed checksum is fixed up below
    data[32] = (sum(data[:32]) + sum(data[33:])) & 0xFF
    return data.hex()


def test_a_corrupted_crc_is_asked_again_then_reported() -> None:
    link = ScriptedLink()
    _joined(link)
    ack = NGP["transmit_packet_ack_0x81"]["minimed"]
    bad = _corrupt(NGP["transmit_packet_response_time"]["minimed"])
    for _ in range(4):
        link.expect(ANY, ack, bad)
    session = _at_high_speed(link)
    with pytest.raises(MessageCorrupted) as caught:
        session.command(cmds.TIME_REQUEST)
    assert session.retried == 3
    assert "failed its CRC" in caught.value.message and "after 3 retries" in caught.value.message
    assert caught.value.kept and "Nothing from this read" in caught.value.kept


def test_a_retry_recovers_from_one_corrupted_answer() -> None:
    link = ScriptedLink()
    _joined(link)
    ack = NGP["transmit_packet_ack_0x81"]["minimed"]
    link.expect(ANY, ack, _corrupt(NGP["transmit_packet_response_time"]["minimed"]))
    link.expect(ANY, ack, NGP["transmit_packet_response_time"]["minimed"])
    session = _at_high_speed(link)
    session.ngp_sequence, session.frame_sequence = 0x7F, 0x7E  # the retry wraps to 2 and 1
    time = cmds.parse_time(session.command(cmds.TIME_REQUEST))
    assert time.rtc == 0x05F5E100 and session.retried == 1


def test_an_answer_to_another_message_is_refused() -> None:
    link = ScriptedLink()
    _joined(link)
    ack = NGP["transmit_packet_ack_0x81"]["minimed"]
    link.expect(ANY, ack, NGP["transmit_packet_response_time"]["minimed"])
    session = _at_high_speed(link)
    session.ngp_sequence = 2  # this request goes out as message 3; the answer is to 2
    with pytest.raises(ProtocolError, match="answered message 2 where 3"):
        session.command(cmds.TIME_REQUEST)


def test_a_wrong_link_key_is_named() -> None:
    link = ScriptedLink()
    _joined(link)
    link.expect(
        ANY,
        NGP["transmit_packet_ack_0x81"]["minimed"],
        NGP["transmit_packet_response_time"]["minimed"],
    )
    session = _at_high_speed(link)
    session.key = bytes(16)  # the link holds a key that is not the pump's
    with pytest.raises(WrongLinkKey) as caught:
        session.command(cmds.TIME_REQUEST)
    assert "pair them again" in caught.value.user_message()


def test_a_silent_pump_after_joining_is_out_of_range() -> None:
    link = ScriptedLink()
    _joined(link)
    link.expect(ANY, NGP["transmit_packet_ack_0x81"]["minimed"])
    session = _at_high_speed(link)
    with pytest.raises(PumpOutOfRange, match="stopped answering"):
        session.command(cmds.STATUS_REQUEST)


HISTORY = json.loads((VECTORS / "history.json").read_text())
PUMP_PLAIN = {
    m["name"]: m["plain"] for m in json.loads((VECTORS / "pump.json").read_text())["messages"]
}
SESSION = json.loads((VECTORS / "ngp.json").read_text())["session"]
ACK = NGP["transmit_packet_ack_0x81"]["minimed"]


def _from_pump(plain_hex: str, corrupt: bool = False) -> str:
    """A RECEIVE_MESSAGE carrying one plain pump frame of the vectors, encrypted with the
    vectors' key as the pump does (the link's and pump's MACs of the vectors)."""
    secret = ngp.encrypt(
        bytes.fromhex(SESSION["link_key"]), SESSION["radio_channel"], bytes.fromhex(plain_hex)
    )
    payload = (
        b"\x00\x06"
        + int(SESSION["pump_mac"], 16).to_bytes(8, "little")
        + int(SESSION["cnl_mac"], 16).to_bytes(8, "little")
        + b"\x05\x00\x00"
        + bytes([len(secret)])
        + secret
    )
    message = bytearray(mm.encode_message(mm.RECEIVE_MESSAGE, 1, ngp.encode_ngp(0x55, payload)))
    if corrupt:
        message[-1] ^= 0x01
        message[32] = (sum(message[:32]) + sum(message[33:])) & 0xFF
    return message.hex()


def _sent_frame(link: ScriptedLink, index: int) -> ngp.PumpFrame:
    """The plain pump frame inside the host's ``index``-th message."""
    message = link.sent[index]
    ngp_payload = ngp.decode_ngp(message[33:]).payload
    secret = ngp_payload[11 : 11 + ngp_payload[10]]
    plain = ngp.decrypt(bytes.fromhex(SESSION["link_key"]), SESSION["radio_channel"], secret)
    return ngp.decode_frame(plain)


def test_a_corrupted_history_packet_is_asked_for_again() -> None:
    session_vectors = HISTORY["session"]
    segments = session_vectors["segments"]
    link = ScriptedLink()
    _joined(link)
    link.expect(ANY, ACK, _from_pump(session_vectors["initiate"]))  # Read History
    answers = [_from_pump(s, corrupt=n == 3) for n, s in enumerate(segments)]
    link.expect(ANY, ACK, *answers)  # ACK of the initiation -> the segments
    link.expect(ANY, ACK, _from_pump(segments[3]))  # resend packet 3
    link.expect(  # ACK of the last segment -> end of history, the pump's high-speed message
        ANY,
        ACK,
        _from_pump(PUMP_PLAIN["end_history_transmission"]),
        _from_pump(PUMP_PLAIN["pump_high_speed_mode_after_history"]),
    )
    session = _at_high_speed(link)
    session.frame_sequence = 8  # the vectors' history exchange is numbered 9
    sessions = session.read_history(hist.PUMP_DATA, None)
    assert [s.hex() for s in sessions] == [session_vectors["hex"]]
    assert session.retried == 1 and not link.script
    resend = _sent_frame(link, -2)
    assert resend.command == hist.MULTIPACKET_RESEND_PACKETS
    assert resend.parameters == hist.resend_parameters(3, 1)
    acks = [_sent_frame(link, i) for i in (-3, -1)]
    assert [a.parameters for a in acks] == [
        hist.ack_parameters(hist.INITIATE_MULTIPACKET_TRANSFER),
        hist.ack_parameters(hist.MULTIPACKET_SEGMENT_TRANSMISSION),
    ]
