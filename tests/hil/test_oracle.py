"""The oracle must be able to fail: it is the judge of every end-to-end test."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from emulator.model import GlucoseUnit, MeterModel, MeterReading, ReadingFlag
from hil.oracle import compare_with_ledger, expected_smbg

TZ = "America/Chicago"


def meter() -> MeterModel:
    model = MeterModel(
        "7390-1", "Contour Next USB", "01.24", low_limit_mg_dl=20, high_limit_mg_dl=600
    )
    model.load_history(
        [
            MeterReading(datetime(2026, 1, 5, 7, 0), 98, frozenset({ReadingFlag.BEFORE_MEAL})),
            MeterReading(datetime(2026, 1, 5, 9, 0), 5),  # stored as LO
            MeterReading(datetime(2026, 1, 5, 10, 0), 120, frozenset({ReadingFlag.CONTROL})),
            MeterReading(datetime(2026, 7, 5, 22, 0), 700),  # HI, in summer time
        ]
    )
    return model


def correct_cloud() -> list[dict[str, Any]]:
    return [
        {"type": "smbg", "deviceTime": "2026-01-05T07:00:00", "time": "2026-01-05T13:00:00.000Z",
         "timezoneOffset": -360, "units": "mg/dL", "value": 98},
        {"type": "smbg", "deviceTime": "2026-01-05T09:00:00", "time": "2026-01-05T15:00:00.000Z",
         "timezoneOffset": -360, "units": "mg/dL", "value": 19,
         "annotations": [{"code": "bg/out-of-range", "value": "low", "threshold": 20}]},
        {"type": "smbg", "deviceTime": "2026-07-05T22:00:00", "time": "2026-07-06T03:00:00.000Z",
         "timezoneOffset": -300, "units": "mg/dL", "value": 601,
         "annotations": [{"code": "bg/out-of-range", "value": "high", "threshold": 600}]},
    ]  # fmt: skip


def test_a_correct_cloud_is_exact() -> None:
    comparison = compare_with_ledger(expected_smbg(meter(), TZ), correct_cloud())
    assert comparison.exact and comparison.matched == 3


def test_loss_duplication_invention_and_wrong_values_are_each_caught() -> None:
    expected = expected_smbg(meter(), TZ)
    cloud = correct_cloud()
    assert compare_with_ledger(expected, cloud[1:]).missing == ["2026-01-05T07:00:00"]
    assert compare_with_ledger(expected, [*cloud, cloud[0]]).duplicated == ["2026-01-05T07:00:00"]
    invented = {**cloud[0], "deviceTime": "2026-01-06T07:00:00"}
    assert compare_with_ledger(expected, [*cloud, invented]).unexpected == ["2026-01-06T07:00:00"]
    for change in (
        {"value": 99},
        {"time": "2026-01-05T14:00:00.000Z"},
        {"units": "mmol/L"},
        {"timezoneOffset": 0},
    ):
        wrong = compare_with_ledger(expected, [{**cloud[0], **change}, *cloud[1:]])
        assert len(wrong.wrong) == 1 and not wrong.exact, change
    no_threshold = {
        **cloud[1],
        "annotations": [{"code": "bg/out-of-range", "value": "low", "threshold": 10}],
    }
    assert not compare_with_ledger(expected, [cloud[0], no_threshold, cloud[2]]).exact


def test_mmol_meters_are_expected_in_their_display_unit() -> None:
    model = meter()
    model.unit = GlucoseUnit.MMOL_L
    first = expected_smbg(model, TZ)[0]
    assert (first.units, first.value) == ("mmol/L", 5.4)


def test_mixed_devices_extra_annotations_and_offsets_are_caught() -> None:
    expected = expected_smbg(meter(), TZ)
    cloud = correct_cloud()
    other_device = [
        {**cloud[0], "deviceId": "Other-1"},
        *[{**c, "deviceId": "Mine-1"} for c in cloud[1:]],
    ]
    assert not compare_with_ledger(expected, other_device).exact
    extra = {**cloud[0], "annotations": [{"code": "smbg/unknown-value"}]}
    assert not compare_with_ledger(expected, [extra, *cloud[1:]]).exact
    drifted = {**cloud[0], "clockDriftOffset": 60000}
    assert not compare_with_ledger(expected, [drifted, *cloud[1:]]).exact
