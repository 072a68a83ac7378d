"""Meter readings to smbg datums (BGM checklist, oor-values.md)."""

from __future__ import annotations

from datetime import datetime

import pytest
from pydantic import ValidationError

from uploader.datamodel import Smbg
from uploader.errors import ProtocolError
from uploader.normalize import normalize
from uploader.records import BgReading, CgmReading, DeviceData, DeviceIdentity
from uploader.timeproc import AcrossTheBoardTimezone

IDENTITY = DeviceIdentity(
    "Bayer", "Contour Next USB", "7390-1", "01.24", "ContourNextUSB-7390-1", ("bgm",)
)
TIMES = AcrossTheBoardTimezone("Europe/London")
T = datetime(2026, 1, 10, 7, 45)


def one(reading: BgReading) -> dict[str, object]:
    result = normalize(DeviceData(IDENTITY, readings=[reading]), TIMES)
    assert len(result.datums) == 1
    return result.datums[0].to_json()


def test_a_plain_reading_becomes_an_smbg_datum_in_tidepool_form() -> None:
    assert one(BgReading(T, 104, "mg/dL")) == {
        "type": "smbg",
        "time": "2026-01-10T07:45:00.000Z",
        "deviceTime": "2026-01-10T07:45:00",
        "timezoneOffset": 0,
        "clockDriftOffset": 0,
        "conversionOffset": 0,
        "deviceId": "ContourNextUSB-7390-1",
        "units": "mg/dL",
        "value": 104,
    }


def test_lo_and_hi_are_one_beyond_the_threshold_and_annotated() -> None:
    low = one(BgReading(T, 20, "mg/dL", out_of_range="low", threshold_mg_dl=20))
    assert low["value"] == 19
    assert low["annotations"] == [{"code": "bg/out-of-range", "value": "low", "threshold": 20.0}]
    high = one(BgReading(T, 600, "mg/dL", out_of_range="high", threshold_mg_dl=600))
    assert high["value"] == 601
    assert high["annotations"] == [{"code": "bg/out-of-range", "value": "high", "threshold": 600.0}]


def test_lo_in_mmol_keeps_the_threshold_in_mg_dl() -> None:
    low = one(BgReading(T, 1.1, "mmol/L", out_of_range="low", threshold_mg_dl=20))
    assert low["units"] == "mmol/L"
    assert low["value"] == pytest.approx(19 / 18.01559)
    assert low["annotations"][0]["threshold"] == 20  # type: ignore[index]


def test_unknown_threshold_is_said_not_invented() -> None:
    low = one(BgReading(T, 10, "mg/dL", out_of_range="low"))
    assert low["value"] == 10
    assert low["annotations"] == [
        {"code": "bg/out-of-range", "value": "low"},
        {"code": "smbg/unknown-value"},
    ]


def test_control_solution_tests_are_dropped_and_counted() -> None:
    readings = [BgReading(T, 120, "mg/dL", control_solution=True), BgReading(T, 99, "mg/dL")]
    result = normalize(DeviceData(IDENTITY, readings=readings), TIMES)
    assert [d.to_json()["value"] for d in result.datums] == [99]
    assert result.control_solution_skipped == 1


def test_the_model_refuses_impossible_values() -> None:
    fields = {
        "time": datetime(2026, 1, 1, tzinfo=None),
        "deviceTime": T,
        "timezoneOffset": 0,
        "deviceId": "x",
    }
    with pytest.raises(ValidationError, match="time must be UTC"):
        Smbg(units="mg/dL", value=100, **fields)  # type: ignore[arg-type]
    fields["time"] = datetime.fromisoformat("2026-01-01T00:00:00+00:00")
    with pytest.raises(ValidationError, match=r"integer 0\.\.1000"):
        Smbg(units="mg/dL", value=100.5, **fields)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"0\.\.55"):
        Smbg(units="mmol/L", value=80.0, **fields)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="units"):
        Smbg(units="mg/dl", value=80, **fields)  # type: ignore[arg-type]


def test_a_value_no_meter_can_produce_is_a_protocol_error_not_a_crash() -> None:
    with pytest.raises(ProtocolError, match="data model cannot hold"):
        normalize(DeviceData(IDENTITY, readings=[BgReading(T, 5000, "mg/dL")]), TIMES)


CGM = DeviceIdentity("Acme", "Sensor One", "S-1", "1.0", "SensorOne-S-1", ("cgm",))


def test_cgm_readings_are_placed_by_the_sensors_own_utc_offset() -> None:
    start = datetime(2026, 7, 1, 22, 30)  # US Eastern summer: UTC-4
    reading = CgmReading(start, -240, 95, 142.0, trend_mg_dl_per_min=-1.5)
    result = normalize(
        DeviceData(CGM, cgm_readings=[reading]), AcrossTheBoardTimezone("Asia/Tokyo")
    )
    assert result.time_processing == "none"  # the sensor anchored it; the user's zone is unused
    assert result.datums[0].to_json() == {
        "type": "cbg",
        "time": "2026-07-02T04:05:00.000Z",
        "deviceTime": "2026-07-02T00:05:00",
        "timezoneOffset": -240,
        "clockDriftOffset": 0,
        "conversionOffset": 0,
        "deviceId": "SensorOne-S-1",
        "units": "mg/dL",
        "value": 142,
        "trendRate": -1.5,
        "trendRateUnits": "mg/dL/minute",
        "sampleInterval": 300000,
    }


def test_cgm_without_a_known_offset_falls_back_to_the_users_timezone() -> None:
    reading = CgmReading(datetime(2026, 1, 10, 6, 0), None, 30, 39.0, out_of_range="low")
    result = normalize(DeviceData(CGM, cgm_readings=[reading]), TIMES)
    datum = result.datums[0].to_json()
    assert result.time_processing == "across-the-board-timezone"
    assert (datum["time"], datum["timezoneOffset"], datum["value"]) == (
        "2026-01-10T06:30:00.000Z",
        0,
        39,
    )
    assert datum["annotations"] == [
        {"code": "bg/out-of-range", "value": "low"},
        {"code": "cbg/unknown-value"},
    ]
