"""Data sets: create, validate, list, read, close, delete."""

from __future__ import annotations

import re
from typing import Any

import pytest
from mockcloud_helpers import DEVICE_ID, Account, Api, Helpers, data_set_body

from mock_cloud.datasets import parse_new_data_set
from mock_cloud.errors import ApiError

HEX32 = re.compile(r"^[0-9a-f]{32}$")


def _pointers(response: Any) -> list[str]:
    return [problem["source"]["pointer"] for problem in response.json()["errors"]]


@pytest.mark.parametrize("spelling", ["data_sets", "datasets"])
def test_create_returns_open_upload_record(
    api: Api, h: Helpers, alice: Account, spelling: str
) -> None:
    body = h.data_set_body()
    response = api.post(f"/v1/users/{alice.userid}/{spelling}", json=body, headers=alice.headers)

    assert response.status_code == 200
    created = response.json()
    assert HEX32.match(created["id"])
    assert created["uploadId"] == created["id"]
    assert created["type"] == "upload"
    assert created["state"] == "open"
    assert created["byUser"] == alice.userid
    assert created["createdTime"].endswith("Z")
    for key, value in body.items():
        if key != "deduplicator":
            assert created[key] == value
    assert created["deduplicator"]["name"] == body["deduplicator"]["name"]


def test_deduplicator_defaults_to_device_hash(api: Api, h: Helpers, alice: Account) -> None:
    body = h.data_set_body()
    del body["deduplicator"]
    response = api.post(f"/v1/users/{alice.userid}/data_sets", json=body, headers=alice.headers)
    assert response.status_code == 200
    assert response.json()["deduplicator"]["name"] == (
        "org.tidepool.deduplicator.device.deactivate.hash"
    )


def test_spec_example_extra_fields_are_accepted(api: Api, h: Helpers, alice: Account) -> None:
    body = h.data_set_body(
        deviceTime="2024-05-01T14:00:00", clockDriftOffset=0, conversionOffset=0, type="upload"
    )
    response = api.post(f"/v1/users/{alice.userid}/data_sets", json=body, headers=alice.headers)
    assert response.status_code == 200
    assert response.json()["deviceTime"] == "2024-05-01T14:00:00"


@pytest.mark.parametrize(
    ("change", "pointer", "code"),
    [
        ({"deviceTags": None}, "/deviceTags", "value-not-exists"),
        ({"deviceId": None}, "/deviceId", "value-not-exists"),
        ({"time": None}, "/time", "value-not-exists"),
        ({"dataSetType": "bulk"}, "/dataSetType", "value-not-allowed"),
        ({"timeProcessing": "magic"}, "/timeProcessing", "value-not-allowed"),
        ({"deviceTags": ["toaster"]}, "/deviceTags/0", "value-not-allowed"),
        ({"deviceTags": []}, "/deviceTags", "length-out-of-range"),
        ({"client": {"name": "uploader", "version": "0.1.0"}}, "/client/name", "value-not-valid"),
        (
            {"client": {"name": "org.diahil.uploader", "version": "1"}},
            "/client/version",
            "value-not-valid",
        ),
        ({"client": {"name": "org.diahil.uploader"}}, "/client/version", "value-not-exists"),
        (
            {"deduplicator": {"name": "org.tidepool.deduplicator.dataset.delete.origin"}},
            "/deduplicator/name",
            "value-not-allowed",
        ),
        ({"deduplicator": {}}, "/deduplicator/name", "value-not-exists"),
        ({"timezone": "Mars/Olympus"}, "/timezone", "value-not-valid"),
        ({"timezoneOffset": 99999}, "/timezoneOffset", "value-out-of-range"),
        ({"time": "2024-05-01 12:00"}, "/time", "value-not-valid"),
        ({"id": "0" * 32}, "/id", "field-server-owned"),
        ({"state": "closed"}, "/state", "field-server-owned"),
        ({"devicetags": ["bgm"]}, "/devicetags", "field-unknown"),
    ],
)
def test_invalid_data_set_bodies_are_pointed(
    change: dict[str, Any], pointer: str, code: str
) -> None:
    body = data_set_body(**change)
    for key in [k for k, v in change.items() if v is None]:
        del body[key]

    with pytest.raises(ApiError) as raised:
        parse_new_data_set(body)

    assert raised.value.status == 400
    problems = {p["source"]["pointer"]: p["code"] for p in raised.value.errors or []}
    assert problems.get(pointer) == code, raised.value.errors


def test_invalid_data_set_is_400_and_not_created(api: Api, h: Helpers, alice: Account) -> None:
    body = h.data_set_body(dataSetType="bulk")
    del body["deviceTags"]

    response = api.post(f"/v1/users/{alice.userid}/data_sets", json=body, headers=alice.headers)

    assert response.status_code == 400
    assert response.json()["code"] == 400
    assert "and 1 more" in response.json()["message"]
    assert sorted(_pointers(response)) == ["/dataSetType", "/deviceTags"]
    listed = api.get(f"/v1/users/{alice.userid}/data_sets", headers=alice.headers)
    assert listed.json() == {"data": []}


def test_data_set_body_must_be_an_object(api: Api, alice: Account) -> None:
    response = api.post(f"/v1/users/{alice.userid}/data_sets", json=[], headers=alice.headers)
    assert response.status_code == 400
    assert "must be a JSON object" in response.json()["message"]


def test_list_filters_and_pages(api: Api, h: Helpers, alice: Account) -> None:
    first = h.open_data_set(alice)
    second = h.open_data_set(alice, deviceId="OtherMeter-1")
    third = h.open_data_set(alice, client={"name": "org.example.other", "version": "2.0.0"})
    url = f"/v1/users/{alice.userid}/datasets"

    def ids(**params: Any) -> list[str]:
        response = api.get(url, params=params, headers=alice.headers)
        assert response.status_code == 200
        return [item["id"] for item in response.json()["data"]]

    assert ids() == [third, second, first]
    assert ids(deviceId="OtherMeter-1") == [second]
    assert ids(deviceId=DEVICE_ID) == [third, first]
    assert ids(**{"client.name": "org.example.other"}) == [third]
    assert ids(size=2) == [third, second]
    assert ids(size=2, page=1) == [first]
    assert ids(size=2, page=2) == []


def test_list_only_shows_own_data_sets(api: Api, h: Helpers, alice: Account, bob: Account) -> None:
    h.open_data_set(alice)
    response = api.get(f"/v1/users/{bob.userid}/data_sets", headers=bob.headers)
    assert response.json() == {"data": []}


def test_get_returns_the_data_set(api: Api, h: Helpers, alice: Account) -> None:
    data_set_id = h.open_data_set(alice)
    response = api.get(f"/v1/data_sets/{data_set_id}", headers=alice.headers)
    assert response.status_code == 200
    assert response.json()["id"] == data_set_id
    assert response.json()["deviceModel"] == "Contour Next One"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/data_sets/{id}", {"state": "closed"}),
        ("/v1/datasets/{id}", {"state": "closed"}),
        ("/v1/datasets/{id}", {"dataState": "closed"}),
        ("/v1/data_sets/{id}", {"dataState": "closed", "state": "closed"}),
    ],
)
def test_close_data_set(
    api: Api, h: Helpers, alice: Account, path: str, body: dict[str, str]
) -> None:
    data_set_id = h.open_data_set(alice)
    response = api.put(path.format(id=data_set_id), json=body, headers=alice.headers)
    assert response.status_code == 200
    assert response.json()["state"] == "closed"
    assert "modifiedTime" in response.json()
    fetched = api.get(f"/v1/data_sets/{data_set_id}", headers=alice.headers)
    assert fetched.json()["state"] == "closed"


def test_closing_twice_is_accepted(api: Api, h: Helpers, alice: Account) -> None:
    data_set_id = h.open_data_set(alice)
    url = f"/v1/datasets/{data_set_id}"
    assert api.put(url, json={"state": "closed"}, headers=alice.headers).status_code == 200
    again = api.put(url, json={"dataState": "closed"}, headers=alice.headers)
    assert again.status_code == 200
    assert again.json()["state"] == "closed"


@pytest.mark.parametrize(
    "body", [{"state": "open"}, {"deviceModel": "Other"}, {"state": "closed", "timezoneOffset": 60}]
)
def test_closed_data_set_cannot_change(
    api: Api, h: Helpers, alice: Account, body: dict[str, Any]
) -> None:
    data_set_id = h.open_data_set(alice)
    url = f"/v1/datasets/{data_set_id}"
    api.put(url, json={"state": "closed"}, headers=alice.headers)

    response = api.put(url, json=body, headers=alice.headers)

    assert response.status_code == 409
    assert "closed" in response.json()["message"]
    assert api.get(f"/v1/data_sets/{data_set_id}", headers=alice.headers).json()["deviceModel"] == (
        "Contour Next One"
    )


def test_open_data_set_fields_can_be_updated(api: Api, h: Helpers, alice: Account) -> None:
    data_set_id = h.open_data_set(alice)
    response = api.put(
        f"/v1/datasets/{data_set_id}",
        json={"deviceSerialNumber": "NEW1", "timezoneOffset": 60},
        headers=alice.headers,
    )
    assert response.status_code == 200
    assert response.json()["deviceSerialNumber"] == "NEW1"
    assert response.json()["timezoneOffset"] == 60
    assert response.json()["state"] == "open"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "empty"),
        ({"state": "closed", "dataState": "open"}, "disagree"),
        ({"state": "done"}, "must be one of"),
        ({"stat": "closed"}, "unknown field"),
        ({"id": "x"}, "set by the server"),
        (["closed"], "must be a JSON object"),
    ],
)
def test_bad_updates_are_400(
    api: Api, h: Helpers, alice: Account, body: Any, fragment: str
) -> None:
    data_set_id = h.open_data_set(alice)
    response = api.put(f"/v1/datasets/{data_set_id}", json=body, headers=alice.headers)
    assert response.status_code == 400
    assert fragment in response.json()["message"]
    assert api.get(f"/v1/data_sets/{data_set_id}", headers=alice.headers).json()["state"] == "open"


@pytest.mark.parametrize("spelling", ["data_sets", "datasets"])
def test_delete_removes_data_set_and_its_data(
    api: Api, h: Helpers, alice: Account, spelling: str
) -> None:
    doomed = h.open_data_set(alice)
    kept = h.open_data_set(alice)
    h.upload(alice, doomed, [h.smbg(value=100), h.smbg(value=101, time="2024-05-01T09:00:00Z")])
    h.upload(alice, kept, [h.smbg(value=102, time="2024-05-01T10:00:00Z")])
    h.close(alice, doomed)
    h.close(alice, kept)

    response = api.delete(f"/v1/{spelling}/{doomed}", headers=alice.headers)

    assert response.status_code == 200
    assert response.json() == {}
    assert api.get(f"/v1/data_sets/{doomed}", headers=alice.headers).status_code == 404
    remaining = h.read(alice)
    assert [d["uploadId"] for d in remaining] == [kept, kept]
    assert [d.get("value") for d in remaining if d["type"] == "smbg"] == [102]


def test_deleted_data_can_be_uploaded_again(api: Api, h: Helpers, alice: Account) -> None:
    first = h.store(alice, [h.smbg()])
    api.delete(f"/v1/datasets/{first}", headers=alice.headers)
    second = h.open_data_set(alice)
    response = h.upload(alice, second, [h.smbg()])
    assert response.headers["X-Diahil-Created"] == "1"
