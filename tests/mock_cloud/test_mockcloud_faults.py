"""The fault API (test mode only): deterministic latency, errors, 429s, token expiry,
dropped connections and slow bodies, in process and under uvicorn, plus the request log."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from mockcloud_helpers import (
    PASSWORD,
    TOKEN_HEADER,
    Account,
    Api,
    Helpers,
    basic,
    data_set_body,
    smbg,
)
from mockcloud_server import serve

from mock_cloud import CloudSettings, create_app
from mock_cloud.faults.middleware import ConnectionDropped
from mock_cloud.faults_client import (
    AsyncFaultsClient,
    FaultApiError,
    FaultsClient,
    drop_after_store,
    error,
    hold,
    latency,
    rate_limit,
    slow_body,
)

TEST_MODE = CloudSettings(db_url="sqlite://", test_mode=True)
UPLOADS = "/v1/data*sets/*/data"
IN_TEST_MODE = pytest.mark.parametrize("settings", [TEST_MODE])


def _add(api: Api, **spec: Any) -> dict[str, Any]:
    response = api.post("/admin/faults", json=spec)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_admin_api_does_not_exist_without_test_mode(api: Api) -> None:
    for method, path in [
        ("POST", "/admin/faults"),
        ("GET", "/admin/faults"),
        ("POST", "/admin/tokens/expire"),
        ("GET", "/admin/requests"),
        ("POST", "/admin/reset"),
    ]:
        response = api.request(method, path, json={"kind": "error"})
        assert response.status_code == 404, path
    assert "/admin/faults" not in api.get("/openapi.json").json()["paths"]


@IN_TEST_MODE
def test_error_on_the_nth_matching_request_only(api: Api, h: Helpers, alice: Account) -> None:
    data_set_id = h.open_data_set(alice)
    fault = _add(api, kind="error", status=503, path=UPLOADS, method="POST", nth=2)

    statuses = [h.upload(alice, data_set_id, [h.smbg(value=100 + i)]).status_code for i in range(4)]

    assert statuses == [200, 503, 200, 200]
    h.close(alice, data_set_id)
    assert sorted(d["value"] for d in h.read_data(alice)) == [100, 102, 103]  # 101 never stored
    listed = api.get("/admin/faults").json()["data"]
    assert [(f["id"], f["matched"], f["hits"]) for f in listed] == [(fault["id"], 4, 1)]


@IN_TEST_MODE
def test_injected_error_says_so_in_json(api: Api, alice: Account) -> None:
    _add(api, kind="error", status=500)
    response = api.get("/auth/user", headers=alice.headers)
    assert response.status_code == 500
    assert response.json() == {"code": 500, "message": "injected fault: 500 (test mode)"}
    assert response.headers["X-Diahil-Fault"].startswith("error ")


@IN_TEST_MODE
def test_nth_and_times_hit_a_run_of_requests(api: Api, alice: Account) -> None:
    _add(api, kind="error", status=502, path="/auth/user", nth=2, times=2)
    statuses = [api.get("/auth/user", headers=alice.headers).status_code for _ in range(5)]
    assert statuses == [200, 502, 502, 200, 200]


def _pattern(seed: int) -> list[int]:
    app = create_app(TEST_MODE)
    client = Api(app)
    try:
        client.post("/admin/faults", json={"kind": "error", "rate": 0.3, "seed": seed})
        return [client.get("/no/such/path").status_code for _ in range(40)]
    finally:
        client.close()
        app.state.cloud.close()


def test_errors_at_a_rate_repeat_exactly_for_a_seed() -> None:
    first, again, other = _pattern(7), _pattern(7), _pattern(8)
    assert first == again
    assert first != other
    assert 4 <= first.count(500) <= 20
    assert set(first) == {404, 500}


@IN_TEST_MODE
def test_rate_limit_answers_429_with_retry_after(api: Api, h: Helpers, alice: Account) -> None:
    _add(api, kind="rate_limit", retryAfter=7, path=UPLOADS)
    response = h.upload(alice, h.open_data_set(alice), [h.smbg()])
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert "retry after 7 s" in response.json()["message"]


@IN_TEST_MODE
def test_latency_delays_the_answer(api: Api, alice: Account) -> None:
    _add(api, kind="latency", delayMs=300, path="/auth/user", times=1)
    started = time.perf_counter()
    assert api.get("/auth/user", headers=alice.headers).status_code == 200
    assert time.perf_counter() - started >= 0.3
    started = time.perf_counter()
    api.get("/auth/user", headers=alice.headers)
    assert time.perf_counter() - started < 0.3


@IN_TEST_MODE
def test_expire_tokens_now_forces_a_new_login(api: Api, alice: Account, bob: Account) -> None:
    expired = api.post("/admin/tokens/expire")

    assert expired.json() == {"expired": 2}
    for account in (alice, bob):
        response = api.get("/auth/user", headers=account.headers)
        assert response.status_code == 401
        assert "expired" in response.json()["message"]
    login = api.post("/auth/login", headers=basic(alice.email, PASSWORD))
    assert (
        api.get("/auth/user", headers={TOKEN_HEADER: login.headers[TOKEN_HEADER]}).status_code
        == 200
    )


@IN_TEST_MODE
def test_drop_after_store_in_process_is_a_transport_error(
    api: Api, h: Helpers, alice: Account
) -> None:
    data_set_id = h.open_data_set(alice)
    _add(api, kind="drop_after_store", path=UPLOADS, nth=1)
    chunk = [h.smbg(value=100), h.smbg(value=101, time="2024-05-01T09:00:00Z")]

    with pytest.raises(httpx.TransportError) as raised:
        h.upload(alice, data_set_id, chunk)
    assert isinstance(raised.value, ConnectionDropped)

    again = h.upload(alice, data_set_id, chunk)  # what a careful uploader does
    assert again.headers["X-Diahil-Created"] == "0"  # the first copy was stored
    assert again.headers["X-Diahil-Duplicates"] == "2"
    h.close(alice, data_set_id)
    assert len(h.read_data(alice)) == 2
    log = api.get("/admin/requests").json()["data"]
    assert [(e["status"], e["faults"]) for e in log if e["path"].endswith("/data")] == [
        (None, ["drop_after_store"]),
        (200, []),
    ]


@IN_TEST_MODE
def test_invalid_faults_are_pointed_400s(api: Api) -> None:
    cases = [
        ({"kind": "explode"}, "/kind"),
        ({"kind": "latency"}, ""),
        ({"kind": "latency", "delayMs": 5, "status": 500}, ""),
        ({"kind": "error", "status": 418}, "/status"),
        ({"kind": "error", "rate": 1.5}, "/rate"),
        ({"kind": "error", "nth": 0}, "/nth"),
        ({"kind": "error", "method": "FETCH"}, "/method"),
        ({"kind": "error", "colour": "red"}, "/colour"),
    ]
    for body, pointer in cases:
        response = api.post("/admin/faults", json=body)
        assert response.status_code == 400, body
        assert pointer in [e["source"]["pointer"] for e in response.json()["errors"]], body
    assert api.get("/admin/faults").json() == {"data": []}


@IN_TEST_MODE
def test_faults_can_be_listed_removed_and_reset(api: Api, alice: Account) -> None:
    first = _add(api, kind="error", path="/nowhere")
    _add(api, kind="latency", delayMs=1, path="/nowhere")
    assert api.delete(f"/admin/faults/{first['id']}").json() == {"removed": 1}
    assert api.delete(f"/admin/faults/{first['id']}").status_code == 404
    assert [f["kind"] for f in api.get("/admin/faults").json()["data"]] == ["latency"]
    api.get("/auth/user", headers=alice.headers)
    assert api.post("/admin/reset").status_code == 200
    assert api.get("/admin/faults").json() == {"data": []}
    assert api.get("/admin/requests").json() == {"data": []}


@IN_TEST_MODE
def test_request_log_holds_no_secrets(api: Api, h: Helpers, alice: Account) -> None:
    api.post("/auth/login", headers=basic(alice.email, PASSWORD))
    h.store(alice, [h.smbg()])
    api.get(f"/data/{alice.userid}?type=smbg", headers=alice.headers)

    log = api.get("/admin/requests").json()["data"]

    assert [(e["method"], e["status"]) for e in log][:2] == [("POST", 200), ("POST", 200)]
    assert log[-1]["path"] == f"/data/{alice.userid}"  # no query string
    text = str(log)
    assert alice.token not in text
    assert PASSWORD not in text
    assert "Basic" not in text


@pytest.fixture
def server_app() -> Iterator[FastAPI]:
    app = create_app(TEST_MODE)
    yield app
    app.state.cloud.close()


def test_faults_under_uvicorn_with_the_client(
    server_app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    cloud = server_app.state.cloud
    userid = cloud.create_user("qa@example.com", PASSWORD)
    caplog.set_level(logging.INFO)
    with serve(server_app) as url, FaultsClient(url) as faults, httpx.Client(base_url=url) as http:
        token = http.post("/auth/login", auth=("qa@example.com", PASSWORD)).headers[TOKEN_HEADER]
        headers = {TOKEN_HEADER: token}
        body = data_set_body()
        data_set_id = http.post(f"/v1/users/{userid}/data_sets", json=body, headers=headers).json()[
            "id"
        ]
        datum = smbg()
        faults.add(drop_after_store(path=UPLOADS, nth=1))

        with pytest.raises(httpx.RemoteProtocolError):
            http.post(f"/v1/datasets/{data_set_id}/data", json=[datum], headers=headers)
        again = http.post(f"/v1/datasets/{data_set_id}/data", json=[datum], headers=headers)
        assert again.status_code == 200
        assert again.headers["X-Diahil-Duplicates"] == "1"  # stored before the drop

        faults.add(slow_body(100, 200, path=f"/v1/data_sets/{data_set_id}", times=1))
        started = time.perf_counter()
        slow = http.get(f"/v1/data_sets/{data_set_id}", headers=headers)
        elapsed = time.perf_counter() - started
        assert slow.json()["id"] == data_set_id
        pieces = -(-len(slow.content) // 200)
        assert pieces >= 3
        assert elapsed >= 0.1 * (pieces - 1) * 0.9

        faults.add(rate_limit(3, path="/auth/user", nth=1))
        limited = http.get("/auth/user", headers=headers)
        assert (limited.status_code, limited.headers["Retry-After"]) == (429, "3")

        assert faults.expire_tokens() == 1
        assert http.get("/auth/user", headers=headers).status_code == 401

        logged = faults.requests()
        assert [r.faults for r in logged if r.faults] == [
            ("drop_after_store",),
            ("slow_body",),
            ("rate_limit",),
        ]
        assert next(r for r in logged if r.faults == ("drop_after_store",)).status is None
        assert {f["kind"] for f in faults.faults()} == {
            "drop_after_store",
            "slow_body",
            "rate_limit",
        }
        faults.reset()
        assert faults.faults() == [] and faults.requests() == []
    # Dropping the connection is deliberate: the server logs no error for it.
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_client_reports_a_cloud_without_test_mode() -> None:
    app = create_app(CloudSettings(db_url="sqlite://"))
    try:
        with (
            serve(app) as url,
            FaultsClient(url) as faults,
            pytest.raises(FaultApiError, match="404"),
        ):
            faults.add(error(500))
    finally:
        app.state.cloud.close()


@IN_TEST_MODE
def test_async_client_in_process(cloud_app: FastAPI, api: Api, alice: Account) -> None:
    async def drive() -> list[str]:
        transport = httpx.ASGITransport(app=cloud_app)
        async with AsyncFaultsClient("http://cloud.test", transport=transport) as faults:
            await faults.add(latency(1, path="/auth/user"))
            await faults.add(error(504, path="/auth/user", nth=1))
            kinds = [f["kind"] for f in await faults.faults()]
            assert (await faults.expire_tokens()) == 1
            await faults.clear()
            return kinds

    assert api.run(drive()) == ["latency", "error"]


@IN_TEST_MODE
def test_expire_session_fault_answers_401_mid_session(api: Api, alice: Account) -> None:
    _add(api, kind="expire_session", path="/auth/user", nth=2)
    assert api.get("/auth/user", headers=alice.headers).status_code == 200
    expired = api.get("/auth/user", headers=alice.headers)
    assert expired.status_code == 401
    assert "expired" in expired.json()["message"]
    login = api.post("/auth/login", headers=basic(alice.email, PASSWORD))  # logging in works
    assert api.get("/auth/user", headers={TOKEN_HEADER: login.headers[TOKEN_HEADER]}).is_success


def test_hold_keeps_a_request_until_the_fault_is_removed(server_app: FastAPI) -> None:
    """``hold`` (before handling, and with ``afterHandling``): a test sees the request
    arrive, and nothing is answered until it removes the fault."""
    server_app.state.cloud.create_user("qa@example.com", PASSWORD)
    with serve(server_app) as url, FaultsClient(url) as faults, httpx.Client(base_url=url) as http:
        token = http.post("/auth/login", auth=("qa@example.com", PASSWORD)).headers[TOKEN_HEADER]
        userid = http.get("/auth/user", headers={TOKEN_HEADER: token}).json()["userid"]
        for after_handling in (False, True):
            fault_id = faults.add(
                hold(after_handling=after_handling, method="POST", path="/v1/users/*/data_sets")
            )
            answers: list[int] = []
            body = data_set_body(deviceId=f"D-{after_handling}")

            def post(body: dict[str, Any] = body, answers: list[int] = answers) -> None:
                with httpx.Client(base_url=url, timeout=10) as client:
                    answers.append(
                        client.post(
                            f"/v1/users/{userid}/data_sets",
                            json=body,
                            headers={TOKEN_HEADER: token},
                        ).status_code
                    )

            thread = threading.Thread(target=post)
            thread.start()
            faults.wait_until_held(fault_id)  # with afterHandling: handled by then
            assert answers == []  # held
            listed = http.get(f"/v1/users/{userid}/data_sets", headers={TOKEN_HEADER: token})
            stored = listed.json()["data"]
            assert any(s.get("deviceId") == f"D-{after_handling}" for s in stored) is after_handling
            faults.remove(fault_id)
            thread.join(timeout=5)
            assert len(answers) == 1 and 200 <= answers[0] < 300
