"""Bad input of every kind gets a JSON 4xx that says what to fix, never a 5xx."""

from __future__ import annotations

import random
from typing import Any

import pytest
from mockcloud_helpers import Account, Api, Helpers

from mock_cloud import CloudSettings

BAD_BODIES: list[tuple[bytes, str]] = [
    (b"", "empty"),
    (b"{not json", "not valid JSON"),
    (b"[1, 2,", "not valid JSON"),
    (b"\xff\xfe[]", "not UTF-8"),
    (b'[{"type": "smbg", "value": NaN}]', "NaN"),
    (b'[{"type": "smbg", "value": 1e400}]', "64-bit float"),
    (b'[{"type": "smbg", "deviceId": "\\ud800"}]', "surrogate"),
    (b'[{"type": "smbg", "deviceId": "a\\u0000b"}]', "NUL"),
    (b"[" * 5000 + b"]" * 5000, "nested"),
    (b'[{"payload": ' + b'{"a": ' * 40 + b"1" + b"}" * 40 + b"}]", "nested"),
]


@pytest.mark.parametrize(("raw", "fragment"), BAD_BODIES)
def test_unreadable_upload_bodies_are_400(
    api: Api, h: Helpers, alice: Account, raw: bytes, fragment: str
) -> None:
    data_set_id = h.open_data_set(alice)

    response = api.post(
        f"/v1/datasets/{data_set_id}/data",
        content=raw,
        headers={**alice.headers, "Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert response.json()["code"] == 400
    assert fragment in response.json()["message"]
    h.close(alice, data_set_id)
    assert h.read_data(alice) == []


@pytest.mark.parametrize(("raw", "fragment"), [BAD_BODIES[1], BAD_BODIES[4], BAD_BODIES[7]])
@pytest.mark.parametrize("endpoint", ["data_set", "update", "sign_up"])
def test_unreadable_bodies_elsewhere_are_400(
    api: Api, h: Helpers, alice: Account, raw: bytes, fragment: str, endpoint: str
) -> None:
    data_set_id = h.open_data_set(alice)
    method, url = {
        "data": ("POST", f"/v1/datasets/{data_set_id}/data"),
        "data_set": ("POST", f"/v1/users/{alice.userid}/data_sets"),
        "update": ("PUT", f"/v1/datasets/{data_set_id}"),
        "sign_up": ("POST", "/auth/user"),
    }[endpoint]

    response = api.request(
        method,
        url,
        content=raw,
        headers={**alice.headers, "Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert response.json()["code"] == 400
    assert fragment in response.json()["message"]


def test_wrong_content_type_still_reads_json(api: Api, h: Helpers, alice: Account) -> None:
    data_set_id = h.open_data_set(alice)
    response = api.post(
        f"/v1/datasets/{data_set_id}/data",
        content=b'[{"type": "smbg", "units": "mg/dL", "value": 99, '
        b'"time": "2024-05-01T08:00:00Z", "deviceId": "m"}]',
        headers={**alice.headers, "Content-Type": "text/plain"},
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "query",
    ["size=0", "size=1001", "size=ten", "page=-1", "page=1.5", "deleted=maybe", "colour=blue"],
)
def test_bad_list_parameters_are_400(api: Api, alice: Account, query: str) -> None:
    response = api.get(f"/v1/users/{alice.userid}/data_sets?{query}", headers=alice.headers)
    assert response.status_code == 400
    assert query.split("=", maxsplit=1)[0] in response.json()["message"]


def test_unknown_endpoint_is_json_404(api: Api, alice: Account) -> None:
    response = api.get("/v1/nothing-here", headers=alice.headers)
    assert response.status_code == 404
    assert response.json() == {"code": 404, "message": "no such endpoint: GET /v1/nothing-here"}


def test_wrong_method_is_json_405(api: Api, h: Helpers, alice: Account) -> None:
    data_set_id = h.open_data_set(alice)
    response = api.get(f"/v1/datasets/{data_set_id}/data", headers=alice.headers)
    assert response.status_code == 405
    assert response.json()["code"] == 405
    assert "not allowed" in response.json()["message"]


@pytest.mark.parametrize("settings", [CloudSettings(db_url="sqlite://", max_body_bytes=1000)])
def test_oversized_body_is_json_413(api: Api, h: Helpers, alice: Account) -> None:
    data_set_id = h.open_data_set(alice)

    response = api.post(
        f"/v1/datasets/{data_set_id}/data",
        json=[h.smbg(value=100, notes=["x" * 600]), h.smbg(value=101, notes=["y" * 600])],
        headers=alice.headers,
    )

    assert response.status_code == 413
    assert response.json()["code"] == 413
    assert "smaller chunks" in response.json()["message"]


def _random_json(rng: random.Random, depth: int = 0) -> Any:
    kinds = ["null", "bool", "int", "float", "str", "list", "dict"] if depth < 3 else ["str"]
    kind = rng.choice(kinds)
    if kind == "null":
        return None
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "int":
        return rng.choice([0, -1, 1, 1000, 10**20, -(10**20), rng.randint(-5000, 5000)])
    if kind == "float":
        return rng.choice([0.5, -0.0, 1e300, -1e-300, rng.uniform(-100, 2000)])
    if kind == "str":
        return rng.choice(["", "x", "smbg", "mg/dL", "2024-05-01T08:00:00Z", "bg/out-of-range"])
    if kind == "list":
        return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    keys = ["code", "value", "threshold", "id", "name", "type", "time", "a"]
    return {rng.choice(keys): _random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))}


def test_random_malformed_datums_never_cause_a_server_error(
    api: Api, h: Helpers, alice: Account
) -> None:
    rng = random.Random(20240501)
    fields = [*h.smbg(), "subType", "annotations", "origin", "payload", "notes", "tags", "guid"]
    data_set_id = h.open_data_set(alice)
    for _ in range(4):
        chunk = []
        for index in range(100):
            datum = h.smbg(value=index, time=f"2024-05-01T08:{index % 60:02d}:00Z")
            for _ in range(rng.randint(1, 3)):
                datum[rng.choice(fields)] = _random_json(rng)
            chunk.append(datum)
        response = h.upload(alice, data_set_id, chunk)
        assert response.status_code in (200, 400), response.text
        assert response.json() == [] or response.json()["errors"]


def test_random_query_strings_never_cause_a_server_error(api: Api, alice: Account) -> None:
    rng = random.Random(7)
    names = ["type", "subType", "startDate", "endDate", "deviceId", "uploadId", "latest", "x"]
    values = ["", ",", "smbg", "upload,smbg", "manual", "2024-05-01T00:00:00Z", "0" * 32, "true"]
    for _ in range(60):
        params = [(rng.choice(names), rng.choice(values)) for _ in range(rng.randint(1, 3))]
        response = api.get(f"/data/{alice.userid}", params=params, headers=alice.headers)
        assert response.status_code in (200, 400), (params, response.text)
