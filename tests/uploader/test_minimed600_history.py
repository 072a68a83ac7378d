"""MiniMed 600 history, host side, against the shared vectors (tests/vectors/minimed600/
history.json and pump.json, written by the emulator side): the transfer messages the host
sends, sessions, blocks, events, and what the events become."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from uploader.drivers.minimed600_history import Carry, interpret
from uploader.errors import ProtocolError
from uploader.protocols import minimed_history as h
from uploader.protocols import minimed_pump as cmds
from uploader.protocols import ngp
from uploader.protocols.minimed_errors import MessageCorrupted

VECTORS = Path(__file__).parents[1] / "vectors" / "minimed600"
HISTORY = json.loads((VECTORS / "history.json").read_text())
PUMP = {m["name"]: m for m in json.loads((VECTORS / "pump.json").read_text())["messages"]}
EVENTS = {e["name"]: e for e in HISTORY["events"]}


def _plain(name: str) -> bytes:
    return bytes.fromhex(PUMP[name]["plain"])


def test_the_host_sends_the_transfer_messages_of_the_vectors() -> None:
    info = _plain("history_info_request")
    assert (
        ngp.encode_frame(info[0], cmds.READ_HISTORY_INFO_REQUEST, h.request_parameters(2, None))
        == info
    )
    for name, acked in (
        ("ack_multipacket_initiate", h.INITIATE_MULTIPACKET_TRANSFER),
        ("ack_multipacket_segments", h.MULTIPACKET_SEGMENT_TRANSMISSION),
    ):
        plain = _plain(name)
        assert ngp.encode_frame(plain[0], h.ACK_COMMAND, h.ack_parameters(acked)) == plain
    resend = _plain("resend_packets")
    assert (
        ngp.encode_frame(resend[0], h.MULTIPACKET_RESEND_PACKETS, h.resend_parameters(3, 2))
        == resend
    )


def test_pump_refusal_and_end_of_history() -> None:
    nak = ngp.decode_frame(_plain("nak_response"))
    assert nak.command == h.NAK_COMMAND and h.parse_nak(nak.parameters) == (0x0304, 0x0F)
    assert (
        ngp.decode_frame(_plain("end_history_transmission")).command == h.END_HISTORY_TRANSMISSION
    )
    after = ngp.decode_frame(_plain("pump_high_speed_mode_after_history"))
    assert after.sequence == ngp.HIGH_SPEED_SEQUENCE


def test_history_info_answer() -> None:
    vector = HISTORY["history_info_response"]
    frame = ngp.decode_frame(bytes.fromhex(vector["plain"]))
    assert frame.command == h.READ_HISTORY_INFO_RESPONSE
    info = h.parse_history_info(frame.parameters)
    assert info.size == vector["size"]
    assert info.first.local.isoformat() == vector["start"]
    assert info.last.local.isoformat() == vector["end"]


def test_segments_reassemble_into_the_session_and_its_blocks() -> None:
    session = HISTORY["session"]
    initiate = ngp.decode_frame(bytes.fromhex(session["initiate"]))
    announced = h.parse_initiate(initiate.parameters)
    assert (announced.session_size, announced.packet_size, announced.packets) == (
        session["size"],
        session["packet_size"],
        session["packets"],
    )
    packets = dict(
        h.parse_segment(ngp.decode_frame(bytes.fromhex(s)).parameters) for s in session["segments"]
    )
    data = b"".join(packets[n] for n in range(announced.packets))
    assert data.hex() == session["hex"]
    parsed = h.parse_session(data)
    assert parsed.data_type == session["data_type"] and len(parsed.blocks) == 1
    assert parsed.blocks[0].hex() == HISTORY["block"]["hex"]


def test_a_block_is_checked_and_split_into_events() -> None:
    block = bytes.fromhex(HISTORY["block"]["hex"])
    data = h.block_data(block, 1)
    assert len(data) == HISTORY["block"]["data_size"]
    assert [e.type for e in h.split_events(data)] == [
        EVENTS[name]["type"] for name in HISTORY["block"]["events"]
    ]
    damaged = bytearray(block)
    damaged[20] ^= 0x40
    with pytest.raises(MessageCorrupted, match="block 1 failed its CRC"):
        h.block_data(bytes(damaged), 1)


@pytest.mark.parametrize("vector", HISTORY["events"], ids=lambda v: v["name"])
def test_every_event_header(vector: dict[str, Any]) -> None:
    (event,) = h.split_events(bytes.fromhex(vector["hex"]))
    assert event.type == vector["type"]
    assert event.local.isoformat() == vector["local"]
    assert len(event.body) == vector["size"] - h.EVENT_HEADER_SIZE


def test_a_cut_event_is_a_clear_error() -> None:
    with pytest.raises(ProtocolError, match="claims 22 bytes"):
        h.split_events(bytes.fromhex(EVENTS["normal_bolus_programmed"]["hex"])[:-3])


def _events(*names: str) -> list[h.RawEvent]:
    return [e for n in names for e in h.split_events(bytes.fromhex(EVENTS[n]["hex"]))]


def test_events_become_records() -> None:
    pump = _events(
        "basal_segment_start",
        "bg_reading_linked",
        "normal_bolus_programmed",
        "normal_bolus_delivered",
        "temp_basal_programmed",
        "temp_basal_complete",
        "square_bolus_programmed",
        "square_bolus_delivered",
        "insulin_delivery_stopped",
        "insulin_delivery_restarted",
        "rewind",
        "cannula_fill_tubing",
        "cannula_fill_cannula",
        "dual_bolus_programmed",
        "dual_bolus_part_delivered_normal",
        "dual_bolus_part_delivered_square",
        "alarm_notification",
        "user_time_date_change",
    )
    found = interpret(pump, _events("sensor_glucose_readings_extended"), Carry())
    boluses = {b.kind: b for b in found.history.boluses}
    assert (boluses["normal"].normal, boluses["normal"].device_time) == (
        4.5,
        datetime(2026, 11, 30, 7, 30),
    )
    assert (boluses["extended"].extended, boluses["extended"].duration_ms) == (3.0, 7_200_000)
    dual = boluses["combination"]
    assert (dual.normal, dual.extended, dual.duration_ms) == (2.0, 1.0, 40 * 60_000)
    assert (dual.expected_extended, dual.expected_duration_ms) == (1.5, 60 * 60_000)
    kinds = [
        (b.delivery_type, b.device_time.hour, b.duration_ms // 60_000) for b in found.history.basals
    ]
    # scheduled 00:00-09:00, the 70% temp 09:00-11:00 (these vectors have no segment start
    # after it), the suspend 15:00-15:30
    assert kinds == [("scheduled", 0, 540), ("temp", 9, 120), ("suspend", 15, 30)]
    assert found.history.basals[1].percent == 0.7
    statuses = [(e.status, e.reason) for e in found.history.events if e.kind == "status"]
    assert statuses == [("suspended", "manual"), ("resumed", "manual")]
    primes = [(e.prime_target, e.volume) for e in found.history.events if e.kind == "prime"]
    assert primes == [("tubing", 10.0), ("cannula", 0.3)]
    assert [e.alarm_type for e in found.history.events if e.kind == "alarm"] == ["low_insulin"]
    assert [(r.value, r.sub_type) for r in found.readings] == [(145.0, "linked")]
    (change,) = found.time_changes
    assert (change.from_time, change.to_time) == (
        datetime(2026, 11, 30, 22, 0),
        datetime(2026, 11, 30, 23, 0),
    )
    assert [(c.value_mg_dl, c.device_time.strftime("%H:%M")) for c in found.cgm] == [
        (118.0, "08:10"),
        (115.0, "08:05"),
        (110.0, "08:00"),
    ]
    assert found.carry.pump_rtc is not None and found.carry.sensor_rtc is not None


def test_the_carry_survives_the_cursor() -> None:
    carry = Carry(
        pump_rtc=5, sensor_rtc=7, temp={"percent": 0.5, "rate": None, "planned_end_rtc": 9}
    )
    assert Carry.from_json(json.loads(json.dumps(carry.to_json()))) == carry


def test_a_compressed_session_is_refused_clearly() -> None:
    data = bytearray.fromhex(HISTORY["session"]["hex"])
    data[11] = 1  # the compressed flag
    with pytest.raises(ProtocolError, match="LZO-compressed") as caught:
        h.parse_session(bytes(data))
    assert "nothing was uploaded" in caught.value.user_message()
