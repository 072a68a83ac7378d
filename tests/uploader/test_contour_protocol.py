"""The host side of the Contour protocol against the shared vectors (tests/vectors/contour_usb)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from uploader.errors import DeviceCommunicationError, DeviceTimeout, ProtocolError
from uploader.protocols.astm_e1381 import E1381Receiver, FrameError, frame_checksum, parse_frame
from uploader.protocols.contour_hid import ContourHidLink
from uploader.protocols.contour_records import (
    ContourResult,
    RecordError,
    parse_header,
    parse_record,
)


def test_every_vector_frame_parses(contour_frames: list[dict[str, Any]]) -> None:
    for vector in contour_frames:
        frame = parse_frame(bytes.fromhex(vector["frame_hex"]))
        assert frame.number == vector["frame_number"] % 8
        assert frame.text == vector["text"]
        assert frame.final == vector["final"]


def test_a_wrong_checksum_is_detected(contour_frames: list[dict[str, Any]]) -> None:
    good = bytes.fromhex(contour_frames[0]["frame_hex"])
    assert good[-4:-2] == b"D7"
    with pytest.raises(FrameError, match="checksum D8 != computed D7"):
        parse_frame(good[:-4] + b"D8" + good[-2:])
    with pytest.raises(FrameError, match="malformed"):
        parse_frame(good[:-2])  # no CR LF
    with pytest.raises(FrameError, match="no STX"):
        parse_frame(b"\x06")


def test_the_real_contour_header_parses(contour_frames: list[dict[str, Any]]) -> None:
    header = parse_header(contour_frames[0]["text"])
    assert header.product_code == "Bayer7390"
    assert header.serial_number == "7390-2336773"
    assert header.firmware_version == "01.24"
    assert header.other_versions == ("01.04", "09.02.20")
    assert header.sku == "7403-"
    assert header.unit == "mg/dL"
    assert (header.low_limit_mg_dl, header.high_limit_mg_dl) == (10, 600)
    assert header.result_count == 1714
    assert header.device_time == datetime(2019, 9, 22, 13, 4)
    assert header.config["X"] == "070070070070180130150250"


def test_result_records_parse(contour_frames: list[dict[str, Any]]) -> None:
    delims = parse_header(contour_frames[0]["text"]).delimiters
    results = [parse_record(v["text"], delims) for v in contour_frames[2:8]]
    assert all(isinstance(r, ContourResult) for r in results)
    plain, meal, low, high, control, mmol = [r for r in results if isinstance(r, ContourResult)]
    assert (plain.value_text, plain.unit, plain.method, plain.markers) == (
        "105",
        "mg/dL",
        "P",
        frozenset(),
    )
    assert plain.device_time == datetime(2019, 9, 21, 10, 7)
    assert meal.markers == {"B"}
    assert low.markers == {"<"} and high.markers == {">", "A"}
    assert control.markers == {"C"}
    assert (mmol.value_text, mmol.unit, mmol.markers) == ("7.3", "mmol/L", frozenset({"D", "I"}))
    assert parse_record("L|1||N\r", delims).kind == "L"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("R|1|^^^Glucose|105|mg/dL^P||||2019092110\r", "unreadable time"),
        ("R|x|^^^Glucose|105|mg/dL^P||||201909211007\r", "no sequence number"),
        ("R|1|^^^Glucose|105\r", "fields"),
        ("", "empty record"),
    ],
)
def test_broken_records_give_clear_errors(
    text: str, problem: str, contour_frames: list[dict[str, Any]]
) -> None:
    delims = parse_header(contour_frames[0]["text"]).delimiters
    with pytest.raises(RecordError, match=problem):
        parse_record(text, delims)


def test_broken_headers_give_clear_errors() -> None:
    with pytest.raises(RecordError, match="Expected a header"):
        parse_header("P|1")
    with pytest.raises(RecordError, match="serial number"):
        parse_header("H|\\^&||pw|Bayer7390|A=1|0")
    with pytest.raises(RecordError, match="unknown glucose unit"):
        parse_header("H|\\^&||pw|B^1^S^K|U=7|0")


class ReportPipe:
    """Packets in, packets out: a stand-in for a USB transport in link-level unit tests."""

    def __init__(self, incoming: list[bytes]) -> None:
        self.incoming = list(incoming)
        self.written: list[bytes] = []

    def write(self, data: bytes, timeout_ms: int) -> None:
        self.written.append(data)

    def read(self, timeout_ms: int) -> bytes:
        if not self.incoming:
            raise DeviceTimeout("nothing to read")
        return self.incoming.pop(0)


def test_hid_messages_are_reassembled_from_the_vector_reports(
    contour_hid_messages: list[dict[str, Any]],
) -> None:
    for vector in contour_hid_messages:
        pipe = ReportPipe([bytes.fromhex(r) for r in vector["in_reports_hex"]])
        assert ContourHidLink(pipe).receive() == bytes.fromhex(vector["message_hex"]), vector[
            "name"
        ]


def test_hid_send_writes_padded_reports() -> None:
    pipe = ReportPipe([])
    ContourHidLink(pipe).send(b"\x04")
    assert pipe.written == [b"ABC\x01\x04".ljust(64, b"\0")]


def test_a_report_claiming_too_much_payload_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="claims 61 bytes"):
        ContourHidLink(ReportPipe([b"ABC\x3d".ljust(64, b"\0")])).receive()


class ScriptedMeter:
    """Plays the meter's half of a vector session; checks every host message against it."""

    def __init__(self, exchange: list[dict[str, str]]) -> None:
        self.steps = [(s["from"], bytes.fromhex(s["hex"])) for s in exchange]

    def send(self, payload: bytes) -> None:
        who, expected = self.steps.pop(0)
        assert (who, payload) == ("host", expected)

    def receive(self, timeout_ms: int | None = None) -> bytes:
        if not self.steps or self.steps[0][0] != "meter":
            raise DeviceTimeout("the meter has nothing more to say")
        return self.steps.pop(0)[1]


@pytest.mark.parametrize("session", ["clean", "with-nak"])
def test_the_host_side_of_whole_sessions(session: str, contour_session: dict[str, Any]) -> None:
    meter = ScriptedMeter(contour_session["sessions"][session])
    receiver = E1381Receiver(meter)
    receiver.establish()
    texts = [frame.text for frame in receiver.frames()]
    assert texts == contour_session["records"]
    assert meter.steps == []  # every message of the session happened, in order
    assert receiver.naks_sent == (1 if session == "with-nak" else 0)


def test_a_repeated_frame_is_acked_and_dropped(contour_frames: list[dict[str, Any]]) -> None:
    header = bytes.fromhex(contour_frames[0]["frame_hex"])
    patient = bytes.fromhex(contour_frames[1]["frame_hex"])
    body = b"3L|1||N\r\x03"
    terminator = b"\x02" + body + frame_checksum(body).encode() + b"\r\n"
    meter = ScriptedMeter(
        [
            {"from": "meter", "hex": header.hex()},
            {"from": "host", "hex": "06"},
            {"from": "meter", "hex": patient.hex()},
            {"from": "host", "hex": "06"},
            {"from": "meter", "hex": patient.hex()},  # our ACK was lost: the meter resends
            {"from": "host", "hex": "06"},
            {"from": "meter", "hex": terminator.hex()},
            {"from": "host", "hex": "06"},
            {"from": "meter", "hex": "04"},
        ]
    )
    receiver = E1381Receiver(meter)
    assert [f.number for f in receiver.frames()] == [1, 2, 3]
    assert receiver.duplicates_dropped == 1


def test_a_meter_that_keeps_sending_bad_frames_is_given_up_on(
    contour_frames: list[dict[str, Any]],
) -> None:
    bad = bytearray.fromhex(contour_frames[0]["frame_hex"])
    bad[-3] ^= 0x01  # spoil the checksum
    exchange: list[dict[str, str]] = []
    for _ in range(5):
        exchange += [{"from": "meter", "hex": bad.hex()}, {"from": "host", "hex": "15"}]
    exchange.append({"from": "meter", "hex": bad.hex()})
    receiver = E1381Receiver(ScriptedMeter(exchange))
    with pytest.raises(
        ProtocolError, match=r"its record 1 \(the header being 1\) arrived damaged 6 times in a row"
    ):
        list(receiver.frames())


def test_an_early_eot_means_the_meter_gave_up() -> None:
    receiver = E1381Receiver(ScriptedMeter([{"from": "meter", "hex": "04"}]))
    with pytest.raises(DeviceCommunicationError, match="ended the transfer before its last record"):
        list(receiver.frames())


def test_establishment_retries_then_gives_a_clear_error() -> None:
    exchange: list[dict[str, str]] = []
    for _ in range(5):
        exchange += [{"from": "host", "hex": "04"}, {"from": "meter", "hex": "15"}]
    receiver = E1381Receiver(ScriptedMeter(exchange))
    with pytest.raises(ProtocolError, match="did not accept a transfer after 5 attempts"):
        receiver.establish()


def test_a_silent_meter_is_a_timeout_not_a_nak(contour_frames: list[dict[str, Any]]) -> None:
    """NAKing a silence would desynchronise the ends when the frame arrives late after all."""
    header = contour_frames[0]["frame_hex"]
    meter = ScriptedMeter([{"from": "meter", "hex": header}, {"from": "host", "hex": "06"}])
    receiver = E1381Receiver(meter)
    frames = receiver.frames()
    assert next(frames).number == 1
    with pytest.raises(
        DeviceTimeout, match=r"stopped sending in the middle of its data \(after record 1\)"
    ):
        next(frames)
    assert receiver.naks_sent == 0


def test_a_repeated_last_frame_does_not_spoil_a_complete_transfer(
    contour_frames: list[dict[str, Any]],
) -> None:
    body = b"1L|1||N\r\x03"
    terminator = (b"\x02" + body + frame_checksum(body).encode() + b"\r\n").hex()
    meter = ScriptedMeter(
        [
            {"from": "meter", "hex": terminator},
            {"from": "host", "hex": "06"},
            {"from": "meter", "hex": terminator},  # the meter did not hear our ACK
            {"from": "host", "hex": "06"},
            {"from": "meter", "hex": "04"},
        ]
    )
    receiver = E1381Receiver(meter)
    assert [f.text for f in receiver.frames()] == ["L|1||N\r"]
    assert receiver.duplicates_dropped == 1 and meter.steps == []


def test_a_missing_eot_after_the_last_frame_is_only_a_note() -> None:
    body = b"1L|1||N\r\x03"
    terminator = (b"\x02" + body + frame_checksum(body).encode() + b"\r\n").hex()
    receiver = E1381Receiver(
        ScriptedMeter([{"from": "meter", "hex": terminator}, {"from": "host", "hex": "06"}])
    )
    assert len(list(receiver.frames())) == 1
    assert receiver.notes == ["The meter did not end the transfer with EOT (data complete)."]
