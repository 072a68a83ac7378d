"""The BLE protocol engines reproduce the shared vectors byte for byte (tests/vectors/ble)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from emulator.model.meter import GlucoseUnit, MeterReading, ReadingFlag
from emulator.protocols import cgms, gls, racp
from emulator.protocols.ble_time import current_time, date_time
from emulator.protocols.e2e_crc import CrcError, crc16, strip_crc, with_crc
from emulator.protocols.ieee11073 import (
    NAN,
    NEGATIVE_INFINITY,
    NRES,
    POSITIVE_INFINITY,
    RESERVED,
    sfloat,
    sfloat_of,
    special,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "ble"


def load_vector(name: str) -> Any:
    return json.loads((VECTORS / name.removeprefix("ble/")).read_text(encoding="utf-8"))


SFLOAT = load_vector("ble/sfloat.json")
CRC = load_vector("ble/e2e_crc.json")
GLS = load_vector("ble/gls.json")
CGMS = load_vector("ble/cgms.json")


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize("case", SFLOAT["values"], ids=lambda c: c["hex"])
def test_sfloat_values(case: dict[str, Any]) -> None:
    assert sfloat(case["mantissa"], case["exponent"]).hex() == case["hex"]
    assert sfloat_of(case["value"], case["exponent"]).hex() == case["hex"]


def test_sfloat_special_values_and_range() -> None:
    codes = {"NaN": NAN, "NRes": NRES, "+INFINITY": POSITIVE_INFINITY}
    codes |= {"-INFINITY": NEGATIVE_INFINITY, "reserved": RESERVED}
    for case in SFLOAT["special"]:
        assert special(codes[case["meaning"]]).hex() == case["hex"]
    assert sfloat_of(99999, 0) == special(POSITIVE_INFINITY)
    assert sfloat_of(-99999, 0) == special(NEGATIVE_INFINITY)
    with pytest.raises(ValueError, match="mantissa"):
        sfloat(2046, 0)
    with pytest.raises(ValueError, match="exponent"):
        sfloat(1, 8)


@pytest.mark.parametrize("case", CRC["cases"], ids=lambda c: c["data_hex"] or "empty")
def test_e2e_crc(case: dict[str, Any]) -> None:
    data = bytes.fromhex(case["data_hex"])
    assert crc16(data) == case["crc"]
    assert strip_crc(with_crc(data), min_payload=0) == data


def test_a_missing_or_wrong_crc_is_refused() -> None:
    with pytest.raises(CrcError) as missing:
        strip_crc(b"\x1a")
    assert missing.value.missing
    with pytest.raises(CrcError) as wrong:
        strip_crc(with_crc(b"\x1a", corrupt=True))
    assert not wrong.value.missing


@pytest.mark.parametrize("case", GLS["measurements"], ids=lambda c: str(c["sequence"]))
def test_gls_measurement_encoder(case: dict[str, Any]) -> None:
    mol = case["units"] == "mol/L"
    concentration = (round(case["mmol_l"] * 10), -4) if mol else (case["mg_dl"], -5)
    value = gls.encode_measurement(
        case["sequence"],
        _time(case["base_time"]),
        concentration=concentration,
        mol_per_l=mol,
        sample_type=case["type"],
        location=case["location"],
        time_offset=case["time_offset"],
        status=case["status"],
        context_follows=case["context_follows"],
    )
    assert value.hex() == case["hex"]


def test_the_meter_sends_its_readings_as_the_vectors_say() -> None:
    by_sequence = {case["sequence"]: case for case in GLS["measurements"]}

    def sent(sequence: int, reading: MeterReading, unit: GlucoseUnit = GlucoseUnit.MG_DL) -> str:
        return gls.measurement_of(sequence, reading, unit).hex()

    assert sent(1, MeterReading(datetime(2024, 3, 10, 7, 15), 98)) == by_sequence[1]["hex"]
    six_point_seven = MeterReading(datetime(2024, 3, 11, 8, 0), 121)  # 121 / 18 = 6.7
    assert sent(3, six_point_seven, GlucoseUnit.MMOL_L) == by_sequence[3]["hex"]
    control = MeterReading(datetime(2024, 3, 11, 10, 5), 115, frozenset({ReadingFlag.CONTROL}))
    assert sent(4, control) == by_sequence[4]["hex"]
    before = MeterReading(datetime(2024, 3, 11, 12, 10), 134, frozenset({ReadingFlag.BEFORE_MEAL}))
    assert sent(5, before) == by_sequence[5]["hex"]
    context = gls.context_of(5, before)
    assert context is not None and context.hex() == GLS["contexts"][0]["hex"]
    assert gls.context_of(1, MeterReading(datetime(2024, 3, 10), 98)) is None


def test_lo_and_hi_are_the_range_bound_with_a_status_bit() -> None:
    low = MeterReading(datetime(2024, 3, 10, 11, 30), 20, frozenset({ReadingFlag.LOW}))
    high = MeterReading(datetime(2024, 3, 10, 11, 30), 600, frozenset({ReadingFlag.HIGH}))
    low_value = gls.measurement_of(2, low, GlucoseUnit.MG_DL)
    high_value = gls.measurement_of(2, high, GlucoseUnit.MG_DL)
    assert low_value[0] & gls.MeasurementFlag.STATUS and low_value[-2:] == b"\x40\x00"
    assert high_value[-2:] == b"\x20\x00"
    assert low_value[10:12] == sfloat(20, -5) and high_value[10:12] == sfloat(600, -5)


def test_gls_context_with_carbohydrate() -> None:
    case = GLS["contexts"][1]
    value = gls.encode_context(
        case["sequence"], carbohydrate=(case["carbohydrate_id"], (45, -3)), meal=case["meal"]
    )
    assert value.hex() == case["hex"]


def test_gls_feature_and_times() -> None:
    assert gls.encode_feature().hex() == GLS["features"][0]["hex"]
    when = _time(GLS["current_time"]["time"])
    assert current_time(when).hex() == GLS["current_time"]["hex"]
    assert date_time(when).hex() == GLS["date_time"]["hex"]


@pytest.mark.parametrize("case", GLS["racp_requests"], ids=lambda c: c["hex"])
def test_every_gls_racp_request_is_accepted(case: dict[str, Any]) -> None:
    request = racp.parse_request(bytes.fromhex(case["hex"]), gls.FILTERS)
    assert request.op == bytes.fromhex(case["hex"])[0]
    operand = case.get("operand")
    if operand is None:
        return
    keys = [_time(o) if isinstance(o, str) else o for o in operand]
    bounds = [k for k in (request.low, request.high) if k is not None]
    assert bounds == keys


def test_gls_racp_responses() -> None:
    meanings = {case["meaning"]: case["hex"] for case in GLS["racp_responses"]}
    assert racp.number_response(42).hex() == meanings["number of stored records: 42"]
    report = racp.Op.REPORT_RECORDS
    for code, meaning in (
        (racp.ResponseCode.SUCCESS, "success"),
        (racp.ResponseCode.NO_RECORDS_FOUND, "no records found"),
        (racp.ResponseCode.INVALID_OPERATOR, "invalid operator"),
        (racp.ResponseCode.OPERATOR_NOT_SUPPORTED, "operator not supported"),
        (racp.ResponseCode.INVALID_OPERAND, "invalid operand"),
        (racp.ResponseCode.OPERAND_NOT_SUPPORTED, "operand not supported"),
    ):
        expected = meanings[f"response to report stored records: {meaning}"]
        assert racp.response_code(report, code).hex() == expected
    assert racp.response_code(racp.Op.ABORT, racp.ResponseCode.SUCCESS).hex() == "06000301"
    with pytest.raises(racp.Rejected) as rejected:
        racp.parse_request(bytes([9, 1]), gls.FILTERS)
    assert (
        rejected.value.response().hex() == meanings["response to op code 9: op code not supported"]
    )


@pytest.mark.parametrize("case", CGMS["features"], ids=lambda c: c["hex"])
def test_cgms_feature(case: dict[str, Any]) -> None:
    bits = sum(1 << b for b in case["bits"]) & ~cgms.Feature.E2E_CRC
    value = cgms.encode_feature(
        bits, e2e=case["e2e_crc"], sample_type=case["type"], location=case["location"]
    )
    assert value.hex() == case["hex"]


@pytest.mark.parametrize("case", CGMS["measurements"], ids=lambda c: c["hex"])
def test_cgms_measurement(case: dict[str, Any]) -> None:
    value = cgms.encode_measurement(
        case["mg_dl"],
        case["time_offset"],
        status=case["status"],
        trend=case["trend"],
        quality=case["quality"],
        e2e=case["e2e"],
    )
    assert value.hex() == case["hex"]
    if case["e2e"]:
        corrupted = cgms.encode_measurement(
            case["mg_dl"],
            case["time_offset"],
            status=case["status"],
            trend=case["trend"],
            quality=case["quality"],
            e2e=True,
            corrupt_crc=True,
        )
        assert corrupted[:-2] == value[:-2] and corrupted[-2:] != value[-2:]


@pytest.mark.parametrize("case", CGMS["session_start_time"], ids=lambda c: c["hex"])
def test_cgms_session_start_time(case: dict[str, Any]) -> None:
    zone = case["time_zone_quarter_hours"] * 15
    dst = {0: 0, 2: 30, 4: 60, 8: 120}[case["dst_offset"]]
    value = cgms.encode_session_start_time(_time(case["time"]), zone, dst, e2e=case["e2e"])
    assert value.hex() == case["hex"]
    assert cgms.parse_session_start_time(value, e2e=case["e2e"]) == (_time(case["time"]), zone, dst)


def test_cgms_run_time_status_and_socp() -> None:
    for case in CGMS["session_run_time"]:
        assert cgms.encode_run_time(case["hours"], e2e=case["e2e"]).hex() == case["hex"]
    for case in CGMS["status"]:
        value = cgms.encode_status(case["time_offset"], case["status"], e2e=case["e2e"])
        assert value.hex() == case["hex"]
    for case in CGMS["socp"]:
        value = bytes.fromhex(case["hex"])
        if case["op"] == "response code":
            code = cgms.SocpResponse(case["response"])
            assert cgms.socp_response(case["request"], code, e2e=case["e2e"]) == value
        else:
            request = cgms.parse_socp(value, e2e=case["e2e"])
            expected = {"start session": 26, "stop session": 27}[case["op"]]
            assert (request.op, request.operand) == (expected, b"")


@pytest.mark.parametrize("case", CGMS["racp_requests"], ids=lambda c: c["hex"])
def test_every_cgms_racp_request_is_accepted(case: dict[str, Any]) -> None:
    request = racp.parse_request(bytes.fromhex(case["hex"]), cgms.FILTERS)
    bounds = [k for k in (request.low, request.high) if k is not None]
    assert bounds == case.get("operand", [])
