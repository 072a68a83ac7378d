"""Helpers for the mock cloud tests: a small sync client, accounts, and datum builders.

Requests go through httpx's ASGI transport (no sockets); the client runs them on its own
event loop so tests read top to bottom. (A uniquely named module rather than conftest, so
that importing it never picks up another package's conftest.)
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
from fastapi import FastAPI

T = TypeVar("T")

TOKEN_HEADER = "X-Tidepool-Session-Token"
PASSWORD = "correct-horse-battery"
DEVICE_ID = "AscensiaContour-7390012"


class Api:
    """A synchronous facade over ``httpx.AsyncClient`` bound to the app."""

    def __init__(self, app: FastAPI) -> None:
        self._runner = asyncio.Runner()
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://cloud.test"
        )

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine (e.g. several concurrent requests) on the client's loop."""
        return self._runner.run(coroutine)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request."""
        return self.run(self.client.request(method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    def close(self) -> None:
        self.run(self.client.aclose())
        self._runner.close()


@dataclass(frozen=True)
class Account:
    """A user with a live session."""

    userid: str
    email: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {TOKEN_HEADER: self.token}


def basic(email: str, password: str) -> dict[str, str]:
    """An HTTP Basic Authorization header."""
    encoded = base64.b64encode(f"{email}:{password}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


class FakeClock:
    """A clock tests can move."""

    def __init__(self) -> None:
        self.now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def data_set_body(**overrides: Any) -> dict[str, Any]:
    """A valid new-data-set body (newdataset.v1.yaml) for a meter."""
    body: dict[str, Any] = {
        "client": {"name": "org.diahil.uploader", "version": "0.1.0"},
        "dataSetType": "normal",
        "deduplicator": {"name": "org.tidepool.deduplicator.device.deactivate.hash"},
        "deviceId": DEVICE_ID,
        "deviceManufacturers": ["Ascensia"],
        "deviceModel": "Contour Next One",
        "deviceSerialNumber": "7390012",
        "deviceTags": ["bgm"],
        "time": "2024-05-01T12:00:00Z",
        "timeProcessing": "across-the-board-timezone",
        "timezone": "Europe/Berlin",
        "timezoneOffset": 120,
    }
    body.update(overrides)
    return body


def smbg(value: float = 120, time: str = "2024-05-01T08:00:00Z", **extra: Any) -> dict[str, Any]:
    """A valid smbg datum."""
    datum: dict[str, Any] = {
        "type": "smbg",
        "units": "mg/dL",
        "value": value,
        "time": time,
        "deviceId": DEVICE_ID,
        "deviceTime": "2024-05-01T10:00:00",
        "timezoneOffset": 120,
    }
    datum.update(extra)
    return datum


PUMP_ID = "InsuletDash-PMP1"


def cbg(value: float = 120, time: str = "2024-05-01T08:00:00Z", **extra: Any) -> dict[str, Any]:
    """A valid cbg datum."""
    datum: dict[str, Any] = {
        "type": "cbg",
        "units": "mg/dL",
        "value": value,
        "time": time,
        "deviceId": "DexG6-SN1",
        "timezoneOffset": 120,
    }
    datum.update(extra)
    return datum


def bolus(
    normal: float | None = 2.5, time: str = "2024-05-01T08:00:00Z", **extra: Any
) -> dict[str, Any]:
    """A valid normal bolus (``None`` leaves a field out)."""
    datum: dict[str, Any] = {
        "type": "bolus",
        "subType": "normal",
        "normal": normal,
        "time": time,
        "deviceId": PUMP_ID,
        "timezoneOffset": 120,
    }
    datum.update(extra)
    return {key: value for key, value in datum.items() if value is not None}


def basal(
    rate: float | None = 0.8,
    time: str = "2024-05-01T00:00:00Z",
    duration: int = 3_600_000,
    **extra: Any,
) -> dict[str, Any]:
    """A valid scheduled basal (``None`` leaves a field out)."""
    datum: dict[str, Any] = {
        "type": "basal",
        "deliveryType": "scheduled",
        "rate": rate,
        "duration": duration,
        "time": time,
        "deviceId": PUMP_ID,
        "timezoneOffset": 120,
    }
    datum.update(extra)
    return {key: value for key, value in datum.items() if value is not None}


@dataclass(frozen=True)
class Helpers:
    """Builders and shortcuts shared by the test modules."""

    api: Api
    data_set_body = staticmethod(data_set_body)
    smbg = staticmethod(smbg)
    cbg = staticmethod(cbg)
    bolus = staticmethod(bolus)
    basal = staticmethod(basal)

    def open_data_set(self, account: Account, **overrides: Any) -> str:
        response = self.api.post(
            f"/v1/users/{account.userid}/data_sets",
            json=data_set_body(**overrides),
            headers=account.headers,
        )
        assert response.status_code == 200, response.text
        data_set_id: str = response.json()["id"]
        return data_set_id

    def upload(self, account: Account, data_set_id: str, datums: Any) -> httpx.Response:
        return self.api.post(
            f"/v1/datasets/{data_set_id}/data", json=datums, headers=account.headers
        )

    def close(self, account: Account, data_set_id: str) -> None:
        """Close the data set (its data becomes visible)."""
        response = self.api.put(
            f"/v1/datasets/{data_set_id}", json={"state": "closed"}, headers=account.headers
        )
        assert response.status_code == 200, response.text

    def store(self, account: Account, datums: Any, **overrides: Any) -> str:
        """Open a data set, upload ``datums`` (asserting success), close it; its id."""
        data_set_id = self.open_data_set(account, **overrides)
        response = self.upload(account, data_set_id, datums)
        assert response.status_code == 200, response.text
        self.close(account, data_set_id)
        return data_set_id

    def read(self, account: Account, **params: str) -> list[dict[str, Any]]:
        response = self.api.get(f"/data/{account.userid}", params=params, headers=account.headers)
        assert response.status_code == 200, response.text
        documents: list[dict[str, Any]] = response.json()
        return documents

    def read_data(self, account: Account, **params: str) -> list[dict[str, Any]]:
        """GET /data without the upload records."""
        return [d for d in self.read(account, **params) if d["type"] != "upload"]
