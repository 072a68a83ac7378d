"""MiniMed 600-series host side against the shared vectors (tests/vectors/minimed600/):
the host's own (host_*.json, written from packetStructure.md) and the emulator side's
(minimed.json, ngp.json), which must agree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from uploader.errors import ProtocolError
from uploader.protocols import minimed_link as mm
from uploader.protocols import minimed_pump as cmds
from uploader.protocols import ngp
from uploader.protocols.minimed_errors import MessageCorrupted, WrongLinkKey

VECTORS = Path(__file__).parents[1] / "vectors" / "minimed600"


def load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text())


HOST_MM, HOST_NGP, HOST_PUMP = (
    load("host_minimed.json"),
    load("host_ngp.json"),
    load("host_pump.json"),
)
DEV_MM, DEV_NGP = load("minimed.json"), load("ngp.json")


def _all_minimed() -> list[dict[str, Any]]:
    return list(HOST_MM["messages"]) + list(DEV_MM["messages"])


@pytest.mark.parametrize("vector", _all_minimed(), ids=lambda v: v["name"])
def test_minimed_message_round_trip(vector: dict[str, Any]) -> None:
    payload = bytes.fromhex(vector["payload"])
    assert (
        mm.encode_message(vector["operation"], vector["sequence"], payload).hex() == vector["hex"]
    )
    decoded = mm.decode_message(bytes.fromhex(vector["hex"]))
    assert (decoded.operation, decoded.sequence, decoded.payload) == (
        vector["operation"],
        vector["sequence"],
        payload,
    )


def test_minimed_checksum_is_checked() -> None:
    with pytest.raises(MessageCorrupted, match="checksum"):
        mm.decode_message(bytes.fromhex(HOST_MM["corrupted"]["hex"]))


def test_minimed_message_too_short_is_a_clear_error() -> None:
    with pytest.raises(ProtocolError, match="at least 33"):
        mm.decode_message(b"\x15")


def test_hmac_and_key_from_both_vector_sets() -> None:
    assert mm.open_connection_hmac(HOST_MM["link_serial"]).hex() == HOST_MM["hmac"]
    assert mm.open_connection_hmac(DEV_MM["hmac"]["serial"]).hex() == DEV_MM["hmac"]["hmac"]
    packed = bytes.fromhex(HOST_MM["link_key"])
    assert mm.aes_key(packed, HOST_MM["link_serial"]).hex() == HOST_MM["aes_key"]
    response = next(m for m in DEV_MM["messages"] if m["name"] == "request_link_key_response")
    key = mm.aes_key(bytes.fromhex(response["payload"]), DEV_MM["session"]["cnl_serial"])
    assert key.hex() == response["fields"]["key"] == DEV_MM["session"]["link_key"]


def test_link_key_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ProtocolError, match="54-byte link key"):
        mm.aes_key(bytes(54), "6213-1234567")


def test_read_info_fields() -> None:
    response = next(m for m in DEV_MM["messages"] if m["name"] == "read_info_response")
    info = mm.parse_read_info(bytes.fromhex(response["payload"]))
    fields = response["fields"]
    assert f"{info.link_mac:016x}" == fields["cnl_mac"]
    assert f"{info.pump_mac:016x}" == fields["pump_mac"]
    assert (info.link_counter, info.mode_flags, info.encrypted) == (
        fields["link_counter"],
        fields["mode_flags"],
        fields["encrypted"],
    )


def test_crc_check_values() -> None:
    assert ngp.crc16_ccitt(bytes.fromhex(HOST_NGP["crc_check"]["data"])) == 0x29B1
    for case in DEV_NGP["crc16_ccitt"]:
        data = case["ascii"].encode() if "ascii" in case else bytes.fromhex(case["hex"])
        assert ngp.crc16_ccitt(data) == case["crc"]


def _mac(text: str) -> int:
    return int(text, 16)


def test_join_request_matches_both_sets() -> None:
    link, pump = _mac(HOST_NGP["link_mac"]), _mac(HOST_NGP["pump_mac"])
    request = HOST_NGP["join_request"]
    assert ngp.join_network_request(request["channel"], link, pump).hex() == request["hex"]
    session = DEV_NGP["session"]
    for vector in DEV_NGP["messages"]:
        if vector["name"].startswith("join_network_request"):
            built = ngp.join_network_request(
                vector["channel"], _mac(session["cnl_mac"]), _mac(session["pump_mac"])
            )
            assert built.hex() == vector["hex"]
            assert (
                mm.encode_message(mm.SEND_MESSAGE, _mm_seq(vector), built).hex()
                == (vector["minimed"])
            )


def _mm_seq(vector: dict[str, Any]) -> int:
    return mm.decode_message(bytes.fromhex(vector["minimed"])).sequence


def test_join_responses_joined_and_not() -> None:
    session = DEV_NGP["session"]
    link, pump = _mac(session["cnl_mac"]), _mac(session["pump_mac"])
    by_name = {v["name"]: v for v in DEV_NGP["messages"]}
    joined = ngp.decode_ngp(bytes.fromhex(by_name["join_network_response_joined"]["hex"]))
    result = ngp.parse_join_response(joined.payload, link, pump)
    fields = by_name["join_network_response_joined"]["fields"]
    assert (result.joined, result.channel, result.pump_serial) == (
        True,
        fields["channel"],
        fields["pump_serial_number"],
    )
    not_joined = ngp.decode_ngp(bytes.fromhex(by_name["join_network_response_not_joined"]["hex"]))
    assert not ngp.parse_join_response(not_joined.payload, link, pump).joined
    host = ngp.decode_ngp(bytes.fromhex(HOST_NGP["join_response_joined"]["hex"]))
    mine = ngp.parse_join_response(
        host.payload, _mac(HOST_NGP["link_mac"]), _mac(HOST_NGP["pump_mac"])
    )
    assert (mine.channel, mine.pump_serial) == (
        HOST_NGP["join_response_joined"]["channel"],
        HOST_NGP["join_response_joined"]["pump_serial"],
    )
    with pytest.raises(ProtocolError, match="not this link"):
        ngp.parse_join_response(joined.payload, link + 1, pump)


def test_link_acknowledgements_decode() -> None:
    for vector in DEV_NGP["messages"]:
        if vector["name"].endswith("ack_0x81"):
            message = ngp.decode_ngp(bytes.fromhex(vector["hex"]))
            assert message.command == ngp.COMMAND_RESPONSE


def test_transmit_request_and_response_emulator_vectors() -> None:
    session = DEV_NGP["session"]
    key, channel = bytes.fromhex(session["link_key"]), session["radio_channel"]
    by_name = {v["name"]: v for v in DEV_NGP["messages"]}
    request = by_name["transmit_packet_request_time"]
    fields = request["fields"]
    built = ngp.transmit_request(
        _mac(session["pump_mac"]),
        fields["ngp_sequence"],
        fields["mode_flags"],
        key,
        channel,
        bytes.fromhex(fields["plain"]),
    )
    assert built.hex() == request["hex"]
    response = by_name["transmit_packet_response_time"]
    parsed = ngp.parse_transmit_response(ngp.decode_ngp(bytes.fromhex(response["hex"])).payload)
    assert parsed.sequence == response["fields"]["ngp_sequence"]
    assert f"{parsed.pump_mac:016x}" == session["pump_mac"]
    plain = ngp.decrypt(key, channel, parsed.encrypted)
    assert plain.hex() == response["fields"]["plain"]
    frame = ngp.decode_frame(plain)
    assert frame.command == cmds.TIME_RESPONSE
    enc = DEV_NGP["encryption"]
    assert (
        ngp.encrypt(bytes.fromhex(enc["key"]), enc["channel"], bytes.fromhex(enc["plain"])).hex()
        == enc["cipher"]
    )


def test_transmit_host_vectors_and_faults() -> None:
    key, channel = bytes.fromhex(HOST_NGP["aes_key"]), HOST_NGP["channel"]
    pump = _mac(HOST_NGP["pump_mac"])
    for name in ("transmit_time_request", "high_speed_on"):
        vector = HOST_NGP[name]
        built = ngp.transmit_request(
            pump, vector["sequence"], vector["mode"], key, channel, bytes.fromhex(vector["frame"])
        )
        assert built.hex() == vector["hex"]
    response = HOST_NGP["transmit_time_response"]
    parsed = ngp.parse_transmit_response(ngp.decode_ngp(bytes.fromhex(response["hex"])).payload)
    assert parsed.encrypted.hex() == response["encrypted"]
    assert ngp.decrypt(key, channel, parsed.encrypted).hex() == response["frame"]
    with pytest.raises(MessageCorrupted, match="CRC"):
        ngp.decode_ngp(bytes.fromhex(HOST_NGP["transmit_time_response_bad_crc"]["hex"]))
    other = bytes.fromhex(HOST_NGP["transmit_time_response_other_key"]["encrypted"])
    with pytest.raises(WrongLinkKey, match="does not decrypt"):
        ngp.decode_frame(ngp.decrypt(key, channel, other))


@pytest.mark.parametrize("vector", HOST_PUMP["frames"], ids=lambda v: v["name"])
def test_pump_frames_round_trip(vector: dict[str, Any]) -> None:
    parameters = bytes.fromhex(vector["parameters"])
    assert (
        ngp.encode_frame(vector["sequence"], vector["command"], parameters).hex() == vector["hex"]
    )
    frame = ngp.decode_frame(bytes.fromhex(vector["hex"]))
    assert (frame.sequence, frame.command, frame.parameters) == (
        vector["sequence"],
        vector["command"],
        parameters,
    )


def _frame(name: str) -> dict[str, Any]:
    return next(f for f in HOST_PUMP["frames"] if f["name"] == name)


def test_time_status_basal_and_wizard_answers() -> None:
    time = _frame("time response")
    parsed = cmds.parse_time(bytes.fromhex(time["parameters"]))
    assert parsed.local.isoformat() == time["decoded"]["local"]
    assert parsed.clock_set is time["decoded"]["clock_set"]
    status = _frame("status response")
    got = cmds.parse_status(bytes.fromhex(status["parameters"]))
    for field, value in status["decoded"].items():
        assert getattr(got, field) == pytest.approx(value), field
    assert got.temp_basal_active and got.cgm_active and not got.suspended
    basal = cmds.parse_basal_pattern(bytes.fromhex(_frame("basal pattern response")["parameters"]))
    assert basal.name == "Pattern 1"
    assert [[s.start_minutes, s.rate] for s in basal.segments] == _frame("basal pattern response")[
        "decoded"
    ]["segments"]
    targets = cmds.parse_targets(
        bytes.fromhex(_frame("bolus wizard targets response")["parameters"])
    )
    assert [[t.start_minutes, t.low_mg_dl, t.high_mg_dl] for t in targets] == _frame(
        "bolus wizard targets response"
    )["decoded"]
    ratios = cmds.parse_carb_ratios(bytes.fromhex(_frame("carb ratios response")["parameters"]))
    assert [[r.start_minutes, r.grams] for r in ratios] == _frame("carb ratios response")["decoded"]
    isf = cmds.parse_sensitivities(bytes.fromhex(_frame("sensitivities response")["parameters"]))
    assert [[s.start_minutes, s.mg_dl] for s in isf] == _frame("sensitivities response")["decoded"]
    with pytest.raises(MessageCorrupted, match="inner CRC"):
        cmds.parse_targets(bytes.fromhex(HOST_PUMP["bad_inner_crc_targets"]))
    with pytest.raises(ProtocolError, match="status answer has 10 bytes"):
        cmds.parse_status(bytes(10))


def test_emulator_time_answer() -> None:
    response = next(v for v in DEV_NGP["messages"] if v["name"] == "transmit_packet_response_time")
    frame = ngp.decode_frame(bytes.fromhex(response["fields"]["plain"]))
    parsed = cmds.parse_time(frame.parameters)
    assert (parsed.rtc, parsed.offset, parsed.clock_set) == (0x05F5E100, 0xFFFFF000, True)


DEV_PUMP = {m["name"]: m for m in load("pump.json")["messages"]}


def _dev_frame(name: str) -> ngp.PumpFrame:
    return ngp.decode_frame(bytes.fromhex(DEV_PUMP[name]["plain"]))


def test_emulator_pump_requests_are_what_the_host_sends() -> None:
    for name, command, parameters in (
        ("time_request", cmds.TIME_REQUEST, b""),
        ("status_request", cmds.STATUS_REQUEST, b""),
        ("basal_pattern_request", cmds.BASAL_PATTERN_REQUEST, cmds.basal_pattern_parameters(1)),
        ("carb_ratios_request", cmds.BWZ_CARB_RATIOS_REQUEST, b""),
        ("sensitivity_request", cmds.BWZ_SENSITIVITY_REQUEST, b""),
        ("targets_request", cmds.BWZ_TARGETS_REQUEST, b""),
        ("high_speed_mode_enable", cmds.HIGH_SPEED_MODE, cmds.high_speed_parameters(True)),
        ("high_speed_mode_disable", cmds.HIGH_SPEED_MODE, cmds.high_speed_parameters(False)),
    ):
        vector = bytes.fromhex(DEV_PUMP[name]["plain"])
        assert ngp.encode_frame(vector[0], command, parameters) == vector, name


def test_emulator_pump_answers_parse() -> None:
    time = cmds.parse_time(_dev_frame("time_response").parameters)
    assert time.local.isoformat() == DEV_PUMP["time_response"]["local"]
    fields = DEV_PUMP["status_response"]["fields"]
    status = cmds.parse_status(_dev_frame("status_response").parameters)
    assert status.flags == fields["status_flags"]
    assert status.active_pattern == fields["active_pattern"]
    assert status.normal_rate == pytest.approx(fields["normal_rate"])
    assert status.basal_delivered_today == pytest.approx(fields["basal_delivered_today"])
    assert status.reservoir_units == pytest.approx(fields["reservoir_units"])
    assert status.active_insulin == pytest.approx(fields["active_insulin"])
    assert status.battery_percent == fields["battery_percent"]
    assert status.sensor_glucose_mg_dl == fields["sgv"]
    assert status.sensor_glucose_time.local.isoformat() == fields["sgv_local"]
    assert status.cgm_active and not status.suspended
    pattern = cmds.parse_basal_pattern(_dev_frame("basal_pattern_response").parameters)
    assert [
        {"start_minutes": s.start_minutes, "rate": pytest.approx(s.rate)} for s in pattern.segments
    ] == DEV_PUMP["basal_pattern_response"]["schedule"]
    ratios = cmds.parse_carb_ratios(_dev_frame("carb_ratios_response").parameters)
    assert [(r.start_minutes, r.grams) for r in ratios] == [(0, 10.0), (660, 12.0)]
    isf = cmds.parse_sensitivities(_dev_frame("sensitivity_response").parameters)
    assert [(s.start_minutes, s.mg_dl) for s in isf] == [(0, 50)]
    targets = cmds.parse_targets(_dev_frame("targets_response").parameters)
    assert [(t.start_minutes, t.low_mg_dl, t.high_mg_dl) for t in targets] == [(0, 100, 120)]
