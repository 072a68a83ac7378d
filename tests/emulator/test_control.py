"""The control endpoint: display, identity, ledger, faults (and clear 400s on typos)."""

from __future__ import annotations

import asyncio
from datetime import datetime

import httpx
import pytest
from fastapi import FastAPI

from emulator.control import create_control_app
from emulator.devices.ble import build_cgm_sensor, build_gls_meter
from emulator.faults import DisconnectAfterRecord, FaultPlan, RejectPairing
from emulator.model.clock import DeviceClock

NOW = datetime(2026, 3, 10, 12, 0)


class Screen:
    """A device as the endpoint sees it, with a display the test controls."""

    def __init__(self) -> None:
        self.display: str | None = None
        self.faults = FaultPlan()

    def identity(self) -> dict[str, str]:
        return {"name": "screen"}

    def ledger_json(self) -> list[dict[str, object]]:
        return []


@pytest.fixture
def screen() -> Screen:
    return Screen()


class ControlClient:
    """Synchronous calls to a control app, in process (no server, no socket)."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app

    def _call(self, method: str, path: str, json: object = None) -> httpx.Response:
        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=self._app)
            async with httpx.AsyncClient(transport=transport, base_url="http://control") as http:
                return await http.request(method, path, json=json)

        return asyncio.run(call())

    def get(self, path: str) -> httpx.Response:
        return self._call("GET", path)

    def post(self, path: str, json: object) -> httpx.Response:
        return self._call("POST", path, json)

    def delete(self, path: str) -> httpx.Response:
        return self._call("DELETE", path)


@pytest.fixture
def client(screen: Screen) -> ControlClient:
    return ControlClient(create_control_app(screen, {"hci": "tcp-server:127.0.0.1:9"}))


def test_the_display(client: ControlClient, screen: Screen) -> None:
    assert client.get("/display").json() == {"passkey": None}
    screen.display = "004217"
    assert client.get("/display").json() == {"passkey": "004217"}


def test_identity_and_ledger_of_a_gls_meter() -> None:
    clock = DeviceClock(time_source=lambda: NOW)
    meter = build_gls_meter(seed=3, days=2, clock=clock, serial_number="GLS-9")
    client = ControlClient(create_control_app(meter, {"device": "gls-meter"}))
    identity = client.get("/identity").json()
    assert identity == {
        "name": "diahil GLS meter",
        "address": "F0:F0:F0:F0:F0:01",
        "manufacturer": "diahil",
        "model": "diahil GLS meter",
        "serial_number": "GLS-9",
        "firmware": "1.0.0",
        "device": "gls-meter",
    }
    records = client.get("/ledger").json()["records"]
    assert [r["sequence"] for r in records] == [n for n, _ in meter.records()]
    first_number, first = meter.records()[0]
    assert records[0] == {
        "sequence": first_number,
        "device_time": first.device_time.isoformat(),
        "value_mg_dl": first.value_mg_dl,
        "flags": sorted(flag.value for flag in first.flags),
    }


def test_ledger_of_a_cgm() -> None:
    sensor = build_cgm_sensor(seed=2, days=1, clock=DeviceClock(time_source=lambda: NOW))
    records = ControlClient(create_control_app(sensor)).get("/ledger").json()["records"]
    ledger = sensor.records()
    assert len(records) == len(ledger) > 200
    assert records[-1]["time_offset"] == ledger[-1].time_offset
    assert records[-1]["device_time"] == ledger[-1].device_time.isoformat()
    assert records[-1]["session_start"] == ledger[-1].session_start.isoformat()
    assert set(records[0]) == {
        "session_start",
        "time_zone_minutes",
        "time_offset",
        "device_time",
        "value_mg_dl",
        "trend",
        "quality",
        "status",
    }


def test_faults_are_added_listed_fired_and_cleared(client: ControlClient, screen: Screen) -> None:
    response = client.post("/faults", json={"fault": "disconnect-after-record", "record": 4})
    assert response.status_code == 201
    assert response.json()["added"] == {"fault": "disconnect-after-record", "record": 4, "times": 1}
    assert (
        client.post("/faults", json={"fault": "reject-pairing", "times": None}).status_code == 201
    )
    assert screen.faults.faults == [DisconnectAfterRecord(4), RejectPairing(times=None)]
    assert [f["fault"] for f in client.get("/faults").json()["faults"]] == [
        "disconnect-after-record",
        "reject-pairing",
    ]
    screen.faults.reject_pairing()
    assert client.get("/faults/fired").json() == {"fired": ["rejected a pairing request"]}
    assert client.delete("/faults").status_code == 204
    assert screen.faults.faults == []


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (
            {"fault": "disconect-after-record", "record": 1},
            "unknown fault 'disconect-after-record'",
        ),
        ({"record": 1}, "unknown fault None"),
        ({"fault": "disconnect-after-record", "recrod": 1}, "no parameter recrod"),
        ({"fault": "disconnect-after-record"}, "needs record"),
        ({"fault": "disconnect-after-record", "record": "3"}, "record='3'"),
        ({"fault": "disconnect-after-record", "record": 0}, "from 1"),
        ({"fault": "drop-indication", "which": "rapc"}, "racp, socp"),
        (["reject-pairing"], "JSON object"),
    ],
)
def test_a_typo_is_a_clear_400(
    client: ControlClient, screen: Screen, body: object, says: str
) -> None:
    response = client.post("/faults", json=body)
    assert response.status_code == 400
    assert says in response.json()["detail"]
    assert screen.faults.faults == []
