"""The t:slim X2 status and profile requests (host side) against the device side's vectors
(tests/vectors/tandem/status.json), and what the driver makes of the answers: the status
note, the requests a pump leaves unanswered, the profiles as ``pumpSettings``."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from uploader.drivers.tslim_x2 import TslimX2Driver
from uploader.drivers.tslim_x2_status import (
    PumpStatus,
    read_settings,
    read_status,
)
from uploader.errors import DeviceTimeout, ProtocolError
from uploader.normalize.pump import settings_datum
from uploader.protocols import tandem, tandem_history
from uploader.protocols import tandem_status as ts
from uploader.protocols.tandem import FrameError, Joiner, Message
from uploader.records import DeviceIdentity
from uploader.timeproc import AcrossTheBoardTimezone
from uploader.transports.ble import Advertisement

STATUS = json.loads((Path(__file__).parents[1] / "vectors" / "tandem" / "status.json").read_text())
CASES = {case["name"]: case for case in STATUS["cases"]}
CLOCK = datetime(2026, 3, 1, 12, 0)

PARSERS = {
    "ApiVersion": (
        ts.parse_api_version,
        {"major": "major", "minor": "minor"},
    ),
    "PumpVersion": (
        ts.parse_pump_version,
        {
            "arm_sw_ver": "arm_sw_version",
            "msp_sw_ver": "msp_sw_version",
            "config_a_bits": "config_a_bits",
            "config_b_bits": "config_b_bits",
            "serial_num": "serial_number",
            "part_num": "part_number",
            "pump_rev": "pump_rev",
            "pcba_sn": "pcba_serial",
            "pcba_rev": "pcba_rev",
            "model_num": "model_number",
        },
    ),
    "CurrentBasalStatus": (
        ts.parse_basal_status,
        {
            "profile_basal_rate_milliunits": "profile_rate",
            "current_basal_rate_milliunits": "current_rate",
            "basal_modified_bitmask": "modified",
        },
    ),
    "CurrentBolusStatus": (
        ts.parse_bolus_status,
        {
            "status": "status",
            "bolus_id": "bolus_id",
            "timestamp": "timestamp",
            "requested_volume_milliunits": "requested",
            "bolus_source_id": "source",
            "bolus_type_bitmask": "types",
        },
    ),
    "ControlIQIOB": (
        ts.parse_iob,
        {
            "mudaliar_iob_milliunits": "iob",
            "time_remaining_seconds": "time_remaining_s",
            "mudaliar_total_iob_milliunits": "total_iob",
            "swan_6hr_iob_milliunits": "swan_iob",
            "iob_type": "iob_type",
        },
    ),
    "InsulinStatus": (
        ts.parse_insulin_status,
        {
            "current_insulin_amount_units": "units",
            "is_estimate": "is_estimate",
            "insulin_low_amount_units": "low_units",
        },
    ),
    "CurrentBatteryV1": (
        ts.parse_battery,
        {"current_battery_abc": "abc", "current_battery_ibc_percent": "ibc_percent"},
    ),
    "CurrentEGVGuiData": (
        ts.parse_egv,
        {
            "bg_reading_timestamp": "timestamp",
            "cgm_reading_mg_dl": "mg_dl",
            "egv_status": "status",
            "trend_rate": "trend",
        },
    ),
    "IDPSettings": (
        ts.parse_idp_settings,
        {
            "idp_id": "idp_id",
            "name": "name",
            "number_of_segments": "segments",
            "insulin_duration_minutes": "insulin_duration_minutes",
            "max_bolus_milliunits": "max_bolus",
            "carb_entry": "carb_entry",
        },
    ),
    "NonControlIQIOB": (
        ts.parse_iob,
        {
            "iob_milliunits": "iob",
            "time_remaining_seconds": "time_remaining_s",
            "total_iob_milliunits": "total_iob",
        },
    ),
    "CurrentBatteryV2": (
        ts.parse_battery,
        {"current_battery_abc": "abc", "current_battery_ibc_percent": "ibc_percent"},
    ),
    "CGMStatus": (
        ts.parse_cgm_status,
        {
            "session_state_id": "state",
            "last_calibration_timestamp": "last_calibration",
            "sensor_started_timestamp": "sensor_started",
            "transmitter_battery_status_id": "transmitter_battery",
        },
    ),
    "HistoryLogStatus": (
        tandem_history.parse_history_status,
        {"num_entries": "count", "first_sequence_num": "first", "last_sequence_num": "last"},
    ),
    "IDPSegment": (
        ts.parse_idp_segment,
        {
            "idp_id": "idp_id",
            "segment_index": "index",
            "start_minutes": "start_minutes",
            "basal_milliunits_per_hour": "basal_rate",
            "carb_ratio_milligrams_per_unit": "carb_ratio",
            "target_bg_mg_dl": "target_bg",
            "isf_mg_dl_per_unit": "isf",
            "status": "status",
        },
    ),
}
NAMES_ONLY = {
    "status_name",
    "bolus_source",
    "bolus_types",
    "session_state",
    "transmitter_battery_status",
    "charging_status",
    "unknown1",
    "unknown2",
    "unknown3",
    "unknown4",
}
"""pumpX2's enum names beside the raw ids (the raw ids are compared), and V2 battery bytes the
host does not use."""
NOT_READ = {"TimeSinceReset", "HomeScreenMirror", "ProfileStatus"}
"""TimeSinceReset is read by the driver itself (its first u32, checked below); the host does
not ask for HomeScreenMirror; ProfileStatus has its own test."""
MILLI_FIELDS = {
    "profile_rate",
    "current_rate",
    "requested",
    "iob",
    "total_iob",
    "swan_iob",
    "max_bolus",
    "basal_rate",
    "carb_ratio",
}


def _join(chunks: list[str]) -> Message:
    joiner = Joiner()
    for chunk in chunks:
        message = joiner.feed(bytes.fromhex(chunk))
    assert message is not None
    return message


def _parser(name: str) -> tuple[Any, dict[str, str]]:
    """The parser of a case: by its name, or its base name ("CurrentBolusStatus (no bolus)"),
    or the name of the message answered ("CurrentBatteryV2 on an API 2.1 pump")."""
    base = name.split(" ", maxsplit=1)[0]
    return PARSERS.get(name) or PARSERS[base]


@pytest.mark.parametrize("name", sorted(CASES))
def test_status_requests_and_answers_agree_with_the_device_side(name: str) -> None:
    case = CASES[name]
    request = case["request"]
    built = ts.request(
        request["opcode"], request["transaction_id"], bytes.fromhex(request["cargo"])
    )
    assert [p.hex() for p in tandem.packets(built)] == request["chunks"]
    answer = _join(case["response"]["chunks"])
    assert answer.transaction_id == request["transaction_id"]
    decoded = case["response"]["decoded"]
    if name.split(" ", maxsplit=1)[0] in NOT_READ:
        if name == "TimeSinceReset":
            seconds = int.from_bytes(answer.cargo[:4], "little")
            assert seconds == decoded["pump_rtc_seconds_since_2008"]
        return
    parse, names = _parser(name)
    if answer.opcode == ts.ERROR_RESPONSE:
        with pytest.raises(ts.StatusRefused, match=decoded["error_name"]):
            parse(answer)
        return
    parsed: Any = parse(answer)
    for theirs, value in decoded.items():
        if theirs in NAMES_ONLY:
            continue
        ours = getattr(parsed, names[theirs])
        expected = value / 1000 if names[theirs] in MILLI_FIELDS else value
        assert ours == pytest.approx(expected), theirs


def test_the_battery_request_follows_the_api_version() -> None:
    assert ts.battery_request(1, ts.ApiVersion(2, 1)).opcode == ts.CURRENT_BATTERY_V1
    assert ts.battery_request(1, ts.ApiVersion(2, 5)).opcode == ts.CURRENT_BATTERY_V2
    assert ts.battery_request(1, ts.ApiVersion(3, 0)).opcode == ts.CURRENT_BATTERY_V2


def test_profile_status_keeps_the_filled_slots_in_order() -> None:
    case = CASES["ProfileStatus"]
    status = ts.parse_profile_status(_join(case["response"]["chunks"]))
    decoded = case["response"]["decoded"]
    assert status.slots == tuple(i for i in decoded["idp_slot_ids"] if i >= 0)
    assert (status.count, status.active_segment) == (
        decoded["number_of_profiles"],
        decoded["active_segment_index"],
    )


def test_an_answer_of_the_wrong_size_or_opcode_is_a_frame_error() -> None:
    with pytest.raises(FrameError, match="expected 4"):
        ts.parse_api_version(Message(33, 1, b"\x02\x00\x01"))
    with pytest.raises(FrameError, match="answering 32"):
        ts.parse_api_version(Message(35, 1, b"\x02\x00\x01\x00"))
    with pytest.raises(FrameError, match="says 2 profiles"):
        ts.parse_profile_status(Message(63, 1, bytes([2, 1, 255, 255, 255, 255, 255, 0])))


class FakePump:
    """Answers current-status requests from a table of cargos (response opcode = request + 1);
    a request it has no answer for times out, as an unanswered request does on the air."""

    def __init__(self, answers: dict[tuple[int, bytes], bytes]) -> None:
        self.answers = answers
        self.asked: list[int] = []
        self.transaction = 0

    def next_transaction(self) -> int:
        self.transaction += 1
        return self.transaction

    async def ask(self, message: Message, doing: str, timeout: float | None) -> Message:
        self.asked.append(message.opcode)
        cargo = self.answers.get((message.opcode, message.cargo))
        if cargo is None:
            raise DeviceTimeout(f"The device sent nothing for 3 s while {doing}.")
        return Message(message.opcode + 1, message.transaction_id, cargo)


def _vector_answers() -> dict[tuple[int, bytes], bytes]:
    """Each request's answer in the vectors (the plain cases, not the variants)."""
    out = {}
    for case in STATUS["cases"]:
        if " " in case["name"]:
            continue
        request, response = case["request"], case["response"]
        out[(request["opcode"], bytes.fromhex(request["cargo"]))] = bytes.fromhex(response["cargo"])
    return out


def test_status_is_read_and_reported_as_a_note() -> None:
    pump = FakePump(_vector_answers())
    status = asyncio.run(read_status(pump.ask, pump.next_transaction, "the pump"))
    assert pump.asked == [32, 84, 40, 44, 108, 36, 144, 34, 80]  # API 2.5: battery V2
    assert not status.unanswered
    (note,) = status.notes()
    assert note.startswith("Pump status: API 2.5, software 105900")
    for part in ("reservoir 187 U", "battery 92%", "insulin on board 1.25 U", "basal 0.4 U/h"):
        assert part in note
    assert "sensor glucose 123 mg/dL" in note and "CGM session active" in note
    facts = status.as_dict()  # --json's device.status
    assert facts["api_version"] == "2.5" and facts["unanswered"] == []
    assert (facts["reservoir_units"], facts["battery_percent"]) == (187, 92)
    assert (facts["insulin_on_board_units"], facts["basal_rate_u_per_h"]) == (1.25, 0.4)
    assert (facts["sensor_glucose_mg_dl"], facts["cgm_session"]) == (123, "active")


def test_an_unanswered_optional_request_is_noted_and_the_rest_still_read() -> None:
    answers = _vector_answers()
    del answers[(ts.CURRENT_BATTERY_V2, b"")]
    pump = FakePump(answers)
    status = asyncio.run(read_status(pump.ask, pump.next_transaction, "the pump"))
    assert status.battery is None and status.cgm is not None and status.insulin is not None
    assert status.unanswered == ["battery (CurrentBattery)"]
    assert "did not answer these status requests" in status.notes()[1]
    assert "battery (CurrentBattery)" in status.notes()[1]


def test_a_pump_without_control_iq_is_asked_its_other_iob() -> None:
    answers = _vector_answers()
    del answers[(ts.CONTROL_IQ_IOB, b"")]
    pump = FakePump(answers)
    status = asyncio.run(read_status(pump.ask, pump.next_transaction, "the pump"))
    assert status.iob is not None and status.iob.iob == 1.25 and not status.unanswered
    assert pump.asked[4:6] == [108, 38]


def test_a_pump_that_does_not_answer_its_api_version_is_a_clear_error() -> None:
    answers = _vector_answers()
    del answers[(ts.API_VERSION, b"")]
    pump = FakePump(answers)
    with pytest.raises(DeviceTimeout) as silent:
        asyncio.run(read_status(pump.ask, pump.next_transaction, "tslim X2 ***711"))
    message = silent.value.user_message()
    assert "tslim X2 ***711 did not answer the API version request" in message
    assert "Keep the pump close" in message
    assert pump.asked == [32]


def _segment(
    idp: int, index: int, start: int, basal: int, carb: int, target: int, isf: int
) -> bytes:
    return (
        bytes([idp, index])
        + start.to_bytes(2, "little")
        + basal.to_bytes(2, "little")
        + (carb.to_bytes(4, "little") + target.to_bytes(2, "little") + isf.to_bytes(2, "little"))
        + b"\0"
    )


def _settings(idp: int, name: str, segments: int) -> bytes:
    return (
        bytes([idp])
        + name.encode().ljust(16, b"\0")
        + bytes([segments])
        + (300).to_bytes(2, "little")
        + (15000).to_bytes(2, "little")
        + b"\x01"
    )


PROFILES = {
    (62, b""): bytes([2, 3, 1, 255, 255, 255, 255, 0]),
    (64, b"\x03"): _settings(3, "Weekend", 1),
    (64, b"\x01"): _settings(1, "Weekday", 2),
    (66, b"\x03\x00"): _segment(3, 0, 0, 700, 12000, 120, 55),
    (66, b"\x01\x00"): _segment(1, 0, 0, 800, 10000, 110, 50),
    (66, b"\x01\x01"): _segment(1, 1, 360, 850, 8000, 100, 45),
}


def test_profiles_become_named_settings_with_a_single_target() -> None:
    pump = FakePump(PROFILES)
    snapshot = asyncio.run(read_settings(pump.ask, pump.next_transaction, CLOCK))
    assert snapshot.schedule_names == {3: "Weekend", 1: "Weekday"}
    assert snapshot.active_basal == 3
    identity = DeviceIdentity(
        "Tandem Diabetes Care", "t:slim X2", "90004711", "7.6", "tandemX2-90004711", ()
    )
    datum = settings_datum(snapshot, identity, AcrossTheBoardTimezone("UTC")).to_json()
    assert datum["activeSchedule"] == "Weekend"
    assert datum["basalSchedules"] == {
        "Weekday": [{"start": 0, "rate": 0.8}, {"start": 21_600_000, "rate": 0.85}],
        "Weekend": [{"start": 0, "rate": 0.7}],
    }
    assert datum["carbRatios"]["Weekday"] == [
        {"start": 0, "amount": 10.0},
        {"start": 21_600_000, "amount": 8.0},
    ]
    assert datum["insulinSensitivities"]["Weekend"] == [{"start": 0, "amount": 55.0}]
    assert datum["bgTargets"]["Weekday"] == [
        {"start": 0, "target": 110.0},
        {"start": 21_600_000, "target": 100.0},
    ]
    assert datum["units"] == {"bg": "mg/dL", "carb": "grams"}


def test_settings_fingerprint_changes_only_with_the_settings() -> None:
    pump = FakePump(PROFILES)
    first = asyncio.run(read_settings(pump.ask, pump.next_transaction, CLOCK))
    later = asyncio.run(read_settings(pump.ask, pump.next_transaction, datetime(2026, 4, 1)))
    assert first.fingerprint() == later.fingerprint()
    changed = dict(PROFILES)
    changed[(64, b"\x03")] = _settings(3, "Holiday", 1)
    renamed = asyncio.run(read_settings(FakePump(changed).ask, pump.next_transaction, CLOCK))
    assert renamed.fingerprint() != first.fingerprint()


def test_a_segment_answer_for_another_segment_is_refused() -> None:
    wrong = dict(PROFILES)
    wrong[(66, b"\x01\x01")] = _segment(1, 0, 360, 850, 8000, 100, 45)
    pump = FakePump(wrong)
    with pytest.raises(FrameError, match="asked for segment 1 of profile 1"):
        asyncio.run(read_settings(pump.ask, pump.next_transaction, CLOCK))


def test_status_notes_leave_out_what_was_not_answered() -> None:
    status = PumpStatus(ts.ApiVersion(2, 1), unanswered=["reservoir (InsulinStatus)"])
    note, missing = status.notes()
    assert note == "Pump status: API 2.1."
    assert missing.endswith("reservoir (InsulinStatus).")
    assert status.as_dict() == {"api_version": "2.1", "unanswered": ["reservoir (InsulinStatus)"]}


class ScriptedLink:
    """The driver's side of a link, scripted: what the pump notifies after each write."""

    def __init__(self, replies: list[list[Message]]) -> None:
        self.replies = replies
        self.queue: list[tuple[str, bytes]] = []
        self.written: list[int] = []

    async def write(self, uuid: str, data: bytes, response: bool = True) -> None:
        self.written.append(data[2])  # the opcode, in the first chunk
        for message in self.replies.pop(0):
            self.queue += [(uuid, p) for p in tandem.packets(message)]

    async def next_event(self, timeout_s: float, doing: str) -> tuple[str, bytes]:
        if not self.queue:
            raise DeviceTimeout(f"The device sent nothing for {timeout_s:.0f} s while {doing}.")
        return self.queue.pop(0)


def _driver(link: ScriptedLink) -> TslimX2Driver:
    target = Advertisement("F0:F0:F0:F0:F0:0A", "tslim X2 ***711", -50, (), None)  # type: ignore[arg-type]
    driver = TslimX2Driver(None, target)  # type: ignore[arg-type]
    driver._link = link  # type: ignore[assignment]
    return driver


def test_a_late_answer_to_a_request_given_up_on_is_passed_over() -> None:
    late = Message(ts.CURRENT_BATTERY_V1 + 1, 1, bytes([80, 80]))
    insulin = Message(ts.INSULIN_STATUS + 1, 2, bytes([100, 0, 0, 20]))
    link = ScriptedLink([[], [late, insulin]])
    driver = _driver(link)

    async def run() -> ts.InsulinStatus:
        with pytest.raises(DeviceTimeout):
            await driver._ask_status(ts.request(ts.CURRENT_BATTERY_V1, 1), "battery", 0.1)
        answer = await driver._ask_status(ts.request(ts.INSULIN_STATUS, 2), "reservoir", 0.1)
        return ts.parse_insulin_status(answer)

    assert asyncio.run(run()).units == 100


def test_an_answer_to_a_request_never_made_is_a_protocol_error() -> None:
    stray = Message(ts.INSULIN_STATUS + 1, 9, bytes([100, 0, 0, 20]))
    driver = _driver(ScriptedLink([[stray]]))
    with pytest.raises(ProtocolError, match="transaction 9 to request 2"):
        asyncio.run(driver._ask_status(ts.request(ts.INSULIN_STATUS, 2), "reservoir", 0.1))
