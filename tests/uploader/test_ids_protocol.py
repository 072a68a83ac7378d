"""The uploader's IDS parsing against the shared vectors (tests/vectors/ble/ids/*.json).

The vectors were computed outside both implementations; the emulator's tests read the same
files. A failure here means the uploader misreads the specification (or the vector does).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from uploader.protocols import ids

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "ble" / "ids"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / name).read_text())
    return data


HISTORY = load("history.json")
CONTROL = load("control.json")
RACP = load("racp.json")
VALUES = load("values.json")
E2E = load("e2e.json")


def test_enumerations_agree_with_the_vectors() -> None:
    assert {k: v for k, v in HISTORY["event_types"].items()} == {
        "reference time": ids.EventType.REFERENCE_TIME,
        "reference time base offset": ids.EventType.REFERENCE_TIME_BASE_OFFSET,
        "bolus calculated part 1": ids.EventType.BOLUS_CALCULATED_1,
        "bolus calculated part 2": ids.EventType.BOLUS_CALCULATED_2,
        "bolus programmed part 1": ids.EventType.BOLUS_PROGRAMMED_1,
        "bolus programmed part 2": ids.EventType.BOLUS_PROGRAMMED_2,
        "bolus delivered part 1": ids.EventType.BOLUS_DELIVERED_1,
        "bolus delivered part 2": ids.EventType.BOLUS_DELIVERED_2,
        "delivered basal rate changed": ids.EventType.DELIVERED_BASAL_RATE_CHANGED,
        "TBR adjustment started": ids.EventType.TBR_STARTED,
        "TBR adjustment ended": ids.EventType.TBR_ENDED,
        "TBR adjustment changed": ids.EventType.TBR_CHANGED,
        "profile template activated": ids.EventType.PROFILE_TEMPLATE_ACTIVATED,
        "basal rate profile template time block changed": (
            ids.EventType.BASAL_PROFILE_TIME_BLOCK_CHANGED
        ),
        "total daily insulin delivery": ids.EventType.TOTAL_DAILY_INSULIN,
        "therapy control state changed": ids.EventType.THERAPY_CONTROL_STATE_CHANGED,
        "operational state changed": ids.EventType.OPERATIONAL_STATE_CHANGED,
        "reservoir remaining amount changed": ids.EventType.RESERVOIR_REMAINING_CHANGED,
        "annunciation status changed part 1": ids.EventType.ANNUNCIATION_STATUS_CHANGED_1,
        "annunciation status changed part 2": ids.EventType.ANNUNCIATION_STATUS_CHANGED_2,
        "ISF profile template time block changed": ids.EventType.ISF_PROFILE_TIME_BLOCK_CHANGED,
        "I2CHO ratio profile template time block changed": (
            ids.EventType.I2CHO_PROFILE_TIME_BLOCK_CHANGED
        ),
        "target glucose range profile template time block changed": (
            ids.EventType.TARGET_RANGE_PROFILE_TIME_BLOCK_CHANGED
        ),
        "priming started": ids.EventType.PRIMING_STARTED,
        "priming done": ids.EventType.PRIMING_DONE,
        "data corruption": ids.EventType.DATA_CORRUPTION,
    }
    assert RACP["op_codes"]["report stored records"] == ids.RacpOp.REPORT_RECORDS
    assert RACP["operators"]["greater than or equal to"] == ids.RacpOperator.GREATER_OR_EQUAL
    assert RACP["response_codes"]["success"] == ids.RACP_SUCCESS
    assert RACP["response_codes"]["no records found"] == ids.RACP_NO_RECORDS
    for name, code in VALUES["annunciation_types"].items():
        assert ids.AnnunciationType[name.upper().replace(" ", "_").replace("TBR", "TBR")] == code
    ops = CONTROL["ccp_op_codes"]
    assert ops["read basal rate profile template"] == ids.CommandOp.READ_BASAL_RATE_TEMPLATE
    assert ops["read ISF profile template response"] == ids.CommandOp.READ_ISF_TEMPLATE_RESPONSE
    assert ops["read I2CHO ratio profile template"] == ids.CommandOp.READ_I2CHO_TEMPLATE
    assert ops["response code"] == ids.CommandOp.RESPONSE_CODE


def _events(e2e: bool = False) -> list[ids.HistoryRecord]:
    key = "hex_e2e" if e2e else "hex"
    return [ids.parse_history(bytes.fromhex(e[key]), e2e) for e in HISTORY["events"] if key in e]


def test_history_records_header() -> None:
    for vector, record in zip(HISTORY["events"], _events(), strict=True):
        assert record.event_type == vector["event_type"]
        assert record.record_number == vector["record_number"]
        assert record.relative_offset_s == vector["relative_offset_s"]


def test_history_events_mean_what_the_vectors_say() -> None:
    joined = ids.join_events(_events())
    assert joined.incomplete is None
    by_record = {e.record: e for e in joined.events}

    first = by_record[1]
    assert isinstance(first, ids.ReferenceTime)
    assert first.reason == ids.RecordingReason.SET_DATE_TIME
    assert first.local == datetime(2026, 3, 8, 9, 15)
    assert first.time_zone_min is None and first.dst_min is None

    meal = by_record[3]
    assert isinstance(meal, ids.BolusProgrammed)
    assert meal.last_record == 4
    assert (meal.parts.bolus_id, meal.parts.fast, meal.parts.extended) == (7, 4.35, 0.0)
    assert meal.parts.bolus_type == ids.BolusType.FAST
    assert meal.activation == ids.BolusActivation.MANUAL and meal.reason_meal

    delivered = by_record[5]
    assert isinstance(delivered, ids.BolusDelivered)
    assert delivered.start_offset_s == 261
    assert delivered.end_reason == ids.BolusEndReason.DELIVERED

    cancelled = by_record[9]
    assert isinstance(cancelled, ids.BolusDelivered)
    assert cancelled.parts.bolus_type == ids.BolusType.MULTIWAVE
    assert (cancelled.parts.fast, cancelled.parts.extended) == (3.0, 1.25)
    assert cancelled.parts.duration_min == 60
    assert cancelled.end_reason == ids.BolusEndReason.CANCELED

    extended = by_record[11]
    assert isinstance(extended, ids.BolusProgrammed)
    assert extended.parts.bolus_type == ids.BolusType.EXTENDED
    assert (extended.parts.extended, extended.parts.duration_min) == (3.2, 90)
    assert extended.reason_correction

    rate = by_record[13]
    assert isinstance(rate, ids.BasalRateChanged)
    assert (rate.old_rate, rate.new_rate) == (0.85, 1.1)

    absolute = by_record[14]
    assert isinstance(absolute, ids.TbrStarted)
    assert (absolute.tbr_type, absolute.value, absolute.duration_min) == (
        ids.TbrType.ABSOLUTE,
        0.5,
        120,
    )
    relative = by_record[15]
    assert isinstance(relative, ids.TbrStarted)
    assert (relative.tbr_type, relative.value) == (ids.TbrType.RELATIVE, 150)

    ended = by_record[16]
    assert isinstance(ended, ids.TbrEnded)
    assert (ended.last_value, ended.effective_min) == (150, 90)
    assert ended.end_reason == ids.TbrEndReason.CANCELED

    suspend, resume = by_record[18], by_record[19]
    assert isinstance(suspend, ids.StateChanged) and isinstance(resume, ids.StateChanged)
    assert (suspend.old, suspend.new) == (ids.TherapyState.RUN, ids.TherapyState.STOP)
    assert (resume.old, resume.new) == (ids.TherapyState.STOP, ids.TherapyState.RUN)

    reservoir = by_record[21]
    assert isinstance(reservoir, ids.ReservoirChanged) and reservoir.remaining == 180.0

    alarm = by_record[22]
    assert isinstance(alarm, ids.AnnunciationChanged)
    assert alarm.last_record == 23
    assert alarm.annunciation == ids.Annunciation(
        12, ids.AnnunciationType.RESERVOIR_LOW, ids.AnnunciationStatusValue.PENDING
    )

    primed = by_record[25]
    assert isinstance(primed, ids.PrimingDone) and primed.delivered == 12.0

    activated = by_record[26]
    assert isinstance(activated, ids.ProfileTemplateActivated)
    assert (activated.template_type, activated.old, activated.new) == (
        ids.TemplateType.BASAL_RATE,
        1,
        2,
    )


def test_e2e_protected_history_parses_alike_and_a_bad_crc_is_refused() -> None:
    protected = _events(e2e=True)
    plain = {r.record_number: r for r in _events()}
    assert protected
    for record in protected:
        assert record == plain[record.record_number]
    corrupted = bytes.fromhex(E2E["corrupted"]["hex"])
    with pytest.raises(ids.IntegrityError, match="E2E-CRC"):
        ids.parse_history(corrupted, True)


@pytest.mark.parametrize("case", E2E["cases"], ids=lambda c: str(c["what"]))
def test_e2e_trailers(case: dict[str, Any]) -> None:
    payload = bytes.fromhex(case["payload_hex"])
    protected = bytes.fromhex(case["protected_hex"])
    with_counter = case["counter"] is not None
    assert ids.unprotect(protected, True, counter=with_counter) == payload
    if with_counter:
        assert ids.e2e_counter(protected) == case["counter"] % 256
        assert ids.protect(payload, True, case["counter"]) == protected


def test_a_part_one_without_its_part_two_is_refused_or_kept_for_later() -> None:
    records = _events()
    bolus_part_1 = next(r for r in records if r.record_number == 3)
    later = next(r for r in records if r.record_number == 13)
    with pytest.raises(ids.IdsFormatError, match="not its second part"):
        ids.join_events([bolus_part_1, later])
    assert ids.join_events([bolus_part_1]).incomplete == bolus_part_1
    part_2 = next(r for r in records if r.record_number == 4)
    with pytest.raises(ids.IdsFormatError, match="first part is missing"):
        ids.join_events([part_2])


def test_racp_requests_and_responses() -> None:
    encoded = {
        "report all records": ids.racp_request(ids.RacpOp.REPORT_RECORDS, ids.RacpOperator.ALL),
        "report records with record number >= 1234": ids.racp_request(
            ids.RacpOp.REPORT_RECORDS, ids.RacpOperator.GREATER_OR_EQUAL, 1234
        ),
        "report the number of all records": ids.racp_request(
            ids.RacpOp.REPORT_NUMBER, ids.RacpOperator.ALL
        ),
        "report the number of records with record number >= 1234": ids.racp_request(
            ids.RacpOp.REPORT_NUMBER, ids.RacpOperator.GREATER_OR_EQUAL, 1234
        ),
    }
    requests = {r["meaning"]: r for r in RACP["requests"]}
    for meaning, request in encoded.items():
        assert request.hex() == requests[meaning]["hex"]
    protected = requests["report records >= 1234, E2E-protected"]
    assert (
        ids.protect(encoded["report records with record number >= 1234"], True, 3).hex()
        == (protected["hex"])
    )
    for vector in RACP["responses"]:
        answer = ids.parse_racp(bytes.fromhex(vector["hex"]), vector["e2e"])
        meaning = vector["meaning"]
        if meaning.startswith("number of stored records"):
            assert answer.number_of_records == int(meaning.split(":")[1].split(",")[0])
        elif "success" in meaning:
            assert answer.succeeded
        elif "no records found" in meaning:
            assert answer.code == ids.RACP_NO_RECORDS
        else:
            assert not answer.succeeded and answer.describe() in meaning


def test_features_status_and_annunciations() -> None:
    for vector in VALUES["features"]:
        features = ids.parse_features(bytes.fromhex(vector["hex"]))
        assert features.e2e == vector["e2e"]
        assert features.insulin_concentration == vector["insulin_concentration_iu_per_ml"]
        assert [b for b in range(24) if features.flags >> b & 1] == vector["flag_bits"]
    broken = bytearray(bytes.fromhex(VALUES["features"][1]["hex"]))
    broken[4] ^= 0x01
    with pytest.raises(ids.IntegrityError):
        ids.parse_features(bytes(broken))
    for vector in VALUES["status"]:
        status = ids.parse_status(bytes.fromhex(vector["hex"]), vector["e2e"])
        assert status.therapy == vector["therapy_control_state_code"]
        assert status.operational == vector["operational_state_code"]
        assert status.reservoir_units == vector["reservoir_remaining_iu"]
        assert status.reservoir_attached == vector["reservoir_attached"]
    for vector in VALUES["status_changed"]:
        assert (
            ids.parse_status_changed(bytes.fromhex(vector["hex"]), vector["e2e"])
            == (vector["flags"])
        )
    for vector in VALUES["annunciation_status"]:
        shown = ids.parse_annunciation_status(bytes.fromhex(vector["hex"]), vector["e2e"])
        expected = vector["annunciation"]
        if expected is None:
            assert shown is None
        else:
            assert shown is not None
            assert (shown.instance_id, shown.type, shown.status) == (
                expected["id"],
                expected["type_code"],
                expected["status_code"],
            )


def test_settings_reads() -> None:
    exchanges = {e["name"]: e for e in CONTROL["exchanges"]}
    layouts = {
        "read basal rate profile template 1 (5 time blocks)": (1, 3, "rate"),
        "read ISF profile template 1": (1, 3, "isf_mg_dl_per_iu"),
        "read I:CHO ratio profile template 1": (1, 3, "g_per_iu"),
        "read target glucose range profile template 1": (2, 2, "low_mg_dl"),
        "read basal rate profile template 2, E2E-protected": (1, 3, "rate"),
    }
    for name, (per_block, max_blocks, field) in layouts.items():
        exchange = exchanges[name]
        e2e = exchange["e2e"]
        request = bytes.fromhex(exchange["request"])
        op = int.from_bytes(request[:2], "little")
        if e2e:
            body = request[:-3]
            assert ids.protect(body, True, exchange["request_e2e_counter"]) == request
        else:
            assert ids.cp_request(op, request[2:]) == request
        chunks = []
        for value in exchange["command_data"]:
            answer = ids.parse_cp(bytes.fromhex(value), e2e)
            chunks.append(ids.parse_template_chunk(answer.operand, per_block, max_blocks))
        blocks = sorted((b for c in chunks for b in c.blocks), key=lambda b: b.index)
        meaning = exchange["meaning"]
        assert all(c.template == meaning["template"] for c in chunks)
        assert [b.values[0] for b in blocks] == [m[field] for m in meaning["blocks"]]
        starts, start = [], 0
        for block in blocks:
            starts.append(start)
            start += block.duration_min
        assert starts == [m["start_min"] for m in meaning["blocks"]]
        response = ids.parse_cp(bytes.fromhex(exchange["response"]), e2e)
        assert response.op == ids.CommandOp.RESPONSE_CODE
        assert response.response_code() == (op, ids.CP_SUCCESS)
    target = exchanges["read target glucose range profile template 1"]
    chunk = ids.parse_template_chunk(
        ids.parse_cp(bytes.fromhex(target["command_data"][0]), False).operand, 2, 2
    )
    assert [b.values for b in chunk.blocks] == [(100, 120), (90, 110)]
    activated = exchanges["get activated profile templates"]
    answer = ids.parse_cp(bytes.fromhex(activated["command_data"][0]), False)
    assert answer.op == ids.CommandOp.GET_ACTIVATED_PROFILE_TEMPLATES_RESPONSE
    assert ids.parse_activated_templates(answer.operand) == {
        ids.TemplateType.BASAL_RATE: 2,
        ids.TemplateType.ISF: 1,
        ids.TemplateType.I2CHO: 1,
        ids.TemplateType.TARGET_RANGE: 1,
    }
    refused = ids.parse_cp(
        bytes.fromhex(exchanges["read a basal rate template that does not exist"]["response"]),
        False,
    )
    assert ids.describe_cp_code(refused.response_code()[1]) == "parameter out of range"


def test_status_reader_answers() -> None:
    for vector in CONTROL["status_reader"]:
        answer = ids.parse_cp(bytes.fromhex(vector["response"]), vector["e2e"])
        if answer.op == ids.StatusReaderOp.GET_TOTAL_DAILY_INSULIN_STATUS_RESPONSE:
            totals = ids.parse_total_daily_insulin(answer.operand)
            meaning = vector["meaning"]
            assert (totals.bolus_units, totals.basal_units, totals.total_units) == (
                meaning["bolus_iu"],
                meaning["basal_iu"],
                meaning["total_iu"],
            )
        elif answer.op == ids.StatusReaderOp.GET_ACTIVE_BASAL_RATE_DELIVERY_RESPONSE:
            basal = ids.parse_active_basal_delivery(answer.operand)
            assert (basal.template, basal.current_rate) == (
                vector["meaning"]["active_template"],
                vector["meaning"]["current_rate_iu_per_h"],
            )


def test_a_truncated_event_names_its_record() -> None:
    vector = next(e for e in HISTORY["events"] if e["record_number"] == 13)
    truncated = bytes.fromhex(vector["hex"])[:-2]
    with pytest.raises(ids.IdsFormatError, match=r"record 13 .* is malformed"):
        ids.join_events([ids.parse_history(truncated, False)])


def test_template_status_and_details_lists_the_configured_templates() -> None:
    # basal templates 1..3, up to 24 blocks; 2 bits each (configurable, configured):
    # template 1 configured, 2 configurable only, 3 configured
    details = ids.parse_template_details(bytes([0x33, 1, 3, 24, 0b0011_0111]))
    assert (details.template_type, details.first, details.count) == (0x33, 1, 3)
    assert details.configured == (1, 3)
