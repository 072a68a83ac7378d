"""Uploading chunks of datums: storage, validation with pointers, limits, closed sets."""

from __future__ import annotations

import re
from typing import Any

import pytest
from mockcloud_helpers import Account, Api, Helpers

from mock_cloud import CloudSettings

HEX32 = re.compile(r"^[0-9a-f]{32}$")


def test_valid_chunk_is_stored_with_server_fields(api: Api, h: Helpers, alice: Account) -> None:
    data_set_id = h.open_data_set(alice)
    sent = [
        h.smbg(value=95, time="2024-05-01T06:00:00Z"),
        h.smbg(value=5.4, units="mmol/L", time="2024-05-01T07:00:00+02:00", subType="manual"),
    ]

    response = h.upload(alice, data_set_id, sent)
    h.close(alice, data_set_id)

    assert response.status_code == 200
    assert response.json() == []
    assert response.headers["X-Diahil-Created"] == "2"
    assert response.headers["X-Diahil-Duplicates"] == "0"
    stored = h.read_data(alice)
    assert len(stored) == 2
    # Sorted by time: 07:00+02:00 is 05:00Z, before 06:00Z.
    assert [d["value"] for d in stored] == [5.4, 95]
    for datum, original in zip(stored, [sent[1], sent[0]], strict=True):
        assert HEX32.match(datum["id"])
        assert datum["uploadId"] == data_set_id
        assert datum["createdTime"].endswith("Z")
        assert {k: v for k, v in datum.items() if k not in ("id", "uploadId", "createdTime")} == (
            original
        )
    assert stored[0]["id"] != stored[1]["id"]


def test_both_upload_paths_store(api: Api, h: Helpers, alice: Account) -> None:
    data_set_id = h.open_data_set(alice)
    response = api.post(f"/v1/data_sets/{data_set_id}/data", json=[h.smbg()], headers=alice.headers)
    assert response.status_code == 200
    h.close(alice, data_set_id)
    assert len(h.read_data(alice)) == 1


def test_rich_valid_datum_is_accepted(h: Helpers, alice: Account) -> None:
    data_set_id = h.open_data_set(alice)
    datum = h.smbg(
        value=39,
        subType="linked",
        timezone="Europe/Berlin",
        clockDriftOffset=-1500,
        conversionOffset=0,
        annotations=[{"code": "bg/out-of-range", "value": "low", "threshold": 40}],
        origin={"id": "rec-17", "name": "org.diahil.contour", "type": "device"},
        payload={"recordNumber": 17},
        notes=["before lunch"],
        tags=["bench"],
        guid="2e0f1338-1537-414b-baf7-3827b6185f23",
    )
    response = h.upload(alice, data_set_id, [datum])
    assert response.status_code == 200, response.json()
    h.close(alice, data_set_id)
    assert h.read_data(alice)[0]["annotations"] == datum["annotations"]


def test_invalid_datums_store_nothing_and_list_every_problem(h: Helpers, alice: Account) -> None:
    data_set_id = h.open_data_set(alice)
    chunk = [
        h.smbg(value=100),
        h.smbg(value=101, time="2024-05-01T09:00:00Z"),
        h.smbg(value=102, time="2024-05-01T10:00:00Z"),
        h.smbg(value=2000, units="mg/dL", time="bad", extra=1),
        {"type": "food", "nutrition": {}},
        {"type": "smgb"},
        {"value": 3},
        "smbg",
    ]

    response = h.upload(alice, data_set_id, chunk)

    assert response.status_code == 400
    body = response.json()
    assert body["message"] == "5 of 8 datums are invalid"
    assert sorted((p["source"]["pointer"], p["code"]) for p in body["errors"]) == [
        ("/3/extra", "field-unknown"),
        ("/3/time", "value-not-valid"),
        ("/3/value", "value-out-of-range"),
        ("/4/type", "type-not-supported"),
        ("/5/type", "value-not-allowed"),
        ("/6/type", "value-not-exists"),
        ("/7", "type-not-object"),
    ]
    unknown_type = next(p for p in body["errors"] if p["source"]["pointer"] == "/5/type")
    assert "smgb" in unknown_type["detail"]
    assert "smbg" in unknown_type["detail"]
    h.close(alice, data_set_id)
    assert h.read_data(alice) == []


def test_closed_data_set_refuses_data(api: Api, h: Helpers, alice: Account) -> None:
    data_set_id = h.open_data_set(alice)
    api.put(f"/v1/datasets/{data_set_id}", json={"state": "closed"}, headers=alice.headers)

    response = h.upload(alice, data_set_id, [h.smbg()])

    assert response.status_code == 409
    assert "closed" in response.json()["message"]
    assert h.read_data(alice) == []


def test_chunk_over_the_limit_is_refused(h: Helpers, alice: Account) -> None:
    data_set_id = h.open_data_set(alice)
    chunk = [
        h.smbg(value=i % 400, time=f"2024-05-01T08:{i // 60 % 60:02d}:{i % 60:02d}Z")
        for i in range(1001)
    ]

    response = h.upload(alice, data_set_id, chunk)

    assert response.status_code == 400
    assert "1001" in response.json()["message"]
    assert "1000" in response.json()["message"]
    assert h.upload(alice, data_set_id, chunk[:1000]).headers["X-Diahil-Created"] == "1000"
    h.close(alice, data_set_id)
    assert len(h.read_data(alice)) == 1000


@pytest.mark.parametrize("settings", [CloudSettings(db_url="sqlite://", max_chunk=2)])
def test_chunk_limit_follows_settings(h: Helpers, alice: Account) -> None:
    data_set_id = h.open_data_set(alice)
    three = [h.smbg(value=v, time=f"2024-05-01T08:0{v}:00Z") for v in (1, 2, 3)]

    refused = h.upload(alice, data_set_id, three)
    accepted = h.upload(alice, data_set_id, three[:2])

    assert refused.status_code == 400
    assert "got 3, the limit is 2" in refused.json()["message"]
    assert accepted.status_code == 200


@pytest.mark.parametrize(
    ("body", "fragment"),
    [([], "empty array"), ({"type": "smbg"}, "JSON array"), ("smbg", "JSON array")],
)
def test_body_must_be_a_non_empty_array(
    h: Helpers, alice: Account, body: Any, fragment: str
) -> None:
    data_set_id = h.open_data_set(alice)
    response = h.upload(alice, data_set_id, body)
    assert response.status_code == 400
    assert fragment in response.json()["message"]
