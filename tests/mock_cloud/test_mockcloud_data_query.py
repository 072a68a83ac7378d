"""GET /data/{userId}: each filter returns exactly the right datums, sorted by time (on
SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
from mockcloud_helpers import Account, Api, Helpers

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def history(h: Helpers, alice: Account) -> dict[str, str]:
    """Two data sets (two meters) with readings over a day; returns the set ids."""
    meter = h.open_data_set(alice, time="2024-05-01T20:00:00Z")
    other = h.open_data_set(alice, deviceId="OtherMeter-1", time="2024-05-02T20:00:00Z")
    h.upload(
        alice,
        meter,
        [
            h.smbg(value=101, time="2024-05-01T06:00:00Z"),
            h.smbg(value=102, time="2024-05-01T12:00:00+02:00", subType="manual"),  # 10:00Z
            h.smbg(value=103, time="2024-05-01T14:00:00Z", subType="linked"),
            h.smbg(value=104, time="2024-05-01T18:00:00Z", subType="scanned"),
        ],
    )
    h.upload(
        alice,
        other,
        [
            h.smbg(value=201, time="2024-05-01T08:00:00Z", deviceId="OtherMeter-1"),
            h.smbg(value=202, time="2024-05-02T08:00:00Z", deviceId="OtherMeter-1"),
        ],
    )
    h.close(alice, meter)
    h.close(alice, other)
    return {"meter": meter, "other": other}


def _values(documents: list[dict[str, Any]]) -> list[Any]:
    return [d["value"] if d["type"] == "smbg" else d["id"] for d in documents]


def test_everything_sorted_by_time_with_upload_records(
    h: Helpers, alice: Account, history: dict[str, str]
) -> None:
    assert _values(h.read(alice)) == [
        101,
        201,
        102,
        103,
        104,
        history["meter"],
        202,
        history["other"],
    ]


def test_type_filter(h: Helpers, alice: Account, history: dict[str, str]) -> None:
    assert _values(h.read(alice, type="smbg")) == [101, 201, 102, 103, 104, 202]
    assert _values(h.read(alice, type="upload")) == [history["meter"], history["other"]]
    assert _values(h.read(alice, type="cbg")) == []
    assert len(h.read(alice, type="cbg,smbg")) == 6
    uploads = h.read(alice, type="upload")
    assert all(u["type"] == "upload" and u["uploadId"] == u["id"] for u in uploads)


def test_sub_type_filter(h: Helpers, alice: Account, history: dict[str, str]) -> None:
    assert _values(h.read(alice, subType="manual")) == [102]
    assert _values(h.read(alice, subType="manual,scanned")) == [102, 104]
    assert _values(h.read(alice, subType="normal")) == []


def test_date_filters_are_inclusive_and_zone_aware(
    h: Helpers, alice: Account, history: dict[str, str]
) -> None:
    assert _values(h.read(alice, type="smbg", startDate="2024-05-01T10:00:00Z")) == [
        102,
        103,
        104,
        202,
    ]
    assert _values(h.read(alice, type="smbg", endDate="2024-05-01T10:00:00Z")) == [101, 201, 102]
    assert _values(
        h.read(alice, startDate="2024-05-01T10:00:00+02:00", endDate="2024-05-01T16:00:00+02:00")
    ) == [201, 102, 103]


def test_device_id_filter(h: Helpers, alice: Account, history: dict[str, str]) -> None:
    assert _values(h.read(alice, deviceId="OtherMeter-1")) == [201, 202, history["other"]]


def test_upload_id_filter(h: Helpers, alice: Account, history: dict[str, str]) -> None:
    assert _values(h.read(alice, uploadId=history["meter"])) == [
        101,
        102,
        103,
        104,
        history["meter"],
    ]


def test_latest_gives_the_most_recent_of_each_type(
    h: Helpers, alice: Account, history: dict[str, str]
) -> None:
    assert _values(h.read(alice, latest="true")) == [202, history["other"]]
    assert _values(h.read(alice, latest="true", type="smbg")) == [202]
    assert _values(h.read(alice, latest="true", deviceId="Ascensia" + "Contour-7390012")) == [
        104,
        history["meter"],
    ]
    assert _values(h.read(alice, latest="false", type="smbg")) == [101, 201, 102, 103, 104, 202]


def test_combined_filters(h: Helpers, alice: Account, history: dict[str, str]) -> None:
    documents = h.read(
        alice,
        type="smbg",
        subType="linked,scanned",
        startDate="2024-05-01T15:00:00Z",
        uploadId=history["meter"],
    )
    assert _values(documents) == [104]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"startDate": "yesterday"}, "startDate"),
        ({"endDate": "2024-05-01"}, "endDate"),
        ({"endDate": "2024-05-01T25:00:00Z"}, "endDate"),
        ({"type": "smgb"}, "type"),
        ({"type": "smbg,"}, "type"),
        ({"subType": "manaul"}, "subType"),
        ({"latest": "yes please"}, "latest"),
        ({"uploadId": "not-an-id"}, "uploadId"),
        ({"typ": "smbg"}, "typ"),
        ({"startDate": "2024-05-02T00:00:00Z", "endDate": "2024-05-01T00:00:00Z"}, "startDate"),
    ],
)
def test_bad_query_parameters_are_400_naming_the_parameter(
    api: Api, alice: Account, params: dict[str, str], parameter: str
) -> None:
    response = api.get(f"/data/{alice.userid}", params=params, headers=alice.headers)
    assert response.status_code == 400
    assert response.json()["code"] == 400
    assert f"'{parameter}'" in response.json()["message"]


def test_repeated_single_parameter_is_400(api: Api, alice: Account) -> None:
    response = api.get(f"/data/{alice.userid}?deviceId=a&deviceId=b", headers=alice.headers)
    assert response.status_code == 400
    assert "once" in response.json()["message"]
