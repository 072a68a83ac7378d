"""MiniMed 600 history, host side, against the shared vectors (tests/vectors/minimed600/
history.json and pump.json, written by the emulator side): the transfer messages the host
sends, sessions, blocks, events, and what the events become."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from mock_cloud.validation import validate_chunk
from uploader.datamodel.wizard import Wizard
from uploader.drivers.minimed600_history import Carry, interpret
from uploader.errors import ProtocolError
from uploader.normalize.pump import pump_datums
from uploader.normalize.wizard import wizard_datum
from uploader.protocols import minimed_history as h
from uploader.protocols import minimed_pump as cmds
from uploader.protocols import minimed_wizard as wz
from uploader.protocols import ngp
from uploader.protocols.minimed_errors import MessageCorrupted
from uploader.records import DeviceIdentity
from uploader.state import record_key
from uploader.timeproc import AcrossTheBoardTimezone
from uploader.wizard_links import WizardLinks

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


def _compressed(session: bytes, stream: bytes) -> bytes:
    header = bytearray(session[: h.SESSION_HEADER_SIZE])
    header[3:7] = len(stream).to_bytes(4, "big")
    header[11] = 1  # the compressed flag
    return bytes(header) + stream


def _literal_stream(data: bytes) -> bytes:
    """LZO1X by hand: one literal run (0x00, 255 per zero byte, n: 18 + ... bytes), the end."""
    rest, out = len(data) - 18, bytearray([0])
    while rest > 255:
        out.append(0)
        rest -= 255
    return bytes(out) + bytes([rest]) + data + bytes([0x11, 0, 0])


def test_a_compressed_session_reads_as_the_plain_one() -> None:
    plain = bytes.fromhex(HISTORY["session"]["hex"])
    body = plain[h.SESSION_HEADER_SIZE :]
    parsed = h.parse_session(_compressed(plain, _literal_stream(body)))
    assert parsed == h.parse_session(plain)


def test_a_corrupted_compressed_session_is_refused_clearly() -> None:
    plain = bytes.fromhex(HISTORY["session"]["hex"])
    data = bytearray(plain)
    data[11] = 1  # the compressed flag over blocks that are no LZO1X stream
    with pytest.raises(MessageCorrupted, match="compressed history") as caught:
        h.parse_session(bytes(data))
    assert caught.value.hint
    stream = _literal_stream(plain[h.SESSION_HEADER_SIZE :])
    with pytest.raises(ProtocolError, match="compressed history session holds"):
        h.parse_session(_compressed(plain, stream)[:-1])


# ---- Bolus Wizard estimates ---------------------------------------------------------------

WIZARD_VECTORS = [e for e in HISTORY["events"] if e["type"] == wz.BOLUS_WIZARD_ESTIMATE]


@pytest.mark.parametrize("vector", WIZARD_VECTORS, ids=lambda v: v["name"])
def test_a_wizard_estimate_reads_as_the_vector_says(vector: dict[str, Any]) -> None:
    (event,) = h.split_events(bytes.fromhex(vector["hex"]))
    got = wz.parse_wizard_estimate(event.body)
    want = vector["fields"]
    assert (got.bg_units, got.carb_units) == (
        ["mg/dL", "mmol/L"][want["bg_units"]],
        ["grams", "exchanges"][want["carb_units"]],
    )
    assert (got.bg_input, got.carb_input, got.sensitivity, got.carb_ratio) == (
        want["bg_input"] or None,
        want["carb_input"],
        want["isf"],
        want["carb_ratio"],
    )
    assert (got.target_low, got.target_high) == (want["bg_target_low"], want["bg_target_high"])
    assert got.correction == pytest.approx(want["correction_estimate"])
    assert got.food == pytest.approx(want["food_estimate"])
    assert got.active_insulin == pytest.approx(want["active_insulin"])
    assert got.recommended == pytest.approx(want["wizard_estimate"])
    assert got.final == pytest.approx(want["final_estimate"])
    assert got.modified_by_user is want["modified_by_user"]


def test_a_wizard_estimate_in_mmol_and_exchanges_keeps_the_pumps_units() -> None:
    body = bytearray(bytes.fromhex(WIZARD_VECTORS[0]["hex"])[h.EVENT_HEADER_SIZE :])
    body[0:2] = b"\x01\x01"
    body[2:6] = (72).to_bytes(2, "big") + (35).to_bytes(2, "big")  # 7.2 mmol/L, 3.5 exch
    body[8:12] = (1500).to_bytes(4, "big")  # 1.5 U per exchange
    got = wz.parse_wizard_estimate(bytes(body))
    assert (got.bg_units, got.bg_input, got.carb_units, got.carb_input, got.carb_ratio) == (
        "mmol/L",
        7.2,
        "exchanges",
        3.5,
        1.5,
    )


def test_a_short_or_strange_wizard_estimate_is_a_clear_error() -> None:
    body = bytes.fromhex(WIZARD_VECTORS[0]["hex"])[h.EVENT_HEADER_SIZE :]
    with pytest.raises(ProtocolError, match="41 bytes; 42 were expected"):
        wz.parse_wizard_estimate(body[:-1])
    with pytest.raises(ProtocolError, match="unknown units"):
        wz.parse_wizard_estimate(b"\x07" + body[1:])


def _wizard_read() -> Any:
    pump = _events(
        "bolus_wizard_estimate_modified",
        "normal_bolus_programmed",
        "normal_bolus_delivered",
        "bolus_wizard_estimate_below_target",
        "dual_bolus_programmed",
        "dual_bolus_part_delivered_normal",
        "dual_bolus_part_delivered_square",
    )
    return interpret(pump, [], Carry())


def test_each_estimate_becomes_a_wizard_record_linked_to_its_bolus() -> None:
    found = _wizard_read()
    boluses = {b.link: b for b in found.history.boluses}
    meal, low = found.history.wizards
    assert (meal.device_time, meal.bg_input, meal.carb_input) == (
        datetime(2026, 11, 30, 7, 30),
        180,
        45,
    )
    assert (meal.recommended_carb, meal.recommended_net, meal.insulin_on_board) == (4.5, 5.4, 0.5)
    assert boluses[meal.bolus_link].kind == "normal"
    assert boluses[meal.bolus_link].normal == 4.5  # the user's 4.5, not the wizard's 5.4
    assert low.recommended_correction == pytest.approx(-0.4)
    assert boluses[low.bolus_link].kind == "combination"
    assert found.history.record_count == 2 + 2


def test_an_estimate_the_bolus_does_not_match_stays_unlinked() -> None:
    # the dual bolus (3.5 U) is not what the first estimate's user accepted (4.5 U)
    pump = _events(
        "bolus_wizard_estimate_modified",
        "normal_bolus_delivered",  # no programmed event: no Bolus Wizard source to link by
        "dual_bolus_programmed",
        "dual_bolus_part_delivered_normal",
        "dual_bolus_part_delivered_square",
    )
    (wizard,) = interpret(pump, [], Carry()).history.wizards
    assert wizard.bolus_link is None


def test_an_estimate_whose_bolus_still_runs_waits_for_the_next_read() -> None:
    pump = _events(
        "bolus_wizard_estimate_below_target",
        "dual_bolus_programmed",
        "dual_bolus_part_delivered_normal",
    )
    found = interpret(pump, [], Carry())
    assert found.history.wizards == [] and found.history.boluses == []
    estimate_rtc = _events("bolus_wizard_estimate_below_target")[0].time.rtc
    assert found.carry.pump_rtc == estimate_rtc  # read again from the estimate


def test_wizard_datums_carry_the_pumps_figures_and_their_boluss_time() -> None:
    found = _wizard_read()
    identity = DeviceIdentity("Medtronic", "MiniMed 670G", "NG1", "1", "MiniMed-NG1", ())
    datums = pump_datums(found.history, identity, AcrossTheBoardTimezone("UTC"))
    wizards = [d for d in datums if isinstance(d, Wizard)]
    meal = wizards[0].to_json()
    assert meal["type"] == "wizard" and meal["deviceTime"] == "2026-11-30T07:30:00"
    assert {k: meal[k] for k in ("bgInput", "carbInput", "units", "carbUnits")} == {
        "bgInput": 180,
        "carbInput": 45,
        "units": "mg/dL",
        "carbUnits": "grams",
    }
    assert meal["bgTarget"] == {"low": 90, "high": 110}
    assert (meal["insulinCarbRatio"], meal["insulinSensitivity"], meal["insulinOnBoard"]) == (
        10,
        50,
        0.5,
    )
    assert meal["recommended"] == {"carb": 4.5, "correction": 1.4, "net": 5.4}
    assert "bolus" not in meal and "bolusDeviceTime" not in meal  # the cloud id comes later
    assert wizards[0].bolus_device_time == datetime(2026, 11, 30, 7, 30)
    assert wizards[1].to_json()["recommended"]["correction"] == pytest.approx(-0.4)
    assert record_key(meal) != record_key(wizards[1].to_json())


def test_the_upload_links_a_wizard_to_its_boluss_cloud_id() -> None:
    found = _wizard_read()
    identity = DeviceIdentity("Medtronic", "MiniMed 670G", "NG1", "1", "MiniMed-NG1", ())
    models = pump_datums(found.history, identity, AcrossTheBoardTimezone("UTC"))
    datums = [m.to_json() for m in models]
    links = WizardLinks(models, datums)
    assert len(links.waiting()) == 2 and len(links.ready(datums)) == len(datums) - 2
    meal_bolus = next(d for d in datums if d["type"] == "bolus" and d["subType"] == "normal")
    links.resolve([{**meal_bolus, "id": "cloud-id-1"}])
    (still,) = links.waiting()
    assert still["deviceTime"] == "2026-11-30T18:00:00"
    meal = next(d for d in datums if d["type"] == "wizard" and d.get("bolus"))
    assert meal["bolus"] == "cloud-id-1" and meal["deviceTime"] == "2026-11-30T07:30:00"


def test_the_cloud_accepts_wizard_datums_in_either_unit() -> None:
    found = _wizard_read()
    identity = DeviceIdentity("Medtronic", "MiniMed 670G", "NG1", "1", "MiniMed-NG1", ())
    models = pump_datums(found.history, identity, AcrossTheBoardTimezone("UTC"))
    datums = [m.to_json() for m in models]
    for datum in datums:
        if datum["type"] == "wizard":
            datum["bolus"] = "0123456789abcdef"
    mmol = replace(
        found.history.wizards[0],
        bg_units="mmol/L",
        bg_input=10.0,
        insulin_sensitivity=2.8,
        target_low=5.0,
        target_high=6.1,
        carb_units="exchanges",
        carb_input=3.5,
    )
    odd = wizard_datum(mmol, [], identity, AcrossTheBoardTimezone("UTC")).to_json()
    assert (odd["units"], odd["bgInput"], odd["carbUnits"]) == ("mmol/L", 10.0, "exchanges")
    assert "carbInput" not in odd and odd["payload"] == {"carbInput": 3.5}  # not rounded away
    assert validate_chunk([*datums, odd]) == (0, [])


def test_an_estimate_read_before_its_bolus_was_programmed_waits() -> None:
    pump = _events("normal_bolus_delivered", "bolus_wizard_estimate_below_target")
    found = interpret(pump, [], Carry())
    assert found.history.wizards == []
    assert found.carry.pump_rtc == pump[-1].time.rtc  # read again: its bolus may follow
