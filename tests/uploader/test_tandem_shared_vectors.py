"""The host side's Tandem parsing against the vectors the device side's author wrote.

Both authors read pumpX2's public description independently; these files are theirs
(tests/vectors/tandem/{framing,auth,signed,history}.json), so agreement here means both
read the source the same way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from uploader.drivers.tslim_x2_history import ALARMS, ALERTS
from uploader.protocols import tandem, tandem_auth, tandem_entries, tandem_history
from uploader.protocols.tandem import FrameError, Joiner, Message

VECTORS = Path(__file__).parents[1] / "vectors" / "tandem"


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / name).read_text())
    return data


FRAMING = _load("framing.json")
AUTH = _load("auth.json")
SIGNED = _load("signed.json")
HISTORY = _load("history.json")


def _as_message(case: dict[str, Any]) -> Message:
    return Message(case["opcode"], case["transaction_id"], bytes.fromhex(case["cargo"]))


def _join(chunks: list[str]) -> Message:
    joiner = Joiner()
    result: Message | None = None
    for chunk in chunks:
        assert result is None
        result = joiner.feed(bytes.fromhex(chunk))
    assert result is not None
    return result


def test_crc_agrees() -> None:
    check = FRAMING["crc16"]
    assert tandem.crc16(check["check_input_ascii"].encode()) == check["check"]


@pytest.mark.parametrize("case", FRAMING["cases"], ids=lambda c: c["name"])
def test_framing_cases_agree(case: dict[str, Any]) -> None:
    message = _as_message(case)
    assert tandem.encode(message).hex() == case["message"]
    chunks = tandem.packets(message, case["chunk_size"])
    assert [c.hex() for c in chunks] == case["chunks"]
    assert _join(case["chunks"]) == message


@pytest.mark.parametrize("case", FRAMING["corrupt"], ids=lambda c: c["name"])
def test_corrupt_messages_are_refused(case: dict[str, Any]) -> None:
    with pytest.raises(
        FrameError, match=case["error"].upper() if case["error"] == "crc" else "says"
    ):
        tandem.decode(bytes.fromhex(case["message"]))


def test_pairing_steps_agree() -> None:
    by_name = {step["name"]: step for step in AUTH["steps"]}
    request = by_name["CentralChallengeRequest"]
    decoded = request["decoded"]
    built = tandem_auth.central_challenge_request(
        request["transaction_id"],
        decoded["app_instance_id"],
        bytes.fromhex(decoded["central_challenge"]),
    )
    assert tandem.encode(built).hex() == request["message"]
    answer = tandem_auth.parse_central_challenge_response(
        _join(by_name["CentralChallengeResponse"]["chunks"])
    )
    assert answer.hmac_key.hex() == by_name["CentralChallengeResponse"]["decoded"]["hmac_key"]
    proof = by_name["PumpChallengeRequest"]
    built_proof = tandem_auth.pump_challenge_request(
        proof["transaction_id"], answer.app_instance_id, AUTH["pairing_code_shown"], answer.hmac_key
    )
    assert [c.hex() for c in tandem.packets(built_proof)] == proof["chunks"]
    accepted = _join(by_name["PumpChallengeResponse"]["chunks"])
    assert tandem_auth.parse_pump_challenge_response(accepted) is True


def test_wrong_code_gives_another_proof_and_the_pump_refuses() -> None:
    wrong = AUTH["wrong_code"]
    hmac_key = bytes.fromhex(
        next(s for s in AUTH["steps"] if s["name"] == "CentralChallengeResponse")["decoded"][
            "hmac_key"
        ]
    )
    proof = tandem_auth.pump_challenge_request(
        wrong["request"]["transaction_id"],
        wrong["request"]["decoded"]["app_instance_id"],
        wrong["pairing_code"],
        hmac_key,
    )
    assert tandem.encode(proof).hex() == wrong["request"]["message"]
    refused = _join(wrong["response"]["chunks"])
    assert tandem_auth.parse_pump_challenge_response(refused) is False


@pytest.mark.parametrize("case", AUTH["normalize"], ids=lambda c: c["shown"])
def test_code_normalization_agrees(case: dict[str, Any]) -> None:
    if "code" in case:
        assert tandem_auth.normalize_code(case["shown"]) == case["code"]
    else:
        with pytest.raises(tandem_auth.PairingCodeError):
            tandem_auth.normalize_code(case["shown"])


def test_signed_message_agrees() -> None:
    key = SIGNED["authentication_key_ascii"].encode()
    cargo = tandem.sign_cargo(
        SIGNED["opcode"],
        SIGNED["transaction_id"],
        bytes.fromhex(SIGNED["plain_cargo"]),
        SIGNED["time_since_reset"],
        key,
    )
    message = Message(SIGNED["opcode"], SIGNED["transaction_id"], cargo)
    assert tandem.encode(message).hex() == SIGNED["message"]
    tampered = tandem.decode(bytes.fromhex(SIGNED["tampered"]["message"]))
    with pytest.raises(FrameError, match="HMAC"):
        tandem.verify_signature(tampered, key)


def test_history_request_response_and_stream_agree() -> None:
    request = HISTORY["request"]
    decoded = request["decoded"]
    built = tandem_history.history_request(
        request["transaction_id"], decoded["start_sequence_num"], decoded["number_of_logs"]
    )
    assert tandem.encode(built).hex() == request["message"]
    response = HISTORY["response"]
    assert tandem_history.parse_history_response(_join(response["chunks"])) == (
        response["decoded"]["status"],
        response["decoded"]["stream_id"],
    )
    stream = HISTORY["stream"]
    stream_id, entries = tandem_history.parse_stream(_join(stream["chunks"]))
    assert stream_id == stream["decoded"]["stream_id"]
    assert [e.sequence for e in entries] == stream["decoded"]["sequence_nums"]


@pytest.mark.parametrize("case", HISTORY["entries"], ids=lambda c: c["name"])
def test_entry_headers_agree(case: dict[str, Any]) -> None:
    entry = tandem_history.parse_entry(bytes.fromhex(case["entry"]))
    assert (entry.type_id, entry.sequence, entry.pump_seconds) == (
        case["type_id"],
        case["sequence_num"],
        case["pump_time_sec"],
    )


# The emulator side's field name -> ours, per entry type whose layout both sides read alike.
_NAMES = {
    "command_basal_rate": "command_rate",
    "base_basal_rate": "base_rate",
    "max_basal_rate": "max_rate",
    "insulin_delivery_profile": "profile",
    "change_type_id": "change_type",
    "bg_source_id": "source_id",
    "completion_status_id": "completion_status",
    "insulin_delivered": "delivered",
    "insulin_requested": "requested",
    "bolus_size": "size",
    "bolex_size": "size",
    "time_left_seconds": "time_left",
    "time_prior_seconds_of_day": "time_before",
    "time_after_seconds_of_day": "time_after",
    "type": "kind",
    "date_prior_days_since_2008": "time_before",
    "date_after_days_since_2008": "time_after",
    "raw_rtc_time": "raw_rtc",
    "insulin_display": "insulin_shown",
    "prime_size": "size",
}
_READ_ALIKE = {2, 3, 4, 5, 11, 12, 13, 14, 15, 16, 20, 21, 33, 55, 59, 61, 63, 65, 211}
"""Every type both sides read (TempRateActivated: milliseconds, id at offset 20, as pumpX2's
published capture shows)."""
_IGNORED = {
    "spare",
    "spare1",
    "spare2",
    "bg_source_type",
    "selected_iob",
    "user_override",
    "declined_correction",
    "completion_status",
}


@pytest.mark.parametrize(
    "case",
    [c for c in HISTORY["entries"] if c["type_id"] in _READ_ALIKE],
    ids=lambda c: c["name"],
)
def test_entry_payloads_agree(case: dict[str, Any]) -> None:
    payload = tandem_entries.decode(bytes.fromhex(case["entry"]))
    assert payload is not None
    for name, value in case["decoded"].items():
        if name in _IGNORED and not hasattr(payload, _NAMES.get(name, name)):
            continue
        assert getattr(payload, _NAMES.get(name, name)) == value, name


@pytest.mark.parametrize(
    ("table", "known"), [("alert_ids", ALERTS), ("alarm_ids", ALARMS)], ids=["alerts", "alarms"]
)
def test_alert_and_alarm_ids_get_the_alarm_type_the_device_side_means(
    table: str, known: dict[int, str]
) -> None:
    for item in HISTORY[table]["ids"]:
        assert known.get(item["id"], "other") == item["tidepool_alarm_type"], item


@pytest.mark.parametrize("case", HISTORY["entry_captures"], ids=lambda c: c["name"])
def test_captured_entries_decode_as_published(case: dict[str, Any]) -> None:
    payload = tandem_entries.decode(bytes.fromhex(case["entry"]))
    assert payload is not None
    for name, value in case["decoded"].items():
        if hasattr(payload, name):
            assert getattr(payload, name) == value, name
