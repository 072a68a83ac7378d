"""Host-side Tandem t:slim X2 framing, pairing and history parsing against shared vectors."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from uploader.protocols import tandem, tandem_auth, tandem_entries, tandem_history
from uploader.protocols.tandem import FrameError, Joiner, Message

VECTORS = Path(__file__).parents[1] / "vectors" / "tandem"


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / name).read_text())
    return data


HOST = _load("host_framing.json")


def _join(packets: list[str]) -> Message:
    joiner = Joiner()
    message: Message | None = None
    for hex_packet in packets:
        assert message is None, "a message completed before its last packet"
        message = joiner.feed(bytes.fromhex(hex_packet))
    assert message is not None, "the last packet did not complete the message"
    return message


def test_crc_check_value() -> None:
    check = HOST["crc_check"]
    assert tandem.crc16(bytes.fromhex(check["data"])) == check["crc"]


@pytest.mark.parametrize("vector", HOST["messages"], ids=lambda v: v["name"])
def test_messages_join_and_split_as_recorded(vector: dict[str, Any]) -> None:
    message = _join(vector["packets"])
    assert message == Message(
        vector["opcode"], vector["transaction_id"], bytes.fromhex(vector["cargo"])
    )
    if not vector.get("from_pump"):
        assert tandem.packets(message) == [bytes.fromhex(p) for p in vector["packets"]]


def test_central_challenge_response_fields() -> None:
    vector = next(v for v in HOST["messages"] if v["name"] == "CentralChallengeResponse")
    parsed = tandem_auth.parse_central_challenge_response(_join(vector["packets"]))
    assert parsed.app_instance_id == vector["fields"]["app_instance_id"]
    assert parsed.challenge_hash.hex() == vector["fields"]["challenge_hash"]
    assert parsed.hmac_key.hex() == vector["fields"]["hmac_key"]


def test_central_challenge_request_is_built_as_captured() -> None:
    request = tandem_auth.central_challenge_request(0, 0, bytes.fromhex("4d08435da2694735"))
    assert tandem.packets(request) == [bytes.fromhex("000010000a00004d08435da26947356d6f")]


def test_pump_challenge_response_success_and_refusal() -> None:
    by_name = {v["name"]: v for v in HOST["messages"]}
    ok = _join(by_name["PumpChallengeResponse success"]["packets"])
    wrong = _join(by_name["PumpChallengeResponse failure (wrong code)"]["packets"])
    assert tandem_auth.parse_pump_challenge_response(ok) is True
    assert tandem_auth.parse_pump_challenge_response(wrong) is False


def test_pump_challenge_request_from_the_code_shown() -> None:
    vector = HOST["pump_challenge"]
    request = tandem_auth.pump_challenge_request(
        vector["transaction_id"],
        vector["app_instance_id"],
        vector["code_shown"],
        bytes.fromhex(vector["hmac_key"]),
    )
    assert tandem.encode(request).hex() == vector["frame"]


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("ABCD-EFGH-1234-5678", "ABCDEFGH12345678"),
        (" abcd efgh 1234 5678 ", "abcdefgh12345678"),
        ("123456", "123456"),
        ("123-456", "123456"),
    ],
)
def test_pairing_code_keeps_letters_and_digits(typed: str, kept: str) -> None:
    assert tandem_auth.normalize_code(typed) == kept


@pytest.mark.parametrize("typed", ["", "ABCD-EFGH-1234", "ABCD-EFGH-1234-56789", "12345"])
def test_pairing_code_of_wrong_length_is_refused_with_the_shapes_it_can_have(typed: str) -> None:
    with pytest.raises(tandem_auth.PairingCodeError, match="16"):
        tandem_auth.normalize_code(typed)


def test_signed_message_matches_vector_and_verifies() -> None:
    vector = HOST["signed"]
    key = vector["key_ascii"].encode()
    cargo = tandem.sign_cargo(
        vector["opcode"],
        vector["transaction_id"],
        bytes.fromhex(vector["plain_cargo"]),
        vector["time_since_reset"],
        key,
    )
    assert cargo.hex() == vector["cargo"]
    message = Message(vector["opcode"], vector["transaction_id"], cargo)
    packets = tandem.packets(message, tandem.CONTROL_CHUNK_SIZE)
    assert packets == [bytes.fromhex(p) for p in vector["packets_40"]]
    plain, time_since_reset = tandem.verify_signature(_join(vector["packets_40"]), key)
    assert plain.hex() == vector["plain_cargo"]
    assert time_since_reset == vector["time_since_reset"]
    with pytest.raises(FrameError, match="HMAC"):
        tandem.verify_signature(message, b"another key")


def test_long_message_splits_into_counted_down_chunks() -> None:
    message = Message(0x42, 9, bytes(range(60)))
    packets = tandem.packets(message)
    assert [p[0] for p in packets] == [3, 2, 1, 0]
    assert all(p[1] == 9 for p in packets)
    assert all(len(p) <= 2 + tandem.DEFAULT_CHUNK_SIZE for p in packets)
    assert _join([p.hex() for p in packets]) == message


def _feed_all(joiner: Joiner, packets: list[str]) -> None:
    for hex_packet in packets:
        message = joiner.feed(bytes.fromhex(hex_packet))
        if message is not None:
            tandem_history.parse_stream(message)


@pytest.mark.parametrize("vector", HOST["bad"], ids=lambda v: v["name"])
def test_bad_input_is_a_frame_error_naming_what_broke(vector: dict[str, Any]) -> None:
    joiner = Joiner()
    with pytest.raises(FrameError, match=vector["error"]):
        _feed_all(joiner, vector["packets"])
    assert not joiner.pending


@pytest.mark.parametrize("vector", HOST["history_streams"], ids=lambda v: v["name"])
def test_history_stream_entries(vector: dict[str, Any]) -> None:
    stream_id, entries = tandem_history.parse_stream(_join(vector["packets"]))
    assert stream_id == vector["stream_id"]
    got = [
        {"type_id": e.type_id, "pump_seconds": e.pump_seconds, "sequence": e.sequence}
        for e in entries
    ]
    assert got == vector["entries"]


def test_history_status_and_request_fields() -> None:
    by_name = {v["name"]: v for v in HOST["messages"]}
    status_vector = by_name["HistoryLogStatusResponse: 3 entries, 100..102"]
    status = tandem_history.parse_history_status(_join(status_vector["packets"]))
    assert (status.count, status.first, status.last) == (3, 100, 102)
    request = tandem_history.history_request(4, 100, 3)
    assert tandem.packets(request) == [
        bytes.fromhex(p) for p in by_name["HistoryLogRequest: 3 entries from 100"]["packets"]
    ]
    answer = _join(by_name["HistoryLogResponse: status 0, stream 7"]["packets"])
    assert tandem_history.parse_history_response(answer) == (0, 7)


def test_newest_first_stream_is_accepted_in_sequence_order() -> None:
    vector = HOST["history_streams"][2]
    _, entries = tandem_history.parse_stream(_join(vector["packets"]))
    ordered = tandem_history.check_range(entries, 3948, 3)
    assert [e.sequence for e in ordered] == [3948, 3949, 3950]


def test_missing_or_repeated_entries_are_named() -> None:
    vector = HOST["history_streams"][2]
    _, entries = tandem_history.parse_stream(_join(vector["packets"]))
    with pytest.raises(FrameError, match=r"missing \[3951\]"):
        tandem_history.check_range(entries[:2], 3949, 3)
    with pytest.raises(FrameError, match="repeated"):
        tandem_history.check_range([*entries, entries[0]], 3948, 3)


def _entry(sequence: int, seconds: int) -> tandem_history.HistoryEntry:
    return tandem_history.HistoryEntry(16, seconds, sequence, bytes(16), bytes(26))


def test_entries_without_timestamp_take_the_time_of_their_neighbours() -> None:
    placed = tandem_history.place_in_time(
        [_entry(11, 0), _entry(12, 3600), _entry(13, 0), _entry(14, 7200), _entry(10, 0)]
    )
    assert [e.sequence for e in placed] == [10, 11, 12, 13, 14]
    base = datetime(2008, 1, 1)
    assert [e.time for e in placed] == [
        base.replace(hour=1),
        base.replace(hour=1),
        base.replace(hour=1),
        base.replace(hour=1),
        base.replace(hour=2),
    ]
    assert [e.time_inferred for e in placed] == [True, True, False, True, False]


def test_pump_epoch_is_2008() -> None:
    assert tandem_history.pump_time(445910400) == datetime(2022, 2, 17)


@pytest.mark.parametrize("case", HOST["entries"]["cases"], ids=lambda c: c["name"])
def test_captured_entry_payloads(case: dict[str, Any]) -> None:
    raw = bytes.fromhex(case["entry"])
    assert tandem_history.parse_entry(raw).type_id == case["type_id"]
    payload = tandem_entries.decode(raw)
    assert payload is not None
    for name, value in case["fields"].items():
        assert getattr(payload, name) == value, name


def test_entry_of_a_type_not_read_has_no_payload() -> None:
    new_day = HOST["history_streams"][0]  # LID_NEW_DAY (90), a public capture
    _, (entry,) = tandem_history.parse_stream(_join(new_day["packets"]))
    assert entry.type_id == 90
    assert tandem_entries.decode(entry.raw) is None
