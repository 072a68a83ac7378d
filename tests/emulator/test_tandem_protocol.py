"""The emulated t:slim X2's framing, authentication, status and history encoders against the
shared vectors (tests/vectors/tandem/, from pumpX2's public description and captures)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from emulator.protocols import tandem_auth as auth
from emulator.protocols import tandem_history as h
from emulator.protocols import tandem_status as s
from emulator.protocols.tandem import FramingError, Joiner, chunks, decode_message, encode_message

VECTORS = Path(__file__).parents[1] / "vectors" / "tandem"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / name).read_text())
    return data


def _cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = load("framing.json")["cases"]
    return cases


@pytest.mark.parametrize("case", _cases(), ids=lambda c: str(c["name"]))
def test_framing_encodes_splits_and_joins(case: dict[str, Any]) -> None:
    cargo = bytes.fromhex(case["cargo"])
    message = encode_message(case["opcode"], case["transaction_id"], cargo)
    assert message.hex() == case["message"]
    assert [p.hex() for p in chunks(message, case["transaction_id"], case["chunk_size"])] == case[
        "chunks"
    ]
    joiner = Joiner()
    joined = [joiner.feed(bytes.fromhex(p)) for p in case["chunks"]]
    assert joined[:-1] == [None] * (len(joined) - 1)
    assert joined[-1] is not None
    decoded = decode_message(joined[-1])
    assert (decoded.opcode, decoded.transaction_id, decoded.cargo) == (
        case["opcode"],
        case["transaction_id"],
        cargo,
    )


def test_crc_check_value() -> None:
    from emulator.protocols.tandem import crc16

    check = load("framing.json")["crc16"]
    assert crc16(check["check_input_ascii"].encode()) == check["check"]


@pytest.mark.parametrize("bad", load("framing.json")["corrupt"], ids=lambda b: str(b["name"]))
def test_corrupt_messages_are_refused_with_the_step(bad: dict[str, Any]) -> None:
    with pytest.raises(FramingError) as raised:
        decode_message(bytes.fromhex(bad["message"]))
    assert raised.value.step == bad["error"]


def test_a_chunk_out_of_sequence_is_refused() -> None:
    joiner = Joiner()
    assert joiner.feed(bytes.fromhex("0201aaaa")) is None
    with pytest.raises(FramingError):
        joiner.feed(bytes.fromhex("0001bbbb"))  # skipped the chunk with remaining 1


def test_pairing_exchange_with_the_right_code() -> None:
    v = load("auth.json")
    code = auth.normalize_code(v["pairing_code_shown"])
    assert code == v["pairing_code"]
    central_req, central_resp, pump_req, pump_resp = v["steps"]
    request = auth.parse_central_challenge(bytes.fromhex(central_req["cargo"]))
    hmac_key = bytes.fromhex(central_resp["decoded"]["hmac_key"])
    answer = auth.central_challenge_response(code, request, hmac_key)
    assert answer.hex() == central_resp["cargo"]
    app, ok = auth.check_pump_challenge(code, hmac_key, bytes.fromhex(pump_req["cargo"]))
    assert ok
    assert auth.pump_challenge_response(app, ok).hex() == pump_resp["cargo"]


def test_pairing_exchange_with_a_wrong_code_is_refused() -> None:
    v = load("auth.json")
    hmac_key = bytes.fromhex(v["steps"][1]["decoded"]["hmac_key"])
    wrong = v["wrong_code"]
    app, ok = auth.check_pump_challenge(
        v["pairing_code"], hmac_key, bytes.fromhex(wrong["request"]["cargo"])
    )
    assert not ok
    assert auth.pump_challenge_response(app, ok).hex() == wrong["response"]["cargo"]


@pytest.mark.parametrize("item", load("auth.json")["normalize"], ids=lambda i: str(i["shown"]))
def test_pairing_code_normalization(item: dict[str, Any]) -> None:
    if "error" in item:
        with pytest.raises(auth.AuthError, match="16"):
            auth.normalize_code(item["shown"])
    else:
        assert auth.normalize_code(item["shown"]) == item["code"]


def test_signed_message() -> None:
    v = load("signed.json")
    key = v["authentication_key_ascii"].encode()
    signed = auth.sign(
        v["opcode"],
        v["transaction_id"],
        bytes.fromhex(v["plain_cargo"]),
        key,
        v["time_since_reset"],
    )
    message = encode_message(v["opcode"], v["transaction_id"], signed)
    assert message.hex() == v["message"]
    assert [p.hex() for p in chunks(message, v["transaction_id"], 40)] == v["chunks"]
    plain = auth.verify(v["opcode"], v["transaction_id"], signed, key)
    assert plain.hex() == v["plain_cargo"]
    tampered = decode_message(bytes.fromhex(v["tampered"]["message"]))
    with pytest.raises(auth.AuthError, match="HMAC"):
        auth.verify(tampered.opcode, tampered.transaction_id, tampered.cargo, key)


def _status() -> dict[str, dict[str, Any]]:
    return {case["name"]: case for case in load("status.json")["cases"]}


_NOT_PLUS_ONE = {
    "CurrentBatteryV2 on an API 2.1 pump": 53,
    "CurrentBatteryV1 after a V2 request on an API 2.1 pump": 77,
}


def test_status_responses() -> None:
    cases = _status()

    def cargo(name: str) -> str:
        response: dict[str, Any] = cases[name]["response"]
        if not name.startswith("IDP"):
            assert cases[name]["request"]["cargo"] == ""
        want = _NOT_PLUS_ONE.get(name, cases[name]["request"]["opcode"] + 1)
        assert response["opcode"] == want
        return str(response["cargo"])

    assert s.api_version(2, 5).hex() == cargo("ApiVersion")
    assert s.pump_version(11223344).hex() == cargo("PumpVersion")
    assert s.basal_status(0.8, 0.4, True).hex() == cargo("CurrentBasalStatus")
    assert s.bolus_status(2, 42, 567993600, 2.5, 7, 1).hex() == cargo("CurrentBolusStatus")
    assert s.iob(1.25, 9000).hex() == cargo("ControlIQIOB")
    assert s.insulin_status(187.4, 20).hex() == cargo("InsulinStatus")
    assert s.egv(567993600, 123, 1, -2).hex() == cargo("CurrentEGVGuiData")
    assert s.time_since_reset(567993600, 123456).hex() == cargo("TimeSinceReset")
    assert h.history_status(1500, 1, 1500).hex() == cargo("HistoryLogStatus")
    assert s.profile_status([1, 2, 3], 4).hex() == cargo("ProfileStatus")
    assert s.idp_settings(1, "Weekday", 9, 300, 15.0, True).hex() == cargo("IDPSettings")
    assert s.idp_segment(1, 2, 360, 0.85, 8.0, 110, 45).hex() == cargo("IDPSegment")
    assert cargo("CurrentBatteryV1") == "5a5c"  # abc 90, ibc 92: the emulator sends one level
    assert s.battery(92).hex() == "5c5c"
    assert s.non_control_iq_iob(1.25, 9000).hex() == cargo("NonControlIQIOB")
    assert s.battery_v2(92).hex() == cargo("CurrentBatteryV2")
    assert s.battery(92).hex() == cargo("CurrentBatteryV2 on an API 2.1 pump")
    assert s.error(52, 6).hex() == cargo("CurrentBatteryV1 after a V2 request on an API 2.1 pump")
    assert s.cgm_status(2, 0, 567900000, 3).hex() == cargo("CGMStatus")
    assert s.home_screen_mirror(4, 200, 2, True).hex() == cargo("HomeScreenMirror")
    assert s.bolus_status(1, 43, 567993600, 3.0, 1, 5).hex() == cargo(
        "CurrentBolusStatus (delivering)"
    )
    assert s.bolus_status(0, 0, 0, 0.0, 0, 0).hex() == cargo("CurrentBolusStatus (no bolus)")


@pytest.mark.parametrize("case", load("status.json")["cases"], ids=lambda c: str(c["name"]))
def test_status_messages_frame_as_the_vectors_say(case: dict[str, Any]) -> None:
    for side in ("request", "response"):
        v = case[side]
        message = encode_message(v["opcode"], v["transaction_id"], bytes.fromhex(v["cargo"]))
        assert message.hex() == v["message"]
        assert [p.hex() for p in chunks(message, v["transaction_id"])] == v["chunks"]
    response = case["response"]
    for packet in response.get("packets", []):  # a capture: one notification on a large MTU
        assert packet == bytes([0, response["transaction_id"]]).hex() + response["message"]


@pytest.mark.parametrize(
    ("rate", "icon"),
    [(None, 0), (4, 1), (2, 2), (1, 3), (0, 4), (-1, 4), (-2, 5), (-3, 6), (-5, 7)],
)
def test_trend_icons(rate: int | None, icon: int) -> None:
    assert s.trend_icon(rate) == icon


def _payload(name: str, d: dict[str, Any]) -> bytes:
    if name.startswith("BolusRequestedMsg2"):
        return h.bolus_requested_msg2(
            d["bolus_id"], d["standard_percent"], d["duration_minutes"], d["isf"], d["target_bg"]
        )
    if name.startswith("BolusActivated"):
        return h.bolus_activated(d["bolus_id"], d["iob"], d["bolus_size"])
    if name.startswith("BolexActivated"):
        return h.bolus_activated(d["bolus_id"], d["iob"], d["bolex_size"])
    if name.startswith(("BolusCompleted", "BolexCompleted")):
        return h.bolus_completed(
            d["bolus_id"],
            d["completion_status_id"],
            d["iob"],
            d["insulin_delivered"],
            d["insulin_requested"],
        )
    if name.startswith("BasalRateChange"):
        return h.basal_rate_change(
            d["command_basal_rate"],
            d["base_basal_rate"],
            d["insulin_delivery_profile"],
            d["change_type_id"],
        )
    if name == "TempRateActivated":
        return h.temp_rate_activated(d["percent"], d["duration_ms"], d["temp_rate_id"])
    if name == "TempRateCompleted":
        return h.temp_rate_completed(d["temp_rate_id"], d["time_left_seconds"])
    if name == "PumpingSuspended":
        return h.pumping_suspended(d["insulin_amount"], d["reason"])
    if name == "PumpingResumed":
        return h.pumping_resumed(d["insulin_amount"])
    if name == "TimeChanged":
        return h.time_changed(
            d["time_prior_seconds_of_day"], d["time_after_seconds_of_day"], d["raw_rtc"]
        )
    if name == "DateChange":
        return h.date_changed(
            d["date_prior_days_since_2008"], d["date_after_days_since_2008"], d["raw_rtc_time"]
        )
    if name == "BGReading":
        return h.bg_reading(d["bg_mg_dl"], d["iob"], d["target_bg"], d["isf"])
    if name.startswith("CgmDataGx"):
        return h.cgm_data_gx(d["value_mg_dl"], d["timestamp"], d["transmitter_timestamp"])
    if name.startswith("CartridgeFilled"):
        return h.cartridge_filled(d["insulin_actual"])
    if name.startswith("TubingFilled"):
        return h.tubing_filled(d["prime_size"])
    if name.startswith("CannulaFilled"):
        return h.cannula_filled(d["prime_size"], d["completion_status"])
    if name.startswith("AlarmActivated"):
        return h.alarm_activated(d["alarm_id"])
    if name.startswith("AlertActivated"):
        return h.alert_activated(d["alert_id"])
    raise AssertionError(f"no encoder for {name}")


@pytest.mark.parametrize("item", load("history.json")["entries"], ids=lambda e: str(e["name"]))
def test_history_entries(item: dict[str, Any]) -> None:
    payload = _payload(item["name"], item["decoded"])
    built = h.entry(item["type_id"], item["pump_time_sec"], item["sequence_num"], payload)
    assert built.hex() == item["entry"]


def test_history_request_response_and_stream() -> None:
    v = load("history.json")
    wanted = h.parse_history_request(bytes.fromhex(v["request"]["cargo"]))
    assert (wanted.start, wanted.count) == (101, 3)
    assert h.history_response(0, 1).hex() == v["response"]["cargo"]
    by_seq = {e["sequence_num"]: bytes.fromhex(e["entry"]) for e in v["entries"]}
    stream = h.stream_cargo(1, [by_seq[n] for n in range(101, 104)])
    assert stream.hex() == v["stream"]["cargo"]
    assert v["stream"]["opcode"] == 0x81


@pytest.mark.parametrize("item", load("history.json")["captures"], ids=lambda c: str(c["name"]))
def test_captured_history_streams_decode(item: dict[str, Any]) -> None:
    joiner = Joiner()
    joined = joiner.feed(bytes.fromhex(item["packet"]))
    assert joined is not None
    message = decode_message(joined)
    d = item["decoded"]
    assert (message.opcode, message.cargo[0], message.cargo[1]) == (
        d["opcode"],
        d["number_of_history_logs"],
        d["stream_id"],
    )
    entries = [message.cargo[2 + 26 * i : 28 + 26 * i] for i in range(message.cargo[0])]
    assert [int.from_bytes(e[6:10], "little") for e in entries] == d["sequence_nums"]
    assert h.stream_cargo(d["stream_id"], entries) == message.cargo


@pytest.mark.parametrize(
    "item", load("history.json")["entry_captures"], ids=lambda c: str(c["name"])
)
def test_temp_rate_entries_follow_the_published_captures(item: dict[str, Any]) -> None:
    """The emulator writes every field pumpX2 parses where the captured pump put it (the
    header's high nibble and the bytes pumpX2 does not parse aside)."""
    captured = bytes.fromhex(item["entry"])
    d = item["decoded"]
    if item["type_id"] == 2:
        payload = h.temp_rate_activated(d["percent"], d["duration_ms"], d["temp_rate_id"])
        unparsed = range(18, 20)
    else:
        payload = h.temp_rate_completed(d["temp_rate_id"], d["time_left"])
        unparsed = range(10, 12)
    built = h.entry(item["type_id"], d["pump_time_sec"], d["sequence_num"], payload)
    assert built[0] == captured[0] and built[1] & 0x0F == captured[1] & 0x0F
    assert [b for i, b in enumerate(built[2:], 2) if i not in unparsed] == [
        b for i, b in enumerate(captured[2:], 2) if i not in unparsed
    ]


def test_alert_and_alarm_ids_are_the_vectors_ids() -> None:
    from emulator.protocols import tandem_constants as c

    v = load("history.json")
    alerts = {row["model_kind"]: row["id"] for row in v["alert_ids"]["ids"]}
    alarms = {row["model_kind"]: row["id"] for row in v["alarm_ids"]["ids"]}
    assert alerts == c.ALERT_IDS and alarms == c.ALARM_IDS
    assert not set(alerts) & set(alarms)
    assert c.LOG_ALERT_ACTIVATED == 4 and c.LOG_ALARM_ACTIVATED == 5
