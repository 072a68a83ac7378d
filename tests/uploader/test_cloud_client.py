"""The cloud client's HTTP edge cases (respx mocks the network, not our code)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import pytest
import respx

from uploader.cloud import CloudClient, RetryPolicy
from uploader.errors import (
    AuthenticationFailed,
    CloudUnavailable,
    DeviceLinkedElsewhere,
    UploadRejected,
)

URL = "https://cloud.test"
LOGIN_OK = httpx.Response(200, json={"userid": "u1"}, headers={"X-Tidepool-Session-Token": "tok-1"})
T = TypeVar("T")


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def run(
    make: Callable[[CloudClient], Awaitable[T]], sleeps: Sleeps | None = None, attempts: int = 3
) -> T:
    async def go() -> T:
        async with CloudClient(
            URL, retry=RetryPolicy(attempts=attempts, base_delay_s=0.01), sleep=sleeps or Sleeps()
        ) as client:
            return await make(client)

    return asyncio.run(go())


async def logged_in(client: CloudClient) -> CloudClient:
    await client.login("pat@example.test", "pw")
    return client


@respx.mock
def test_login_keeps_the_session_token_and_user() -> None:
    route = respx.post(f"{URL}/auth/login").mock(return_value=LOGIN_OK)
    user = run(lambda c: c.login("pat@example.test", "pw"))
    assert user.user_id == "u1"
    assert route.calls.last.request.headers["Authorization"].startswith("Basic ")


@respx.mock
def test_wrong_password_is_an_authentication_error() -> None:
    respx.post(f"{URL}/auth/login").mock(
        return_value=httpx.Response(401, json={"code": 401, "message": "Wrong email or password"})
    )
    with pytest.raises(AuthenticationFailed, match="email or password: Wrong email or password"):
        run(lambda c: c.login("pat@example.test", "nope"))


@respx.mock
def test_a_locked_account_is_a_login_error_saying_when_it_unlocks() -> None:
    locked = {"code": 423, "message": "account locked after 5 failed logins; it unlocks at 10:15"}
    respx.post(f"{URL}/auth/login").mock(return_value=httpx.Response(423, json=locked))
    with pytest.raises(AuthenticationFailed, match=r"locked the account: .* unlocks at 10:15"):
        run(lambda c: c.login("pat@example.test", "pw"))


@respx.mock
def test_5xx_is_retried_with_backoff_then_succeeds() -> None:
    respx.post(f"{URL}/auth/login").mock(return_value=LOGIN_OK)
    route = respx.post(f"{URL}/v1/data_sets/s1/data").mock(
        side_effect=[httpx.Response(503), httpx.Response(500), httpx.Response(200, json=[])]
    )
    sleeps = Sleeps()

    async def go(client: CloudClient) -> Any:
        await logged_in(client)
        return await client.upload_chunk("s1", [{"type": "smbg"}])

    result = run(go, sleeps)
    assert result.sent == 1 and route.call_count == 3
    assert len(sleeps.calls) == 2 and all(0 <= s <= 0.02 for s in sleeps.calls)


@respx.mock
def test_persistent_5xx_gives_a_clear_error_after_the_budget() -> None:
    respx.post(f"{URL}/auth/login").mock(return_value=LOGIN_OK)
    route = respx.put(f"{URL}/v1/data_sets/s1").mock(
        return_value=httpx.Response(502, text="bad gateway")
    )

    async def go(client: CloudClient) -> None:
        await logged_in(client)
        await client.close_data_set("s1")

    with pytest.raises(CloudUnavailable, match=r"answered 502 \(bad gateway\), 3 times in a row"):
        run(go)
    assert route.call_count == 3


@respx.mock
def test_timeouts_and_dropped_connections_are_retried() -> None:
    respx.post(f"{URL}/auth/login").mock(
        side_effect=[httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("dropped"), LOGIN_OK]
    )
    assert run(lambda c: c.login("pat@example.test", "pw")).user_id == "u1"


@respx.mock
def test_timeouts_forever_end_in_cloud_unavailable() -> None:
    respx.post(f"{URL}/auth/login").mock(side_effect=httpx.ConnectTimeout("no route"))
    with pytest.raises(CloudUnavailable, match="timed out"):
        run(lambda c: c.login("pat@example.test", "pw"))


@respx.mock
def test_expired_session_logs_in_again_once_and_retries() -> None:
    login = respx.post(f"{URL}/auth/login").mock(
        side_effect=[
            LOGIN_OK,
            httpx.Response(
                200, json={"userid": "u1"}, headers={"X-Tidepool-Session-Token": "tok-2"}
            ),
        ]
    )
    data = respx.get(f"{URL}/data/u1").mock(
        side_effect=[httpx.Response(401), httpx.Response(200, json=[{"type": "smbg"}])]
    )

    async def go(client: CloudClient) -> Any:
        await logged_in(client)
        return await client.read_data(
            device_id="D", types=["smbg"], start=datetime(2026, 1, 1, tzinfo=UTC)
        )

    assert run(go) == [{"type": "smbg"}]
    assert login.call_count == 2
    assert [c.request.headers["X-Tidepool-Session-Token"] for c in data.calls] == ["tok-1", "tok-2"]
    assert data.calls.last.request.url.params["startDate"] == "2026-01-01T00:00:00.000Z"


@respx.mock
def test_401_after_logging_in_again_is_an_authentication_error() -> None:
    respx.post(f"{URL}/auth/login").mock(return_value=LOGIN_OK)
    respx.get(f"{URL}/data/u1").mock(return_value=httpx.Response(401))

    async def go(client: CloudClient) -> Any:
        await logged_in(client)
        return await client.read_data()

    with pytest.raises(AuthenticationFailed, match="even after logging in again"):
        run(go)


@respx.mock
def test_429_waits_for_retry_after() -> None:
    respx.post(f"{URL}/auth/login").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "2"}), LOGIN_OK]
    )
    sleeps = Sleeps()
    run(lambda c: c.login("pat@example.test", "pw"), sleeps)
    assert sleeps.calls == [2.0]


@respx.mock
def test_a_rejection_reports_the_servers_pointed_errors() -> None:
    respx.post(f"{URL}/auth/login").mock(return_value=LOGIN_OK)
    respx.post(f"{URL}/v1/data_sets/s1/data").mock(
        return_value=httpx.Response(
            400,
            json={
                "code": 400,
                "message": "1 of 1 datums are invalid",
                "errors": [
                    {
                        "code": "value-out-of-range",
                        "detail": "must be <= 1000",
                        "source": {"pointer": "/0/value"},
                    }
                ],
            },
        )
    )

    async def go(client: CloudClient) -> Any:
        await logged_in(client)
        return await client.upload_chunk("s1", [{"type": "smbg", "value": 5000}])

    with pytest.raises(
        UploadRejected, match=r"with 400: 1 of 1 datums are invalid \[/0/value: must be <= 1000\]"
    ):
        run(go)


@respx.mock
def test_counts_come_back_from_the_cloud_headers() -> None:
    respx.post(f"{URL}/auth/login").mock(return_value=LOGIN_OK)
    respx.post(f"{URL}/v1/data_sets/s1/data").mock(
        return_value=httpx.Response(
            200, json=[], headers={"X-Diahil-Created": "2", "X-Diahil-Duplicates": "1"}
        )
    )

    async def go(client: CloudClient) -> Any:
        await logged_in(client)
        return await client.upload_chunk("s1", [{}, {}, {}])

    result = run(go)
    assert (result.sent, result.created, result.duplicates) == (3, 2, 1)


def test_chunks_are_bounded() -> None:
    async def go(client: CloudClient) -> Any:
        return await client.upload_chunk("s1", [{}] * 1001)

    with pytest.raises(ValueError, match=r"1\.\.1000"):
        run(go)


def test_retry_policy_backoff_grows_and_respects_the_cap() -> None:
    policy = RetryPolicy(base_delay_s=1, max_delay_s=5)
    policy.rng.seed(1)
    assert all(0 <= policy.delay(1) <= 1 for _ in range(50))
    assert all(0 <= policy.delay(10) <= 5 for _ in range(50))
    assert policy.delay(1, retry_after="30") == 30  # the server's word, not the backoff cap
    assert policy.delay(1, retry_after="3") == 3


class FakeClock:
    """Monotonic seconds that move only when the client sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@respx.mock
def test_the_time_budget_gives_up_before_the_tries_run_out() -> None:
    respx.post(f"{URL}/auth/login").mock(return_value=LOGIN_OK)
    route = respx.put(f"{URL}/v1/data_sets/s1").mock(return_value=httpx.Response(503))
    clock = FakeClock()

    async def sleep(seconds: float) -> None:
        clock.now += seconds

    async def go() -> None:
        policy = RetryPolicy(attempts=100, base_delay_s=4, max_delay_s=4, budget_s=10, clock=clock)
        policy.rng.seed(3)
        async with CloudClient(URL, retry=policy, sleep=sleep) as client:
            await logged_in(client)
            await client.close_data_set("s1")

    with pytest.raises(
        CloudUnavailable,
        match=r"answered 503.*gave up after \d+ tries in [\d.]+ s "
        r"\(retry budget 10 s\)",
    ):
        asyncio.run(go())
    assert 2 <= route.call_count < 100
    assert clock.now <= 10


@respx.mock
def test_a_retry_after_beyond_the_budget_is_given_up_at_once() -> None:
    respx.post(f"{URL}/auth/login").mock(return_value=LOGIN_OK)
    route = respx.put(f"{URL}/v1/data_sets/s1").mock(
        return_value=httpx.Response(429, headers={"Retry-After": "600"})
    )
    sleeps = Sleeps()

    async def go(client: CloudClient) -> None:
        await logged_in(client)
        await client.close_data_set("s1")

    with pytest.raises(CloudUnavailable, match="asked to wait 600 s, more than the retry budget"):
        run(go, sleeps)
    assert route.call_count == 1 and sleeps.calls == []


@respx.mock
def test_a_device_linked_elsewhere_is_refused_by_the_check() -> None:
    respx.post(f"{URL}/auth/login").mock(return_value=LOGIN_OK)
    route = respx.get(f"{URL}/v1/users/u1/devices/check").mock(
        return_value=httpx.Response(
            409, json={"code": 409, "message": "device X serial 1 is linked"}
        )
    )

    async def go(client: CloudClient) -> None:
        await logged_in(client)
        assert await client.check_device("Acme", " ") is None  # no serial: nothing asked
        assert route.call_count == 0
        await client.check_device("Acme", "1")

    with pytest.raises(DeviceLinkedElsewhere, match="another account: device X serial 1") as err:
        run(go)
    assert err.value.kept == "Nothing was read from the device and nothing was uploaded."
    assert route.calls.last.request.url.params["serialNumber"] == "1"


@respx.mock
def test_device_check_answers_when_not_linked() -> None:
    respx.post(f"{URL}/auth/login").mock(return_value=LOGIN_OK)
    respx.get(f"{URL}/v1/users/u1/devices/check").mock(
        side_effect=[
            httpx.Response(200, json={"linked": "none"}),
            httpx.Response(404),  # a cloud without device links (the Tidepool API)
        ]
    )

    async def go(client: CloudClient) -> list[str | None]:
        await logged_in(client)
        return [await client.check_device("Acme", "1"), await client.check_device("Acme", "1")]

    assert run(go) == ["none", None]
