"""The emulated Contour Next Link 2.4 and MiniMed 600 pump produce the shared vectors.

Vectors: tests/vectors/minimed600/{control,minimed,ngp,pump,history}.json (written from
packetStructure.md and public facts by a one-off script, not by this code)."""

from __future__ import annotations

import json
import struct
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from emulator.protocols import minimed600 as mm
from emulator.protocols import minimed600_pump as pump
from emulator.protocols.contour_hid import encode_in_reports
from emulator.protocols.e1381 import encode_frame
from emulator.protocols.minimed600_wizard import WizardEstimate, bolus_wizard_estimate_body

VECTORS = Path(__file__).parents[1] / "vectors" / "minimed600"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / name).read_text())
    return data


CONTROL, MINIMED, NGP, PUMP, HISTORY = (
    load(n) for n in ("control.json", "minimed.json", "ngp.json", "pump.json", "history.json")
)
SESSION = MINIMED["session"]
KEY = bytes.fromhex(SESSION["link_key"])
CHANNEL = SESSION["radio_channel"]
CNL_MAC, PUMP_MAC = int(SESSION["cnl_mac"], 16), int(SESSION["pump_mac"], 16)


def by_name(items: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(item for item in items if item["name"] == name)


def test_device_info_answer_is_eot_header_frame_then_enq() -> None:
    info = CONTROL["device_info"]
    answer = b"\x04" + encode_frame(1, info["header_record"], final=False)
    assert [answer.hex(), "05"] == info["answers"]
    reports = [r.hex() for r in encode_in_reports(answer)]
    assert reports == CONTROL["hid"]["in_reports"]
    exact = bytes.fromhex(CONTROL["hid"]["exactly_60"]["message"])
    assert [r.hex() for r in encode_in_reports(exact)] == CONTROL["hid"]["exactly_60"]["in_reports"]


def test_hmac_and_packed_link_key() -> None:
    assert mm.hmac_for(MINIMED["hmac"]["serial"]).hex() == MINIMED["hmac"]["hmac"]
    packed = by_name(MINIMED["messages"], "request_link_key_response")["fields"]
    assert mm.pack_link_key(KEY, SESSION["cnl_serial"]).hex() == packed["packed_link_key"]


@pytest.mark.parametrize("vector", MINIMED["messages"], ids=lambda v: v["name"])
def test_minimed_messages(vector: dict[str, Any]) -> None:
    raw = bytes.fromhex(vector["hex"])
    payload = bytes.fromhex(vector["payload"])
    assert mm.encode_minimed(vector["operation"], vector["sequence"], payload) == raw
    decoded = mm.decode_minimed(raw)
    assert (decoded.operation, decoded.sequence, decoded.payload) == (
        vector["operation"],
        vector["sequence"],
        payload,
    )


def test_read_info_payload() -> None:
    vector = by_name(MINIMED["messages"], "read_info_response")
    assert mm.read_info_payload(CNL_MAC, PUMP_MAC, 1, 1).hex() == vector["payload"]


def test_corrupted_minimed_checksum_is_refused() -> None:
    raw = bytearray(bytes.fromhex(by_name(MINIMED["messages"], "read_info_request")["hex"]))
    raw[32] ^= 0xFF
    with pytest.raises(mm.MessageError, match="checksum"):
        mm.decode_minimed(bytes(raw))


def test_crc_and_encryption() -> None:
    assert mm.crc16(b"123456789") == NGP["crc16_ccitt"][0]["crc"]
    enc = NGP["encryption"]
    assert mm.iv_for(KEY, CHANNEL).hex() == enc["iv"]
    assert mm.encrypt(KEY, CHANNEL, bytes.fromhex(enc["plain"])).hex() == enc["cipher"]
    assert mm.decrypt(KEY, CHANNEL, bytes.fromhex(enc["cipher"])).hex() == enc["plain"]


def test_ngp_requests_decode() -> None:
    for name, channel in (
        ("join_network_request", 0x14),
        ("join_network_request_right_channel", CHANNEL),
    ):
        vector = by_name(NGP["messages"], name)
        outer = mm.decode_minimed(bytes.fromhex(vector["minimed"]))
        message = mm.decode_ngp(outer.payload)
        assert message.command == 0x03
        join = mm.decode_join_request(message.payload)
        assert (join.channel, join.cnl_mac, join.pump_mac) == (channel, CNL_MAC, PUMP_MAC)
    vector = by_name(NGP["messages"], "transmit_packet_request_time")
    request = mm.decode_transmit_request(mm.decode_ngp(bytes.fromhex(vector["hex"])).payload)
    assert request.pump_mac == PUMP_MAC and request.mode_flags == 0x11
    plain = mm.decrypt(KEY, CHANNEL, request.encrypted)
    assert plain.hex() == vector["fields"]["plain"]
    assert mm.decode_comd(plain).command == 0x0403


def test_ngp_answers_encode() -> None:
    joined = by_name(NGP["messages"], "join_network_response_joined")
    payload = mm.join_network_joined(1234567, PUMP_MAC, CNL_MAC, CHANNEL)
    assert mm.encode_minimed(0x80, 5, mm.encode_ngp(0x55, payload)).hex() == joined["minimed"]
    offsets = joined["fields"]["offsets_in_minimed_message"]
    raw = bytes.fromhex(joined["minimed"])
    assert (raw[offsets["0x82"]], raw[offsets["0x42"]], raw[offsets["channel"]]) == (
        0x82,
        0x42,
        CHANNEL,
    )
    assert mm.send_ack(0x03).hex() == by_name(NGP["messages"], "join_network_ack_0x81")["hex"]
    assert mm.send_ack(0x05).hex() == by_name(NGP["messages"], "transmit_packet_ack_0x81")["hex"]
    response = by_name(NGP["messages"], "transmit_packet_response_time")
    encrypted = mm.encrypt(KEY, CHANNEL, bytes.fromhex(response["fields"]["plain"]))
    body = mm.transmit_response(PUMP_MAC, CNL_MAC, 2, encrypted)
    assert mm.encode_minimed(0x80, 6, mm.encode_ngp(0x55, body)).hex() == response["minimed"]


def test_corrupted_ngp_crc_is_refused() -> None:
    raw = mm.encode_ngp(0x55, b"\x00\x05", corrupt_crc=True)
    with pytest.raises(mm.MessageError, match="CRC"):
        mm.decode_ngp(raw)


def _plain(name: str) -> bytes:
    return bytes.fromhex(by_name(PUMP["messages"], name)["plain"])


@pytest.mark.parametrize(
    "name",
    [
        "high_speed_mode_enable",
        "time_request",
        "status_request",
        "basal_pattern_request",
        "carb_ratios_request",
        "sensitivity_request",
        "targets_request",
        "history_info_request",
        "ack_multipacket_initiate",
        "resend_packets",
    ],
)
def test_pump_requests_decode(name: str) -> None:
    raw = _plain(name)
    message = mm.decode_comd(raw)
    assert mm.encode_comd(message.sequence, message.command, message.parameters) == raw


def test_pump_answers_encode() -> None:
    t = PUMP["pump_time"]
    local = datetime.fromisoformat(t["local"])
    utc = datetime.fromisoformat(t["utc"]).astimezone(UTC)
    assert pump.ngp_timestamp(local, utc).hex() == t["hex"]
    assert mm.encode_comd(1, 0x0407, pump.time_response(local, utc)) == _plain("time_response")
    assert mm.encode_comd(
        3, 0x0123, pump.basal_pattern_response(1, [(0, 0.8), (360, 1.1), (1320, 0.9)])
    ) == _plain("basal_pattern_response")
    assert mm.encode_comd(4, 0x012C, pump.carb_ratios_response([(0, 10.0), (660, 12.0)])) == _plain(
        "carb_ratios_response"
    )
    assert mm.encode_comd(5, 0x012F, pump.sensitivity_response([(0, 50)])) == _plain(
        "sensitivity_response"
    )
    assert mm.encode_comd(6, 0x0132, pump.targets_response([(0, 100, 120)])) == _plain(
        "targets_response"
    )
    assert mm.encode_comd(9, 0x00FF, struct.pack(">HB", 0x0304, 0x0F)) == _plain("nak_response")
    assert mm.encode_comd(9, 0x030A) == _plain("end_history_transmission")


def test_status_answer() -> None:
    f = by_name(PUMP["messages"], "status_response")["fields"]
    sgv_ts = pump.ngp_timestamp(
        datetime.fromisoformat(f["sgv_local"]), datetime(2026, 12, 1, 12, 55, tzinfo=UTC)
    )
    status = pump.PumpStatus(
        suspended=False,
        bolusing=False,
        temp_active=False,
        cgm_active=True,
        active_pattern=1,
        normal_rate=0.8,
        temp_rate=0.0,
        temp_percent=0,
        temp_minutes_left=0,
        basal_today=5.2,
        battery_percent=75,
        reservoir=123.45,
        hours_left=25,
        minutes_left=0,
        active_insulin=1.5,
        sgv=112,
        sgv_timestamp=sgv_ts,
    )
    assert pump.status_response(status, 7) == _plain("status_response")


def _event(name: str) -> dict[str, Any]:
    return by_name(HISTORY["events"], name)


def _encode(name: str, event_type: int, body: bytes) -> None:
    vector = _event(name)
    local = datetime.fromisoformat(vector["local"])
    utc = (local.replace(tzinfo=UTC)) + (datetime(2000, 1, 1, 5) - datetime(2000, 1, 1))
    assert pump.event(event_type, local, utc, body).hex() == vector["hex"], name


def test_history_events() -> None:
    _encode("basal_segment_start", 0x1D, pump.basal_segment_start(1, 0, 0.8))
    _encode("normal_bolus_programmed", 0x15, pump.normal_bolus_programmed(1, 1, 4.5, 0.5))
    _encode("normal_bolus_delivered", 0xDC, pump.normal_bolus_delivered(1, 1, 4.5, 4.5, 5.0))
    _encode("square_bolus_programmed", 0x16, pump.square_bolus_programmed(0, 2, 3.0, 120))
    _encode("square_bolus_delivered", 0xDD, pump.square_bolus_delivered(0, 2, 3.0, 3.0, 120, 120))
    _encode("dual_bolus_programmed", 0x17, pump.dual_bolus_programmed(1, 3, 2.0, 1.5, 60))
    _encode(
        "dual_bolus_part_delivered_normal",
        0xDE,
        pump.dual_bolus_part_delivered(1, 3, 2.0, 1.5, 2.0, 1, 60, 0, 2.5),
    )
    _encode(
        "dual_bolus_part_delivered_square",
        0xDE,
        pump.dual_bolus_part_delivered(1, 3, 2.0, 1.5, 1.0, 2, 60, 40, 3.0),
    )
    _encode("temp_basal_programmed", 0x1B, pump.temp_basal(1, 0, 70, 120))
    _encode("temp_basal_complete", 0x22, pump.temp_basal_complete(1, 0, 70, 120, False))
    _encode("insulin_delivery_stopped", 0x1E, bytes([2]))
    _encode("insulin_delivery_restarted", 0x1F, bytes([1]))
    _encode("rewind", 0x36, b"")
    _encode("cannula_fill_tubing", 0x1A, pump.cannula_fill(0, 10.0, 290.0))
    _encode("cannula_fill_cannula", 0x1A, pump.cannula_fill(1, 0.3, 289.7))
    _encode("bg_reading_linked", 0x32, pump.bg_reading_body(145, 1, "BG12345678"))
    _encode("bg_reading_manual", 0x32, pump.bg_reading_body(98, 2, None))
    _encode("alarm_notification", 0x28, pump.alarm(104))
    new_local = datetime(2026, 11, 30, 23, 0)
    new_utc = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    _encode("user_time_date_change", 0x03, pump.ngp_timestamp(new_local, new_utc))
    _encode("basal_pattern_selected", 0x1C, bytes([1, 2]))
    readings = [pump.SensorReading(sg, 21.5, 0.6) for sg in (118, 115, 110)]
    _encode("sensor_glucose_readings_extended", 0xD6, pump.sensor_readings_body(readings, 120))


def _wizard_of(fields: dict[str, Any]) -> WizardEstimate:
    return WizardEstimate(
        bg_input=fields["bg_input"],
        carb_input=fields["carb_input"],
        isf=fields["isf"],
        carb_ratio=fields["carb_ratio"],
        bg_target_low=fields["bg_target_low"],
        bg_target_high=fields["bg_target_high"],
        correction=fields["correction_estimate"],
        food=fields["food_estimate"],
        active_insulin=fields["active_insulin"],
        active_insulin_adjustment=fields["active_insulin_adjustment"],
        estimate=fields["wizard_estimate"],
        final=fields["final_estimate"],
    )


@pytest.mark.parametrize(
    "name", ["bolus_wizard_estimate_modified", "bolus_wizard_estimate_below_target"]
)
def test_bolus_wizard_estimate_event(name: str) -> None:
    fields = _event(name)["fields"]
    wizard = _wizard_of(fields)
    assert wizard.modified is fields["modified_by_user"]
    _encode(name, 0x3D, bolus_wizard_estimate_body(wizard))
    raw = bytes.fromhex(_event(name)["hex"])
    assert raw[2] == len(raw) == _event(name)["size"] == 53
    # The link a host follows: the final estimate is the programmed total of the bolus after it.
    bolus = _event(fields["linked_bolus"])
    programmed = bolus["fields"].get("programmed")
    if programmed is None:
        programmed = bolus["fields"]["normal"] + bolus["fields"]["square"]
    assert struct.unpack(">I", raw[49:53])[0] / 10000 == programmed == fields["final_estimate"]
    assert bolus["fields"]["source"] == 1 and bolus["local"] == _event(name)["local"]


def test_history_block_session_and_segments() -> None:
    events = [bytes.fromhex(e["hex"]) for e in HISTORY["events"][:3]]
    blocks = pump.history_blocks(events)
    assert [b.hex() for b in blocks] == [HISTORY["block"]["hex"]]
    session = pump.history_session(0x02, blocks)
    assert session.hex() == HISTORY["session"]["hex"]
    initiate, segments = pump.multipacket(9, session)
    assert initiate.hex() == HISTORY["session"]["initiate"]
    assert [s.hex() for s in segments] == HISTORY["session"]["segments"]
    info = HISTORY["history_info_response"]
    first, last = events[0][3:11], events[2][3:11]
    assert pump.history_info(8, 2048, first, last).hex() == info["plain"]


# ---- the host side's vectors (host_*.json): the device reads its requests, writes its answers


def test_host_minimed_vectors() -> None:
    host = load("host_minimed.json")
    assert mm.hmac_for(host["link_serial"]).hex() == host["hmac"]
    for vector in host["messages"]:
        payload = bytes.fromhex(vector["payload"])
        raw = mm.encode_minimed(vector["operation"], vector["sequence"], payload)
        assert raw.hex() == vector["hex"], vector["name"]
    with pytest.raises(mm.MessageError):
        mm.decode_minimed(bytes.fromhex(host["corrupted"]["hex"]))


def test_host_ngp_vectors() -> None:
    host = load("host_ngp.json")
    key, channel = bytes.fromhex(host["aes_key"]), host["channel"]
    link_mac, pump_mac = int(host["link_mac"], 16), int(host["pump_mac"], 16)
    assert mm.crc16(bytes.fromhex(host["crc_check"]["data"])) == host["crc_check"]["crc"]
    join = mm.decode_join_request(mm.decode_ngp(bytes.fromhex(host["join_request"]["hex"])).payload)
    assert (join.channel, join.cnl_mac, join.pump_mac) == (channel, link_mac, pump_mac)
    joined = host["join_response_joined"]
    payload = mm.join_network_joined(joined["pump_serial"], pump_mac, link_mac, joined["channel"])
    assert mm.encode_ngp(0x55, payload).hex() == joined["hex"]
    request = host["transmit_time_request"]
    sent = mm.decode_transmit_request(mm.decode_ngp(bytes.fromhex(request["hex"])).payload)
    assert mm.decrypt(key, channel, sent.encrypted).hex() == request["frame"]
    answer = host["transmit_time_response"]
    encrypted = mm.encrypt(key, channel, bytes.fromhex(answer["frame"]))
    body = mm.transmit_response(pump_mac, link_mac, answer["sequence"], encrypted)
    assert mm.encode_ngp(0x55, body).hex() == answer["hex"]
    with pytest.raises(mm.MessageError):
        mm.decode_ngp(bytes.fromhex(host["transmit_time_response_bad_crc"]["hex"]))


def test_host_pump_frames_decode() -> None:
    host = load("host_pump.json")
    for frame in host["frames"]:
        message = mm.decode_comd(bytes.fromhex(frame["hex"]))
        assert (message.sequence, message.command) == (frame["sequence"], frame["command"])
    by = {f["name"]: f for f in host["frames"]}
    pattern = by["basal pattern response"]
    schedule = [(start, rate) for start, rate in pattern["decoded"]["segments"]]
    encoded = pump.basal_pattern_response(pattern["decoded"]["number"], schedule)
    assert encoded.hex() == pattern["parameters"]
    targets = by["bolus wizard targets response"]
    assert pump.targets_response(targets["decoded"]).hex() == targets["parameters"]
    factors = by["sensitivities response"]
    assert pump.sensitivity_response(factors["decoded"]).hex() == factors["parameters"]
