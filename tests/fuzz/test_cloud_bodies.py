"""Property tests: the mock cloud's request bodies, beyond its OpenAPI surface (issue 10).

schemathesis (tests/mock_cloud/test_mockcloud_schemathesis.py) sends what the OpenAPI
document describes; these send what it does not: raw bytes, any JSON shape, valid bodies
with one field replaced by any JSON value, and any Basic credentials, to sign-up, login,
data set create and update, data upload and sharing, through the ASGI app (httpx
ASGITransport). Every answer is a 2xx or a 4xx carrying the common error body
(``code``, a non-empty ``message``), never a 500.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mock_cloud import CloudSettings, create_app, passwords, sessions

PASSWORD = "correct-horse-battery"


@dataclass
class Cloud:
    runner: asyncio.Runner
    client: httpx.AsyncClient
    token: str
    userid: str
    dataset: str

    def send(self, method: str, url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        request = self.client.request(method, url, content=body, headers=headers)
        return self.runner.run(request)


@pytest.fixture(scope="module")
def cloud() -> Iterator[Cloud]:
    cost = passwords.DEFAULT_COST
    passwords.DEFAULT_COST = passwords.Argon2Cost(time_cost=1, memory_cost=8, parallelism=1)
    app = create_app(CloudSettings(db_url="sqlite://"))
    runner = asyncio.Runner()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    client = httpx.AsyncClient(transport=transport, base_url="http://cloud.test")
    try:
        signed = runner.run(
            client.post(
                "/auth/user",
                json={
                    "username": "fuzz@example.com",
                    "emails": ["fuzz@example.com"],
                    "password": PASSWORD,
                },
            )
        )
        assert signed.status_code == 201, signed.text
        token = signed.headers[sessions.TOKEN_HEADER]
        userid = signed.json()["userid"]
        created = runner.run(
            client.post(
                f"/v1/users/{userid}/data_sets",
                json=DATA_SET,
                headers={sessions.TOKEN_HEADER: token},
            )
        )
        assert created.status_code in (200, 201), created.text
        dataset = created.json()["id"]
        yield Cloud(runner, client, token, userid, dataset)
    finally:
        runner.run(client.aclose())
        runner.close()
        app.state.cloud.close()
        passwords.DEFAULT_COST = cost


DATA_SET: dict[str, Any] = {
    "client": {"name": "org.diahil.uploader", "version": "0.1.0"},
    "dataSetType": "normal",
    "deduplicator": {"name": "org.tidepool.deduplicator.device.deactivate.hash"},
    "deviceId": "AscensiaContour-7390012",
    "deviceManufacturers": ["Ascensia"],
    "deviceModel": "Contour Next One",
    "deviceSerialNumber": "7390012",
    "deviceTags": ["bgm"],
    "time": "2024-05-01T12:00:00Z",
    "timeProcessing": "across-the-board-timezone",
    "timezone": "Europe/Berlin",
    "timezoneOffset": 120,
}
SMBG: dict[str, Any] = {
    "type": "smbg",
    "units": "mg/dL",
    "value": 120,
    "time": "2024-05-01T08:00:00Z",
    "deviceId": "AscensiaContour-7390012",
    "deviceTime": "2024-05-01T10:00:00",
    "timezoneOffset": 120,
}
SIGN_UP = {"username": "new@example.com", "emails": ["new@example.com"], "password": PASSWORD}
INVITATION = {"email": "friend@example.com", "permissions": {"view": {}}}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
    | st.sampled_from(["", "2024-05-01T08:00:00Z", "2024-02-30T00:00:00Z", "mg/dL", "smbg"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)


def _replace_one(body: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """``body`` with one field (or a new one) set to any JSON value, or dropped."""
    keys = st.sampled_from([*body, "extra", "id", "uploadId"])
    return st.builds(
        lambda key, value, drop: {
            k: v for k, v in {**body, key: value}.items() if not (drop and k == key)
        },
        keys,
        json_values,
        st.booleans(),
    )


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _bodies(valid: Any) -> st.SearchStrategy[bytes]:
    shaped = _replace_one(valid) if isinstance(valid, dict) else st.just(valid)
    return st.one_of(
        st.binary(max_size=200),
        json_values.map(_json),
        shaped.map(_json),
        st.lists(shaped, max_size=3).map(_json),
        st.sampled_from([b"", b"{", b"[1,", b"\xff\xfe", b'{"a":' * 300, b"1e999", b"NaN"]),
    )


def _assert_answered(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        assert body["code"] == response.status_code
        assert isinstance(body["message"], str) and body["message"], body


ENDPOINTS = {
    "sign_up": ("POST", "/auth/user", SIGN_UP),
    "create": ("POST", "/v1/users/{user}/data_sets", DATA_SET),
    "update": ("PUT", "/v1/data_sets/{dataset}", {"state": "open"}),
    "upload": ("POST", "/v1/data_sets/{dataset}/data", [SMBG]),
    "invite": ("POST", "/v1/users/{user}/invitations", INVITATION),
    "access": ("POST", "/access/{user}/{user}", {"view": {}}),
}


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_any_body_gets_a_pointed_4xx_or_a_2xx(cloud: Cloud, endpoint: str) -> None:
    method, path, valid = ENDPOINTS[endpoint]
    url = path.format(user=cloud.userid, dataset=cloud.dataset)
    content_types = st.sampled_from(
        ["application/json", "text/plain", "", "application/json; charset=latin-1"]
    )

    @settings(max_examples=max(10, settings().max_examples // 5))  # six endpoints
    @given(_bodies(valid[0] if isinstance(valid, list) else valid), content_types)
    def check(body: bytes, content_type: str) -> None:
        headers = {sessions.TOKEN_HEADER: cloud.token}
        if content_type:
            headers["Content-Type"] = content_type
        _assert_answered(cloud.send(method, url, body, headers))

    check()


@given(st.one_of(st.binary(max_size=80), st.text(max_size=60).map(str.encode)), st.booleans())
def test_any_basic_credentials_get_200_or_a_pointed_4xx(
    cloud: Cloud, credentials: bytes, encode: bool
) -> None:
    value = base64.b64encode(credentials) if encode else credentials
    header = b"Basic " + value
    request = cloud.client.post("/auth/login", headers=[(b"Authorization", header)])
    _assert_answered(cloud.runner.run(request))
