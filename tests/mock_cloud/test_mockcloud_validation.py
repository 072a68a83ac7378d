"""Datum validation: every rule of the smbg model and the common fields, with pointers.

These call the validator directly (no HTTP); test_mockcloud_upload checks that the same
problems come back from the API and that nothing is stored.
"""

from __future__ import annotations

from typing import Any

import pytest
from mockcloud_helpers import smbg

from mock_cloud.datatypes import DATUM_MODELS, SPEC_DATA_TYPES
from mock_cloud.validation import validate_chunk


@pytest.mark.parametrize(
    ("change", "pointer", "code"),
    [
        ({"value": 1001}, "/0/value", "value-out-of-range"),
        ({"value": -1}, "/0/value", "value-out-of-range"),
        ({"value": 120.5}, "/0/value", "value-not-valid"),
        ({"value": "120"}, "/0/value", "type-not-number"),
        ({"value": True}, "/0/value", "type-not-number"),
        ({"units": "mmol/L", "value": 55.5}, "/0/value", "value-out-of-range"),
        ({"units": "mg"}, "/0/units", "value-not-allowed"),
        ({"subType": "guessed"}, "/0/subType", "value-not-allowed"),
        ({"subType": None}, "/0/subType", "value-null"),
        ({"time": "2024-05-01T08:00:00"}, "/0/time", "value-not-valid"),
        ({"time": "2024-02-30T08:00:00Z"}, "/0/time", "value-not-valid"),
        ({"deviceTime": "2024-05-01T10:00:00Z"}, "/0/deviceTime", "value-not-valid"),
        ({"timezoneOffset": 10081}, "/0/timezoneOffset", "value-out-of-range"),
        ({"timezoneOffset": 60.0}, "/0/timezoneOffset", "type-not-integer"),
        ({"clockDriftOffset": 86_400_001}, "/0/clockDriftOffset", "value-out-of-range"),
        ({"conversionOffset": "0"}, "/0/conversionOffset", "type-not-integer"),
        ({"deviceId": ""}, "/0/deviceId", "length-out-of-range"),
        ({"vlaue": 120}, "/0/vlaue", "field-unknown"),
        ({"uploadId": "0" * 32}, "/0/uploadId", "field-server-owned"),
        ({"annotations": [{"code": "Not A Code"}]}, "/0/annotations/0/code", "value-not-valid"),
        ({"annotations": [{"value": "low"}]}, "/0/annotations/0/code", "value-not-exists"),
        (
            {"annotations": [{"code": "bg/out-of-range", "threshold": 40}]},
            "/0/annotations/0/value",
            "value-not-exists",
        ),
        (
            {"annotations": [{"code": "bg/out-of-range", "value": "low"}]},
            "/0/annotations",
            "value-not-exists",
        ),
        ({"annotations": [{"code": "x"}] * 2}, "/0/annotations", "value-duplicate"),
        (
            {"annotations": [{"code": f"c{i}"} for i in range(101)]},
            "/0/annotations",
            "length-out-of-range",
        ),
        ({"origin": {"id": "1", "name": "n"}}, "/0/origin/type", "value-not-exists"),
        ({"payload": {"blob": "x" * 5000}}, "/0/payload", "length-out-of-range"),
        ({"notes": []}, "/0/notes", "length-out-of-range"),
        ({"tags": [""]}, "/0/tags/0", "length-out-of-range"),
    ],
)
def test_each_problem_is_pointed_at_the_field(
    change: dict[str, Any], pointer: str, code: str
) -> None:
    invalid, problems = validate_chunk([smbg(), smbg(**change)])

    assert invalid == 1
    found = {p["source"]["pointer"]: p for p in problems}
    assert pointer.replace("/0/", "/1/", 1) in found, problems
    problem = found[pointer.replace("/0/", "/1/", 1)]
    assert problem["code"] == code
    assert problem["title"]
    assert problem["detail"]


def test_valid_variants_have_no_problems() -> None:
    chunk = [
        smbg(),
        smbg(units="mmol/L", value=5.5),
        smbg(units="mg/dl", value=0),
        smbg(units="mmol/l", value=55),
        smbg(value=120.0),
        smbg(time="2024-05-01T08:00:00.123456789-07:30"),
        smbg(time="2024-05-01t08:00:00z"),
        smbg(annotations=[{"code": "bg/out-of-range", "value": "high", "threshold": 600}]),
        smbg(  # oor-values.md: no known threshold, said with an unknown-value annotation
            annotations=[
                {"code": "bg/out-of-range", "value": "low"},
                {"code": "smbg/unknown-value"},
            ]
        ),
        smbg(annotations=[{"code": "medtronic600/smbg/bg-si-pass-result-recd-frm-gst"}]),
        smbg(origin={"id": "1", "name": "n", "type": "device", "time": "2024-05-01T08:00:00Z"}),
    ]
    assert validate_chunk(chunk) == (0, [])


def test_registry_holds_spec_types_only() -> None:
    assert set(DATUM_MODELS) <= SPEC_DATA_TYPES
    assert "smbg" in DATUM_MODELS
