"""Datum identities: which fields make two datums the same datum (``dedup``)."""

from __future__ import annotations

import pytest

from mock_cloud.dedup import BOOKKEEPING_FIELDS, identity_fields, identity_hash


def test_identity_of_smbg_uses_only_its_identity_fields() -> None:
    datum = {
        "type": "smbg",
        "units": "mg/dL",
        "value": 120.0,
        "time": "2024-05-01T10:00:00.1234+02:00",
        "deviceId": "M-1",
        "deviceTime": "2024-05-01T10:00:00",
        "timezoneOffset": 120,
        "notes": ["x"],
    }
    assert identity_fields(datum) == {
        "type": "smbg",
        "deviceId": "M-1",
        "time": "2024-05-01T08:00:00.123Z",
        "units": "mg/dL",
        "value": 120,
        "subType": None,
    }
    assert identity_hash(datum) == identity_hash({**datum, "value": 120, "notes": ["y"]})


@pytest.mark.parametrize(
    ("datum", "same", "different"),
    [
        (
            {"type": "bolus", "subType": "normal", "normal": 2.0},
            {"normal": 5.0, "expectedNormal": 6.0},
            {"subType": "automated"},
        ),
        (
            {"type": "basal", "deliveryType": "temp", "rate": 0.5, "duration": 60000},
            {"duration": 1800000, "percent": 0.5},
            {"deliveryType": "scheduled"},
        ),
        (
            {"type": "deviceEvent", "subType": "alarm", "alarmType": "occlusion"},
            {"payload": {"code": 7}},
            {"alarmType": "no_insulin"},
        ),
        (
            {"type": "deviceEvent", "subType": "prime", "primeTarget": "cannula", "volume": 0.3},
            {"volume": 0.5},
            {"primeTarget": "tubing"},
        ),
        ({"type": "cbg", "units": "mg/dL", "value": 100}, {"trend": "constant"}, {"value": 101}),
        ({"type": "pumpSettings", "units": {"bg": "mg/dL"}}, {"activeSchedule": "x"}, {}),
    ],
)
def test_identity_table(
    datum: dict[str, object], same: dict[str, object], different: dict[str, object]
) -> None:
    base = {**datum, "time": "2024-05-01T08:00:00Z", "deviceId": "P-1"}
    assert identity_hash(base) == identity_hash({**base, **same})
    if different:
        assert identity_hash(base) != identity_hash({**base, **different})
    assert identity_hash(base) != identity_hash({**base, "deviceId": "P-2"})
    assert identity_hash(base) != identity_hash({**base, "time": "2024-05-01T08:00:00.001Z"})


def test_identity_of_unlisted_types_uses_all_but_bookkeeping_fields() -> None:
    datum = {
        "type": "food",
        "nutrition": {"carbohydrate": {"net": 30, "units": "grams"}},
        "time": "2024-05-01T08:00:00Z",
        "deviceId": "P-1",
        **{name: "ignored" for name in BOOKKEEPING_FIELDS},
    }
    fields = identity_fields(datum)
    assert set(fields) == {"type", "nutrition", "time", "deviceId"}
    assert fields["time"] == "2024-05-01T08:00:00.000Z"
    assert identity_hash(datum) != identity_hash({**datum, "nutrition": {}})
    assert identity_hash(datum) == identity_hash({**datum, "payload": {"other": True}})
