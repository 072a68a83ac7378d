"""The cloud a scenario uploads to on a bench: rig.toml's ``[cloud]``, or a fresh mock cloud.

Without ``[cloud]`` a scenario on a bench uploads to a fresh in-process mock cloud in test
mode (as the plugin's ``hil_uploader`` does on a bench), so its faults are always available.
With ``[cloud]`` it uploads there: the scenario's accounts are signed up over the cloud's
own API (``POST /auth/user``, fresh addresses each time) and its cloud faults go through
the fault admin API (``mock_cloud.faults_client``), which only a mock cloud in test mode
has; ``fault_api_missing`` says why a cloud has none.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx

from hil.bench_devices import BenchRig
from hil.cloud import Account, InProcessCloud
from hil.rig.config import load_rig


class BenchCloud:
    """A cloud a scenario can create accounts on and, in test mode, break."""

    def __init__(self, url: str | None = None) -> None:
        self._local = InProcessCloud() if url is None else None
        self.base_url = url.rstrip("/") if url is not None else InProcessCloud.base_url

    def transport(self) -> httpx.AsyncBaseTransport | None:
        """The ASGI transport of an in-process cloud; None: the network."""
        return self._local.transport() if self._local is not None else None

    @property
    def transport_factory(self) -> Callable[[], httpx.AsyncBaseTransport] | None:
        """What the uploader's cloud client connects through: None, the network."""
        return self._local.transport if self._local is not None else None

    def create_account(self, name: str, password: str) -> Account:
        email = f"{name}-{uuid.uuid4().hex[:10]}@scenario.invalid"
        if self._local is not None:
            return self._local.create_account(email, password)
        body = {"username": email, "emails": [email], "password": password}
        response = httpx.post(f"{self.base_url}/auth/user", json=body, timeout=10)
        if response.status_code != 201:
            raise RuntimeError(
                f"the rig's cloud {self.base_url} refused a scenario account "
                f"(HTTP {response.status_code}: {response.text[:200]}); scenarios need a "
                "cloud that lets them sign up accounts"
            )
        return Account(email, password, str(response.json()["userid"]))

    def fault_api_missing(self) -> str | None:
        """None when the cloud has the fault API; else why not."""
        if self._local is not None:
            return None
        try:
            response = httpx.get(f"{self.base_url}/admin/faults", timeout=5)
        except httpx.HTTPError as error:
            return f"the rig's cloud {self.base_url} did not answer ({error})"
        if response.status_code != 200:
            return (
                f"the rig's cloud {self.base_url} has none (GET /admin/faults answered "
                f"{response.status_code}): only a mock cloud in test mode has one"
            )
        return None

    def close(self) -> None:
        if self._local is not None:
            self._local.close()


def bench_cloud(rig: BenchRig) -> BenchCloud:
    """The cloud scenarios on ``rig`` upload to: its ``[cloud]``, else a fresh mock cloud."""
    config = load_rig(rig.path).cloud
    return BenchCloud(config.url if config is not None else None)
