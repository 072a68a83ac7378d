"""Validation of the pump and CGM datum types, against the spec's examples and rules.

Valid examples (mostly the spec's own, from docs/device-data/data-types) pass; each broken
variant is refused with the expected code at the expected field (validator, no HTTP).
"""

from __future__ import annotations

from typing import Any

import pytest
from mockcloud_helpers import Account, Helpers, basal, bolus, cbg

from mock_cloud.validation import validate_chunk

BASE = {"time": "2018-05-14T08:17:06.676Z", "deviceId": "DevId0987654321", "timezoneOffset": 600}


def _datum(**fields: Any) -> dict[str, Any]:
    return {**BASE, **fields}


SCHEDULED = {"type": "basal", "deliveryType": "scheduled", "scheduleName": "Weekend", "rate": 0.25}

VALID: list[dict[str, Any]] = [
    cbg(),
    cbg(
        units="mmol/L", value=5.5, trend="slowRise", trendRate=0.05, trendRateUnits="mmol/L/minute"
    ),
    cbg(trendRate=-2.5, trendRateUnits="mg/dL/minute", sampleInterval=300000, backfilled=True),
    _datum(type="bolus", subType="normal", normal=7.75, expectedNormal=9.3),
    _datum(type="bolus", subType="normal", normal=0, expectedNormal=2),
    _datum(type="bolus", subType="automated", normal=0.35, deliveryContext="algorithm"),
    _datum(
        type="bolus",
        subType="square",
        extended=9.75,
        expectedExtended=14.625,
        duration=3600000,
        expectedDuration=5400000,
    ),
    _datum(type="bolus", subType="square", extended=1.5, duration=1800000),
    _datum(
        type="bolus",
        subType="dual/square",
        normal=6.25,
        extended=5.75,
        expectedExtended=8.625,
        duration=23400000,
        expectedDuration=35100000,
    ),
    _datum(  # interrupted during the normal part
        type="bolus",
        subType="dual/square",
        normal=1.0,
        expectedNormal=3.0,
        extended=0,
        expectedExtended=2.0,
        duration=0,
        expectedDuration=3600000,
    ),
    _datum(type="basal", deliveryType="scheduled", rate=0.25, duration=3600000, scheduleName="A"),
    _datum(
        type="basal",
        deliveryType="temp",
        duration=28800000,
        expectedDuration=34560000,
        percent=0.75,
        rate=0.1875,
        suppressed=SCHEDULED,
    ),
    _datum(type="basal", deliveryType="suspend", duration=600000, suppressed=SCHEDULED),
    _datum(
        type="basal",
        deliveryType="suspend",
        duration=600000,
        suppressed={
            "type": "basal",
            "deliveryType": "temp",
            "rate": 0.1,
            "percent": 0.4,
            "suppressed": SCHEDULED,
        },
    ),
    _datum(type="basal", deliveryType="automated", rate=1.2, duration=300000, suppressed=SCHEDULED),
    _datum(type="deviceEvent", subType="reservoirChange"),
    _datum(type="deviceEvent", subType="prime", primeTarget="cannula", volume=0.3),
    _datum(type="deviceEvent", subType="prime", primeTarget="tubing", volume=12),
    _datum(
        type="deviceEvent",
        subType="status",
        status="suspended",
        reason={"suspended": "automatic", "resumed": "automatic"},
        duration=3600000,
        payload={"suspended": {"cause": "low_glucose", "threshold": 80}},
    ),
    _datum(type="deviceEvent", subType="status", status="resumed", reason={"resumed": "manual"}),
    _datum(type="deviceEvent", subType="alarm", alarmType="occlusion"),
    _datum(
        type="deviceEvent",
        subType="timeChange",
        change={"from": "2018-05-14T08:17:08", "to": "2018-05-14T07:20:33", "agent": "manual"},
    ),
    _datum(
        type="deviceEvent",
        subType="timeChange",
        change={
            "from": "2018-05-14T08:17:08",
            "to": "2018-05-14T09:17:08",
            "agent": "automatic",
            "reasons": ["to_daylight_savings"],
            "timezone": "Australia/Sydney",
        },
    ),
    _datum(
        type="deviceEvent",
        subType="timeChange",
        method="manual",
        **{"from": {"time": "2018-05-14T08:17:08"}},
        to={"time": "2018-05-14T07:20:33", "timeZoneName": "Australia/Sydney"},
    ),
    _datum(type="deviceEvent", subType="calibration", units="mg/dL", value=105),
    _datum(
        type="pumpSettings",
        activeSchedule="Standard",
        basalSchedules={
            "Standard": [{"start": 0, "rate": 0.25}, {"start": 3600000, "rate": 0.2}],
            "Weekend": [{"start": 0, "rate": 0.3}],
        },
        carbRatios={"Standard": [{"start": 0, "amount": 12}, {"start": 43200000, "amount": 15}]},
        insulinSensitivities={"Standard": [{"start": 0, "amount": 50}]},
        bgTargets={
            "Standard": [
                {"start": 0, "low": 100, "high": 120},
                {"start": 25200000, "low": 90, "high": 110},
            ]
        },
        units={"bg": "mg/dL", "carb": "grams"},
        manufacturers=["Acme"],
        model="Pump A Lot",
        serialNumber="PMP1",
        firmwareVersion="1.2",
    ),
    _datum(
        type="pumpSettings",
        insulinSensitivities={"Standard": [{"start": 0, "amount": 2.8}]},
        bgTargets={"Standard": [{"start": 0, "target": 5.5, "range": 0.5}]},
        units={"bg": "mmol/L", "carb": "exchanges"},
    ),
    _datum(
        type="wizard",
        bgInput=392,
        bgTarget={"target": 95, "range": 15},
        bolus="0ccaad06f9104c098595cf6e871edc09",
        carbInput=137,
        insulinCarbRatio=13,
        insulinOnBoard=24.254,
        insulinSensitivity=52,
        recommended={"carb": 10.5, "correction": 5.5, "net": 0},
        units="mg/dL",
    ),
    _datum(type="wizard", carbInput=30, insulinCarbRatio=10, recommended={"carb": 3}),
]


def test_valid_examples_have_no_problems() -> None:
    invalid, problems = validate_chunk(VALID)
    assert (invalid, problems) == (0, [])


INVALID: list[tuple[dict[str, Any], str, str]] = [
    (cbg(value=1001), "/0/value", "value-out-of-range"),
    (cbg(trend="sideways"), "/0/trend", "value-not-allowed"),
    (cbg(trendRate=101, trendRateUnits="mg/dL/minute"), "/0/trendRate", "value-out-of-range"),
    (cbg(trendRate=1), "/0/trendRateUnits", "value-not-exists"),
    (cbg(trendRate=1, trendRateUnits="mmol/L/minute"), "/0/trendRateUnits", "value-not-allowed"),
    (cbg(sampleInterval=-1), "/0/sampleInterval", "value-out-of-range"),
    (cbg(backfilled="yes"), "/0/backfilled", "type-not-boolean"),
    (cbg(subType="x"), "/0/subType", "field-unknown"),
    (bolus(subType="quick"), "/0/subType", "value-not-allowed"),
    ({**bolus(), "subType": None}, "/0/subType", "type-not-string"),
    ({k: v for k, v in bolus().items() if k != "subType"}, "/0/subType", "value-not-exists"),
    (bolus(normal=101), "/0/normal", "value-out-of-range"),
    (bolus(normal=0), "/0/normal", "value-out-of-range"),
    (bolus(normal=3, expectedNormal=2), "/0/expectedNormal", "value-out-of-range"),
    (bolus(extended=1), "/0/extended", "field-unknown"),
    (
        bolus(subType="square", normal=None, extended=1, duration=86_400_001),
        "/0/duration",
        "value-out-of-range",
    ),
    (
        {**bolus(subType="square", extended=1, duration=60000, expectedExtended=2)},
        "/0/normal",
        "field-unknown",
    ),
    (
        {k: v for k, v in bolus(subType="square", extended=1, duration=10).items() if k != "normal"}
        | {"expectedExtended": 2},
        "/0/expectedDuration",
        "value-not-exists",
    ),
    (
        {k: v for k, v in bolus(subType="square", extended=1, duration=10).items() if k != "normal"}
        | {"expectedDuration": 5, "expectedExtended": 2},
        "/0/expectedDuration",
        "value-out-of-range",
    ),
    (
        bolus(subType="dual/square", normal=1, expectedNormal=2, extended=1, duration=60000),
        "/0/extended",
        "value-not-valid",
    ),
    (
        bolus(subType="dual/square", normal=0, extended=0, duration=0),
        "/0/normal",
        "value-out-of-range",
    ),
    (bolus(deliveryContext="phone"), "/0/deliveryContext", "value-not-allowed"),
    (basal(deliveryType="bolus"), "/0/deliveryType", "value-not-allowed"),
    (basal(rate=-0.1), "/0/rate", "value-out-of-range"),
    (basal(duration=604_800_001), "/0/duration", "value-out-of-range"),
    (basal(expectedDuration=10), "/0/expectedDuration", "value-out-of-range"),
    ({k: v for k, v in basal().items() if k != "rate"}, "/0/rate", "value-not-exists"),
    (basal(percent=0.5), "/0/percent", "field-unknown"),
    (basal(deliveryType="suspend"), "/0/rate", "field-unknown"),
    (basal(deliveryType="temp", percent=11), "/0/percent", "value-out-of-range"),
    (
        basal(deliveryType="temp", suppressed={**SCHEDULED, "deliveryType": "temp"}),
        "/0/suppressed/deliveryType",
        "value-not-allowed",
    ),
    (
        basal(deliveryType="temp", suppressed={**SCHEDULED, "percent": 0.5}),
        "/0/suppressed/percent",
        "field-unknown",
    ),
    (
        basal(deliveryType="temp", suppressed={**SCHEDULED, "colour": "red"}),
        "/0/suppressed/colour",
        "field-unknown",
    ),
    (_datum(type="deviceEvent", subType="prime"), "/0/primeTarget", "value-not-exists"),
    (
        _datum(type="deviceEvent", subType="prime", primeTarget="cannula", volume=11),
        "/0/volume",
        "value-out-of-range",
    ),
    (
        _datum(type="deviceEvent", subType="status", status="paused"),
        "/0/status",
        "value-not-allowed",
    ),
    (
        _datum(type="deviceEvent", subType="status", status="suspended", reason={"why": "x"}),
        "/0/reason/why",
        "field-unknown",
    ),
    (
        _datum(
            type="deviceEvent",
            subType="status",
            status="suspended",
            duration=10,
            expectedDuration=5,
        ),
        "/0/expectedDuration",
        "value-out-of-range",
    ),
    (_datum(type="deviceEvent", subType="alarm"), "/0/alarmType", "value-not-exists"),
    (
        _datum(type="deviceEvent", subType="alarm", alarmType="fire"),
        "/0/alarmType",
        "value-not-allowed",
    ),
    (_datum(type="deviceEvent", subType="timeChange"), "/0/method", "value-not-exists"),
    (
        _datum(type="deviceEvent", subType="timeChange", change={"agent": "manual", "to": "x"}),
        "/0/change/from",
        "value-not-exists",
    ),
    (
        _datum(
            type="deviceEvent",
            subType="timeChange",
            method="manual",
            to={"time": "2018-05-14T07:20:33"},
            change={"agent": "manual", "from": "2018-05-14T08:17:08", "to": "2018-05-14T07:20:33"},
        ),
        "/0/change",
        "value-not-valid",
    ),
    (
        _datum(type="deviceEvent", subType="calibration", units="mg/dL"),
        "/0/value",
        "value-not-exists",
    ),
    (_datum(type="deviceEvent", subType="sensorEvent"), "/0/subType", "type-not-supported"),
    (_datum(type="deviceEvent", subType="nap"), "/0/subType", "value-not-allowed"),
    (_datum(type="pumpSettings"), "/0/units", "value-not-exists"),
    (
        _datum(
            type="pumpSettings",
            units={"bg": "mg/dL", "carb": "grams"},
            activeSchedule="Missing",
            basalSchedules={"Standard": [{"start": 0, "rate": 1}]},
        ),
        "/0/activeSchedule",
        "value-not-valid",
    ),
    (
        _datum(
            type="pumpSettings",
            units={"bg": "mg/dL", "carb": "grams"},
            basalSchedules={"Standard": [{"start": 0, "rate": 1}, {"start": 0, "rate": 2}]},
        ),
        "/0/basalSchedules/Standard/1/start",
        "value-not-valid",
    ),
    (
        _datum(
            type="pumpSettings",
            units={"bg": "mg/dL", "carb": "grams"},
            basalSchedules={"Standard": [{"start": 0, "rate": 21}]},
        ),
        "/0/basalSchedules/Standard/0/rate",
        "value-out-of-range",
    ),
    (
        _datum(
            type="pumpSettings",
            units={"bg": "mg/dL", "carb": "grams"},
            insulinSensitivities={"Standard": [{"start": 0, "amount": 50.5}]},
        ),
        "/0/insulinSensitivities/Standard/0/amount",
        "value-out-of-range",
    ),
    (
        _datum(
            type="pumpSettings",
            units={"bg": "mg/dL", "carb": "grams"},
            bgTargets={"Standard": [{"start": 0, "low": 120, "high": 100}]},
        ),
        "/0/bgTargets/Standard/0/high",
        "value-out-of-range",
    ),
    (
        _datum(type="pumpSettings", units={"bg": "mg/dL", "carb": "grams"}, basalSchedule={}),
        "/0/basalSchedule",
        "field-unknown",
    ),
    (_datum(type="wizard", bgInput=100), "/0/units", "value-not-exists"),
    (_datum(type="wizard", bgInput=1001, units="mg/dL"), "/0/bgInput", "value-out-of-range"),
    (_datum(type="wizard", carbInput=1.5), "/0/carbInput", "type-not-integer"),
    (_datum(type="wizard", recommended={"carb": -1}), "/0/recommended/carb", "value-out-of-range"),
    (_datum(type="wizard", bolus={"type": "bolus"}), "/0/bolus", "type-not-string"),
]


@pytest.mark.parametrize(("datum", "pointer", "code"), INVALID)
def test_each_problem_is_pointed_at_the_field(
    datum: dict[str, Any], pointer: str, code: str
) -> None:
    datum = {k: v for k, v in datum.items() if v is not None or k == "subType"}
    invalid, problems = validate_chunk([datum])

    assert invalid == 1
    found = {p["source"]["pointer"]: p for p in problems}
    assert pointer in found, problems
    assert found[pointer]["code"] == code, problems
    assert found[pointer]["detail"]


def test_pump_data_round_trips_through_the_api(h: Helpers, alice: Account) -> None:
    sent = [dict(d) for d in VALID]
    for index, datum in enumerate(sent):  # distinct times: distinct identities
        datum["time"] = f"2018-05-14T08:{index:02d}:00.000Z"
    h.store(alice, sent, deviceTags=["insulin-pump", "cgm"])

    stored = h.read_data(alice)

    assert len(stored) == len(sent)
    strip = ("id", "uploadId", "createdTime")
    assert sorted(
        ({k: v for k, v in d.items() if k not in strip} for d in stored), key=lambda d: d["time"]
    ) == sorted(sent, key=lambda d: d["time"])
