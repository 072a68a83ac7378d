"""The mock cloud as the HIL suite runs it: in-process, or as a real server on a free port.

``InProcessCloud`` serves the app through ``httpx.ASGITransport``: no sockets, a fresh
in-memory database per instance, ideal for fast tests. ``CloudServer`` runs the same app
under uvicorn in a background thread, on 127.0.0.1 and a port the OS picks, for tests that
must cross a real network stack (and for the demo). ``CloudInspector`` is the test side's own
small HTTP reader of what the cloud holds: it shares nothing with the uploader's client, so
a bug there cannot hide in the check.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from mock_cloud import CloudSettings, create_app

IN_PROCESS_URL = "http://mock-cloud.invalid"


@dataclass(frozen=True)
class Account:
    email: str
    password: str
    user_id: str


class InProcessCloud:
    """The mock cloud app, reached through an ASGI transport (no network)."""

    base_url = IN_PROCESS_URL

    def __init__(self, db_url: str = "sqlite://", test_mode: bool = True) -> None:
        self.app = create_app(CloudSettings(db_url=db_url, test_mode=test_mode))

    def transport(self) -> httpx.AsyncBaseTransport:
        return httpx.ASGITransport(app=self.app)

    def create_account(self, email: str, password: str) -> Account:
        return Account(email, password, self.app.state.cloud.create_user(email, password))

    def close(self) -> None:
        self.app.state.cloud.close()


class CloudServer:
    """The mock cloud under uvicorn, in a thread, on a free local port."""

    def __init__(
        self, db_url: str, host: str = "127.0.0.1", port: int = 0, test_mode: bool = False
    ) -> None:
        """``test_mode`` mounts the cloud's fault-injection admin API (``/admin/...``)."""
        self.app = create_app(CloudSettings(db_url=db_url, test_mode=test_mode))
        config = uvicorn.Config(self.app, host=host, port=port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="mock-cloud", daemon=True)
        self.host = host
        self.port = port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_s: float = 10.0) -> CloudServer:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the mock cloud did not start on {self.host}:{self.port}")
            time.sleep(0.01)
        sockets = [s for server in self._server.servers for s in server.sockets]
        self.port = sockets[0].getsockname()[1]
        return self

    def create_account(self, email: str, password: str) -> Account:
        return Account(email, password, self.app.state.cloud.create_user(email, password))

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self.app.state.cloud.close()

    def __enter__(self) -> CloudServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class CloudInspector:
    """Looks at (and, to stage a scenario, deletes) what the cloud holds for an account, over
    HTTP as any client would, with its own small client: it shares nothing with the
    uploader's, so a bug there cannot hide in a check."""

    def __init__(self, base_url: str, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.base_url = base_url
        self._transport = transport

    async def _call(
        self, account: Account, method: str, path: str, params: dict[str, str] | None = None
    ) -> Any:
        async with httpx.AsyncClient(base_url=self.base_url, transport=self._transport) as http:
            login = await http.post("/auth/login", auth=(account.email, account.password))
            login.raise_for_status()
            headers = {"X-Tidepool-Session-Token": login.headers["X-Tidepool-Session-Token"]}
            response = await http.request(method, path, params=params, headers=headers)
            response.raise_for_status()
            return response.json()

    def data(self, account: Account, **params: str) -> list[dict[str, Any]]:
        """``GET /data/{userId}`` with ``params`` (type, deviceId, startDate...)."""
        result = asyncio.run(self._call(account, "GET", f"/data/{account.user_id}", params))
        return list(result)

    def data_sets(self, account: Account) -> list[dict[str, Any]]:
        path = f"/v1/users/{account.user_id}/data_sets"
        result = asyncio.run(self._call(account, "GET", path))
        return list(result["data"] if isinstance(result, dict) else result)

    def devices(self, account: Account) -> list[dict[str, Any]]:
        """The devices linked to the account (``GET /v1/users/{userId}/devices``)."""
        result = asyncio.run(self._call(account, "GET", f"/v1/users/{account.user_id}/devices"))
        return list(result["data"])

    def unlink_device(self, account: Account, link_id: str) -> None:
        """The owner unlinks a device, so that it may upload into another account."""
        path = f"/v1/users/{account.user_id}/devices/{link_id}"
        asyncio.run(self._call(account, "DELETE", path))

    def delete_data_set(self, account: Account, data_set_id: str) -> None:
        """Remove a data set and its data, as a user or support might."""
        asyncio.run(self._call(account, "DELETE", f"/v1/data_sets/{data_set_id}"))
