"""The IDS protocol engine reproduces the shared vectors byte for byte (tests/vectors/ble/ids)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from emulator.model import pump as m
from emulator.protocols import ids
from emulator.protocols.e2e_crc import CrcError

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "ble" / "ids"


def load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


VALUES = load("values.json")
HISTORY = load("history.json")
RACP = load("racp.json")
CONTROL = load("control.json")
E2E = load("e2e.json")

T = datetime(2026, 3, 8, tzinfo=UTC)
BOLUS = {"fast": m.BolusKind.FAST, "extended": m.BolusKind.EXTENDED}
BOLUS["multiwave"] = m.BolusKind.MULTIWAVE
STATE = {"run": m.TherapyState.RUN, "stop": m.TherapyState.STOP}
OPERATIONAL = {"ready": m.OperationalState.READY, "priming": m.OperationalState.PRIMING}


def payload_of(case: dict[str, Any]) -> m.EventPayload:
    d = case["meaning"]
    name = case["name"]
    if name.startswith("reference time"):
        reason = {0x33: m.ReferenceReason.SET_DATE_TIME, 0x3C: m.ReferenceReason.PERIODIC}
        shown = datetime.fromisoformat(d["date_time"])
        return m.ReferenceTime(reason[d["recording_reason_code"]], shown)
    if name.startswith("bolus programmed part 1"):
        kind = BOLUS[d["bolus_type"]]
        return m.BolusProgrammed1(
            d["bolus_id"], kind, d["fast_iu"], d["extended_iu"], d["duration_min"]
        )
    if name.startswith("bolus programmed part 2"):
        return m.BolusProgrammed2(meal=d["delivery_reason"] == "meal")
    if name.startswith("bolus delivered part 1"):
        kind = BOLUS[d["bolus_type"]]
        return m.BolusDelivered1(
            d["bolus_id"], kind, d["fast_iu"], d["extended_iu"], d["duration_min"]
        )
    if name.startswith("bolus delivered part 2"):
        end = m.BolusEnd.CANCELLED if d["end_reason"] == "canceled" else m.BolusEnd.DELIVERED
        return m.BolusDelivered2(d["bolus_start_time_offset_s"], end)
    if name == "delivered basal rate changed":
        return m.BasalRateChanged(d["old_rate_iu_per_h"], d["new_rate_iu_per_h"])
    if name.startswith("TBR adjustment started"):
        return m.TbrStarted(m.TbrKind(d["tbr_type"]), d["value"], d["programmed_duration_min"])
    if name == "TBR adjustment ended":
        stop = m.TbrEnd.CANCELLED if d["end_reason"] == "canceled" else m.TbrEnd.DURATION_OVER
        return m.TbrEnded(m.TbrKind(d["tbr_type"]), d["value"], d["effective_duration_min"], stop)
    if name == "total daily insulin delivery":
        day = date.fromisoformat(d["date"])
        return m.TotalDailyInsulin(day, d["bolus_iu"], d["basal_iu"], bool(d["flags"] & 1))
    if name.startswith("therapy control state changed"):
        return m.TherapyStateChanged(STATE[d["old"]], STATE[d["new"]])
    if name == "operational state changed":
        return m.OperationalStateChanged(OPERATIONAL[d["old"]], OPERATIONAL[d["new"]])
    if name == "reservoir remaining amount changed":
        return m.ReservoirChanged(d["remaining_iu"])
    if name == "annunciation status changed part 1 of 2":
        kinds = {v: k for k, v in ids.ANNUNCIATION_TYPE.items()}
        state = m.AnnunciationState(d["status"])
        return m.AnnunciationChanged1(d["annunciation_id"], kinds[d["type_code"]], state)
    if name == "annunciation status changed part 2 of 2":
        return m.AnnunciationChanged2()
    if name == "priming started":
        return m.PrimingStarted(d["programmed_amount_iu"])
    if name == "priming done":
        return m.PrimingDone(d["delivered_amount_iu"], m.PrimeEnd.AMOUNT_REACHED)
    if name == "profile template activated":
        return m.ProfileActivated(d["old_template_number"], d["new_template_number"])
    raise AssertionError(f"no payload for vector {name!r}")


@pytest.mark.parametrize("case", HISTORY["events"], ids=lambda c: c["name"])
def test_history_events(case: dict[str, Any]) -> None:
    event = m.HistoryEvent(case["record_number"], T, case["relative_offset_s"], payload_of(case))
    assert ids.encode_event(event, e2e=False).hex() == case["hex"]
    assert ids.encode_event(event, e2e=True).hex() == case["hex_e2e"]
    assert ids.encode_event(event, e2e=True, corrupt=True).hex() != case["hex_e2e"]


def test_every_event_type_the_model_produces_has_a_vector() -> None:
    covered = {case["event_type"] for case in HISTORY["events"]}
    assert {int(t) for t in ids.EventType} <= covered


def test_features_status_and_annunciations() -> None:
    plain, protected = VALUES["features"]
    assert ids.encode_features(e2e=False).hex() == plain["hex"]
    assert ids.encode_features(e2e=True).hex() == protected["hex"]
    run, stop = VALUES["status"]
    assert (
        ids.encode_status(m.TherapyState.RUN, m.OperationalState.READY, 182.5, True).hex()
        == run["hex"]
    )
    assert (
        ids.encode_status(
            m.TherapyState.STOP, m.OperationalState.READY, 42.0, True, counter=7
        ).hex()
        == stop["hex"]
    )
    changed_plain, changed_e2e = VALUES["status_changed"]
    assert ids.encode_status_changed(0x0080).hex() == changed_plain["hex"]
    assert ids.encode_status_changed(0x0085, counter=1).hex() == changed_e2e["hex"]
    none, low, occlusion = VALUES["annunciation_status"]
    assert ids.encode_annunciation_status(None).hex() == none["hex"]
    assert ids.encode_annunciation_status((12, m.Annunciation.RESERVOIR_LOW)).hex() == low["hex"]
    coded = ids.encode_annunciation_status((13, m.Annunciation.OCCLUSION), counter=4)
    assert coded.hex() == occlusion["hex"]


@pytest.mark.parametrize("case", RACP["requests"], ids=lambda c: c["meaning"])
def test_racp_requests_parse(case: dict[str, Any]) -> None:
    data = ids.unprotect(bytes.fromhex(case["hex"]), case["e2e"])
    request = ids.parse_racp(data)
    assert request.op in (ids.RacpOp.REPORT_RECORDS, ids.RacpOp.REPORT_NUMBER, ids.RacpOp.ABORT)
    if ">= 1234" in case["meaning"]:
        assert (request.operator, request.low) == (ids.RacpOperator.GREATER_OR_EQUAL, 1234)
    if "10..20" in case["meaning"]:
        assert (request.low, request.high) == (10, 20)
    if "newest reference time" in case["meaning"]:
        assert (request.operator, request.filter) == (
            ids.RacpOperator.LAST,
            ids.RacpFilter.REFERENCE_TIME_EVENTS,
        )


def test_racp_responses() -> None:
    by_meaning = {case["meaning"]: case["hex"] for case in RACP["responses"]}
    code = ids.RacpCode
    assert (
        ids.racp_response(0x33, code.SUCCESS).hex() == by_meaning["report stored records: success"]
    )
    assert (
        ids.racp_response(0x33, code.NO_RECORDS_FOUND).hex()
        == by_meaning["report stored records: no records found"]
    )
    assert ids.racp_response(0x55, code.SUCCESS).hex() == by_meaning["abort: success"]
    assert ids.racp_number(4321).hex() == by_meaning["number of stored records: 4321"]
    assert (
        ids.racp_response(0x33, code.SUCCESS, counter=9).hex()
        == by_meaning["report stored records: success, E2E-protected"]
    )
    assert (
        ids.racp_number(0, counter=2).hex()
        == by_meaning["number of stored records: 0, E2E-protected"]
    )
    with pytest.raises(ids.RacpRejected) as rejected:
        ids.parse_racp(bytes.fromhex("3c33"))
    assert (
        ids.racp_response(rejected.value.op, rejected.value.code).hex()
        == by_meaning["delete: op code not supported (the pump keeps its history)"]
    )


def _template(meaning: dict[str, Any], key: str | tuple[str, str]) -> m.ProfileTemplate:
    starts = []
    for block in meaning["blocks"]:
        value = tuple(block[k] for k in key) if isinstance(key, tuple) else block[key]
        starts.append((block["start_min"], value))
    return m.template(meaning["template"], starts)


@pytest.mark.parametrize(
    ("name", "response_op", "key"),
    [
        (
            "read basal rate profile template 1 (5 time blocks)",
            ids.CcpOp.READ_BASAL_TEMPLATE_RESPONSE,
            "rate",
        ),
        ("read ISF profile template 1", ids.CcpOp.READ_ISF_TEMPLATE_RESPONSE, "isf_mg_dl_per_iu"),
        ("read I:CHO ratio profile template 1", ids.CcpOp.READ_I2CHO_TEMPLATE_RESPONSE, "g_per_iu"),
        (
            "read target glucose range profile template 1",
            ids.CcpOp.READ_TARGET_TEMPLATE_RESPONSE,
            ("low_mg_dl", "high_mg_dl"),
        ),
    ],
)
def test_template_reads(name: str, response_op: ids.CcpOp, key: Any) -> None:
    (case,) = [c for c in CONTROL["exchanges"] if c["name"] == name]
    profile = _template(case["meaning"], key)
    assert [v.hex() for v in ids.template_responses(response_op, profile)] == case["command_data"]
    request_op = int.from_bytes(bytes.fromhex(case["request"])[:2], "little")
    assert ids.ccp_response(request_op, ids.CcpCode.SUCCESS).hex() == case["response"]


def test_control_point_extras() -> None:
    by_name = {c["name"]: c for c in CONTROL["exchanges"]}
    activated = by_name["get activated profile templates"]
    assert ids.activated_templates(2).hex() == activated["command_data"][0]
    missing = by_name["read a basal rate template that does not exist"]
    assert ids.ccp_response(0x0FAA, ids.CcpCode.PARAMETER_OUT_OF_RANGE).hex() == missing["response"]
    protected = by_name["read basal rate profile template 2, E2E-protected"]
    assert ids.unprotect(bytes.fromhex(protected["request"]), True) == bytes.fromhex("aa0f02")
    profile = m.template(2, [(0, 0.9)])
    (value,) = ids.template_responses(ids.CcpOp.READ_BASAL_TEMPLATE_RESPONSE, profile)
    assert ids.protect(value, 1).hex() == protected["command_data"][0]
    assert ids.ccp_response(0x0FAA, ids.CcpCode.SUCCESS, counter=1).hex() == protected["response"]


def test_status_reader() -> None:
    by_name = {c["name"]: c for c in CONTROL["status_reader"]}
    assert (
        ids.active_basal_delivery(2, 0.95).hex()
        == by_name["get active basal rate delivery (no TBR)"]["response"]
    )
    assert (
        ids.total_daily_insulin(6.5, 8.25).hex()
        == by_name["get total daily insulin status"]["response"]
    )
    assert ids.active_bolus_ids([]).hex() == by_name["get active bolus IDs (none)"]["response"]
    reset = by_name["reset status (history event recorded)"]
    assert ids.srcp_response(0x030C, ids.CcpCode.SUCCESS).hex() == reset["response"]
    assert (
        ids.srcp_response(0x03F3, ids.CcpCode.OP_CODE_NOT_SUPPORTED).hex()
        == by_name["unsupported op code"]["response"]
    )
    protected = by_name["get total daily insulin status, E2E-protected"]
    assert ids.total_daily_insulin(6.5, 8.25, counter=1).hex() == protected["response"]


def test_e2e_cases() -> None:
    status, racp_case, history = E2E["cases"]
    assert (
        ids.protect(bytes.fromhex(status["payload_hex"]), status["counter"]).hex()
        == status["protected_hex"]
    )
    counter = ids.Counter()
    counter.value = 254
    assert [counter.next(), counter.next()] == [255, 0]
    assert (
        ids.protect(bytes.fromhex(racp_case["payload_hex"]), 255).hex()
        == racp_case["protected_hex"]
    )
    with pytest.raises(CrcError):
        ids.unprotect(bytes.fromhex(E2E["corrupted"]["hex"]), True)
    assert history["protected_hex"].startswith(history["payload_hex"])
