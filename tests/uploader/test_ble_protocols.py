"""The collector side of GLS and CGMS against the shared vectors (tests/vectors/ble)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from uploader.protocols import cgms, gls, racp
from uploader.protocols.ble_time import decode_date_time, utc_offset_minutes
from uploader.protocols.e2e_crc import crc16, split_checked
from uploader.protocols.ieee11073 import Special, decode_sfloat


def test_sfloat_values_and_special_codes(ble_vectors: dict[str, Any]) -> None:
    for vector in ble_vectors["sfloat"]["values"]:
        decoded = decode_sfloat(bytes.fromhex(vector["hex"]))
        assert (decoded.mantissa, decoded.exponent) == (vector["mantissa"], vector["exponent"])
        assert decoded.value == pytest.approx(vector["value"])
    for vector in ble_vectors["sfloat"]["special"]:
        decoded = decode_sfloat(bytes.fromhex(vector["hex"]))
        assert decoded.special == Special(vector["meaning"]) and decoded.value is None
    with pytest.raises(ValueError, match="2 bytes"):
        decode_sfloat(b"\x01")


def test_e2e_crc_check_values(ble_vectors: dict[str, Any]) -> None:
    for case in ble_vectors["e2e_crc"]["cases"]:
        assert crc16(bytes.fromhex(case["data_hex"])) == case["crc"]


def test_gls_measurements(ble_vectors: dict[str, Any]) -> None:
    for vector in ble_vectors["gls"]["measurements"]:
        m = gls.parse_measurement(bytes.fromhex(vector["hex"]))
        assert m.sequence == vector["sequence"]
        assert m.base_time == datetime.fromisoformat(vector["base_time"])
        assert m.user_facing_time == datetime.fromisoformat(vector["user_facing_time"])
        assert (m.sample_type, m.location) == (vector["type"], vector["location"])
        assert m.status == (vector["status"] or 0)
        assert m.context_follows == vector["context_follows"]
        if vector["units"] == "kg/L":
            assert m.units == "mg/dL"
            assert m.concentration == pytest.approx(vector["mg_dl"])
        else:
            assert m.units == "mmol/L"
            assert m.concentration == pytest.approx(vector["mmol_l"])
        assert m.is_control_solution == (vector["type"] == 10)


def test_gls_contexts_and_feature(ble_vectors: dict[str, Any]) -> None:
    first, second = (
        gls.parse_context(bytes.fromhex(v["hex"])) for v in ble_vectors["gls"]["contexts"]
    )
    assert (first.sequence, first.meal, first.carbohydrate_grams) == (5, 1, None)
    assert (second.meal, second.carbohydrate_id) == (2, 3)
    assert second.carbohydrate_grams == pytest.approx(45)
    assert gls.parse_feature(bytes.fromhex(ble_vectors["gls"]["features"][0]["hex"])) == 0x0423


def test_broken_gls_values_are_measurement_errors() -> None:
    with pytest.raises(gls.MeasurementError, match="malformed Glucose Measurement"):
        gls.parse_measurement(bytes.fromhex("0201"))
    with pytest.raises(gls.MeasurementError, match="unknown date"):
        gls.parse_measurement(bytes.fromhex("02010000000000000000"))


def test_racp_requests_encode_as_the_vectors(ble_vectors: dict[str, Any]) -> None:
    encoded = {
        "0101": racp.request(racp.OpCode.REPORT_RECORDS),
        "0103012b00": racp.request(
            racp.OpCode.REPORT_RECORDS,
            racp.Operator.GREATER_OR_EQUAL,
            racp.FILTER_SEQUENCE_NUMBER,
            43,
        ),
        "0104010500" + "0900": racp.request(
            racp.OpCode.REPORT_RECORDS,
            racp.Operator.WITHIN_RANGE,
            racp.FILTER_SEQUENCE_NUMBER,
            5,
            9,
        ),
        "010302e807030a0c0000": racp.request(
            racp.OpCode.REPORT_RECORDS,
            racp.Operator.GREATER_OR_EQUAL,
            racp.FILTER_USER_FACING_TIME,
            datetime(2024, 3, 10, 12, 0),
        ),
        "0401": racp.request(racp.OpCode.REPORT_NUMBER),
        "0300": racp.request(racp.OpCode.ABORT, racp.Operator.NULL),
    }
    listed = {v["hex"] for v in ble_vectors["gls"]["racp_requests"]}
    for expected, got in encoded.items():
        assert got.hex() == expected and expected in listed
    cgm_request = racp.request(
        racp.OpCode.REPORT_RECORDS, racp.Operator.GREATER_OR_EQUAL, racp.FILTER_TIME_OFFSET, 120
    )
    assert cgm_request.hex() in {v["hex"] for v in ble_vectors["cgms"]["racp_requests"]}


def test_racp_responses(ble_vectors: dict[str, Any]) -> None:
    parsed = {
        v["hex"]: racp.parse_response(bytes.fromhex(v["hex"]))
        for v in ble_vectors["gls"]["racp_responses"]
    }
    assert parsed["05002a00"].number_of_records == 42
    assert parsed["06000101"].succeeded
    assert parsed["06000106"].describe() == "no records found"
    assert (parsed["06000902"].request_op, parsed["06000902"].code) == (9, 2)
    with pytest.raises(ValueError, match="not a RACP response"):
        racp.parse_response(b"\x01\x01")


def test_current_time_and_date_time(ble_vectors: dict[str, Any]) -> None:
    for key in ("current_time", "date_time"):
        vector = ble_vectors["gls"][key]
        assert decode_date_time(bytes.fromhex(vector["hex"])) == datetime.fromisoformat(
            vector["time"]
        )


def test_cgm_features(ble_vectors: dict[str, Any]) -> None:
    with_crc, without = (
        cgms.parse_feature(bytes.fromhex(v["hex"])) for v in ble_vectors["cgms"]["features"]
    )
    assert with_crc.e2e_crc and not without.e2e_crc
    assert (with_crc.sample_type, with_crc.location) == (9, 5)
    assert with_crc.bits & cgms.FEATURE_TREND and with_crc.bits & cgms.FEATURE_QUALITY


def test_cgm_measurements(ble_vectors: dict[str, Any]) -> None:
    for vector in ble_vectors["cgms"]["measurements"]:
        (m,) = cgms.parse_measurements(bytes.fromhex(vector["hex"]), e2e=vector["e2e"])
        assert (m.glucose_mg_dl, m.time_offset_minutes, m.status) == (
            vector["mg_dl"],
            vector["time_offset"],
            vector["status"],
        )
        assert m.trend == (pytest.approx(vector["trend"]) if vector["trend"] is not None else None)
        assert m.quality == vector["quality"]
    lo = cgms.parse_measurements(
        bytes.fromhex(ble_vectors["cgms"]["measurements"][3]["hex"]), e2e=False
    )[0]
    assert lo.too_low and not lo.too_high


def test_several_records_in_one_value(ble_vectors: dict[str, Any]) -> None:
    plain = [v["hex"] for v in ble_vectors["cgms"]["measurements"] if not v["e2e"]]
    records = cgms.parse_measurements(bytes.fromhex("".join(plain)), e2e=False)
    assert [r.time_offset_minutes for r in records] == [10, 15, 20]


def test_a_corrupted_e2e_crc_is_detected(ble_vectors: dict[str, Any]) -> None:
    protected = bytearray.fromhex(ble_vectors["cgms"]["measurements"][2]["hex"])
    assert split_checked(bytes(protected))[1]
    protected[3] ^= 0x01  # one bit of the glucose value flips
    with pytest.raises(cgms.CrcMismatch, match="wrong E2E-CRC"):
        cgms.parse_measurements(bytes(protected), e2e=True)


def test_session_start_time_status_run_time_and_socp(ble_vectors: dict[str, Any]) -> None:
    v = ble_vectors["cgms"]
    for vector in v["session_start_time"]:
        start = cgms.parse_session_start_time(bytes.fromhex(vector["hex"]), e2e=vector["e2e"])
        assert start.local_start == datetime.fromisoformat(vector["time"])
        assert start.utc_offset_minutes == utc_offset_minutes(
            vector["time_zone_quarter_hours"], vector["dst_offset"]
        )
    assert (
        cgms.parse_session_start_time(
            bytes.fromhex(v["session_start_time"][2]["hex"]), False
        ).utc_offset_minutes
        == -240
    )
    for vector in v["session_run_time"]:
        assert (
            cgms.parse_session_run_time(bytes.fromhex(vector["hex"]), vector["e2e"])
            == vector["hours"]
        )
    for vector in v["status"]:
        status = cgms.parse_status(bytes.fromhex(vector["hex"]), vector["e2e"])
        assert (status.time_offset_minutes, status.status) == (
            vector["time_offset"],
            vector["status"],
        )
    socp = {(x["op"], x["e2e"]): x["hex"] for x in v["socp"]}
    assert cgms.socp_request(cgms.SOCP_START_SESSION).hex() == socp[("start session", False)]
    assert (
        cgms.socp_request(cgms.SOCP_START_SESSION, e2e=True).hex() == socp[("start session", True)]
    )
    responses = [x for x in v["socp"] if x["op"] == "response code"]
    for x in responses:
        assert cgms.parse_socp_response(bytes.fromhex(x["hex"]), x["e2e"]) == (
            x["request"],
            x["response"],
        )
