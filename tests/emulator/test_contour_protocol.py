"""The meter side of the Contour protocol against the shared vectors (tests/vectors/contour_usb)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from emulator.devices.contour_usb import ContourUsbMeter
from emulator.faults import CorruptChecksum, FaultPlan
from emulator.model import DeviceClock, MeterModel, MeterReading, ReadingFlag
from emulator.protocols.contour_hid import decode_out_report, encode_in_reports
from emulator.protocols.e1381 import ACK, EOT, NAK, E1381Sender, encode_frame
from emulator.usb import EmulatedUsbBackend

EOT_B, ACK_B, NAK_B = bytes([EOT]), bytes([ACK]), bytes([NAK])


def test_frames_match_the_vectors(contour_frames: list[dict[str, Any]]) -> None:
    for vector in contour_frames:
        frame = encode_frame(vector["frame_number"], vector["text"], final=vector["final"])
        assert frame.hex() == vector["frame_hex"], vector["name"]


def test_the_real_header_checksum_is_d7(contour_frames: list[dict[str, Any]]) -> None:
    real = contour_frames[0]
    frame = encode_frame(1, real["text"], final=False)
    assert frame[-4:-2] == b"D7"


def test_hid_reports_match_the_vectors(contour_hid_messages: list[dict[str, Any]]) -> None:
    for vector in contour_hid_messages:
        reports = encode_in_reports(bytes.fromhex(vector["message_hex"]))
        assert [r.hex() for r in reports] == vector["in_reports_hex"], vector["name"]
        assert all(len(r) == 64 for r in reports)


def test_out_reports_are_decoded_and_bad_lengths_clamped() -> None:
    assert decode_out_report(b"ABC\x01\x04".ljust(64, b"\0")) == b"\x04"
    assert decode_out_report(b"ABC\xff" + b"x" * 60) == b"x" * 60
    assert decode_out_report(b"AB") == b""


def _session_meter(spec: dict[str, Any], faults: FaultPlan | None = None) -> ContourUsbMeter:
    meter_spec = spec["meter"]
    clock_time = datetime.fromisoformat(meter_spec["clock"])
    model = MeterModel(
        serial_number=meter_spec["serial_number"],
        model_name="Contour Next USB",
        firmware_version="01.24",
        low_limit_mg_dl=meter_spec["low_limit_mg_dl"],
        high_limit_mg_dl=meter_spec["high_limit_mg_dl"],
        clock=DeviceClock(time_source=lambda: clock_time),
    )
    model.load_history(
        MeterReading(
            datetime.fromisoformat(r["device_time"]),
            r["value_mg_dl"],
            frozenset(ReadingFlag(f) for f in r["flags"]),
        )
        for r in meter_spec["readings"]
    )
    return ContourUsbMeter(model, faults=faults)


def _replay(meter: ContourUsbMeter, exchange: list[dict[str, str]]) -> None:
    """Play the host's messages; check every meter message the vector expects, in order."""
    sender = meter.link
    pending: list[bytes] = []
    for step in exchange:
        data = bytes.fromhex(step["hex"])
        if step["from"] == "host":
            assert not pending, f"meter sent more than expected: {pending}"
            pending = sender.receive(data)
        else:
            assert pending, f"meter sent nothing; expected {data!r}"
            assert pending.pop(0) == data
    assert not pending


def test_clean_session_matches_the_vector(contour_session: dict[str, Any]) -> None:
    _replay(_session_meter(contour_session), contour_session["sessions"]["clean"])


def test_a_nak_gets_the_same_frame_again(contour_session: dict[str, Any]) -> None:
    plan = FaultPlan([CorruptChecksum(frame=2, times=1)])
    _replay(_session_meter(contour_session, plan), contour_session["sessions"]["with-nak"])
    assert plan.fired == ["corrupted checksum of frame 2 (send 1)"]


def test_the_meter_gives_up_after_six_failed_sends() -> None:
    sender = E1381Sender(lambda: ["H|\\^&|\r", "P|1\r", "L|1||N\r"])
    sender.receive(EOT_B)
    first = sender.receive(ACK_B)[0]
    answers = [sender.receive(NAK_B)[0] for _ in range(6)]
    assert answers[:5] == [first] * 5  # resent five times...
    assert answers[5] == EOT_B  # ...then the sixth failure ends the transfer
    assert sender.gave_up


def test_any_other_character_counts_as_a_nak_and_eot_restarts() -> None:
    sender = E1381Sender(lambda: ["H|\\^&|\r", "L|1||N\r"])
    establishment = sender.receive(EOT_B)[0]
    assert establishment.startswith(EOT_B) and establishment.endswith(b"\x05")
    header = sender.receive(ACK_B)[0]
    assert sender.receive(b"?")[0] == header
    assert sender.receive(EOT_B) == [establishment]


def test_idle_meter_naks_an_unexpected_ack() -> None:
    assert E1381Sender(lambda: ["H|\\^&|\r"]).receive(ACK_B) == [NAK_B]


def test_whole_transfer_through_usb_reports(contour_session: dict[str, Any]) -> None:
    """The same clean session, byte for byte, through the USB device's report handling."""
    meter = _session_meter(contour_session)
    EmulatedUsbBackend().plug(meter)
    meter.configuration = 1
    received: list[bytes] = []
    for step in contour_session["sessions"]["clean"]:
        data = bytes.fromhex(step["hex"])
        if step["from"] == "host":
            meter.write_out(0x01, (b"ABC" + bytes([len(data)]) + data).ljust(64, b"\0"))
            continue
        message = b""
        while True:
            report = meter.read_in(0x81, 64, 100)
            message += report[4 : 4 + report[3]]
            if report[3] < 60:
                break
        received.append(message)
        assert message == data
    assert received
