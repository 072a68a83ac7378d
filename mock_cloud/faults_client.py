"""A typed client for the fault admin API of a test-mode mock cloud, over HTTP only.

For tests and ``diahil reproduce``: ``FaultsClient`` (synchronous, for a cloud under
uvicorn) and ``AsyncFaultsClient`` (for httpx's ASGI transport, in process) offer the same
calls. Faults are ``FaultSpec`` values; the helpers ``latency``, ``error``, ``rate_limit``,
``drop_after_store``, ``slow_body``, ``hold`` and ``expire_session`` build them with the
matching options (``method``, ``path`` glob, ``nth``, ``times``, ``rate``, ``seed``; see
``mock_cloud.faults.spec``)::

    with FaultsClient("http://127.0.0.1:8009") as faults:
        faults.add(error(503, path="/v1/data*sets/*/data", nth=2))
        ...
        assert [r.status for r in faults.requests()][-3:] == [200, 503, 200]

Any non-2xx answer raises ``FaultApiError`` with the server's message (a 404 on every call
means the cloud is not in test mode).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, TypedDict, Unpack

import httpx

from mock_cloud.faults.spec import FaultKind, FaultSpec, HttpMethod

__all__ = [
    "AsyncFaultsClient",
    "FaultApiError",
    "FaultSpec",
    "FaultsClient",
    "LoggedRequest",
    "Match",
    "drop_after_store",
    "error",
    "expire_session",
    "hold",
    "latency",
    "rate_limit",
    "slow_body",
]


class FaultApiError(RuntimeError):
    """The admin API refused a call (or is not there: the cloud is not in test mode)."""


@dataclass(frozen=True)
class LoggedRequest:
    """One request from the cloud's request log (no bodies, headers or tokens)."""

    sequence: int
    time: str
    method: str
    path: str
    status: int | None
    duration_ms: float
    faults: tuple[str, ...]

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> LoggedRequest:
        """From the admin API's JSON."""
        return cls(
            sequence=int(entry["sequence"]),
            time=str(entry["time"]),
            method=str(entry["method"]),
            path=str(entry["path"]),
            status=entry["status"],
            duration_ms=float(entry["durationMs"]),
            faults=tuple(entry["faults"]),
        )


class Match(TypedDict, total=False):
    """Which requests a fault may hit (see ``mock_cloud.faults.spec``); None leaves one unset."""

    method: HttpMethod | None
    path: str | None
    nth: int | None
    times: int | None
    rate: float | None
    seed: int


def _spec(kind: FaultKind, match: Match, **parameters: Any) -> FaultSpec:
    given = {**parameters, **match}
    return FaultSpec(kind=kind, **{key: value for key, value in given.items() if value is not None})


def latency(delay_ms: int, **match: Unpack[Match]) -> FaultSpec:
    """Wait ``delay_ms`` before handling matching requests."""
    return _spec("latency", match, delayMs=delay_ms)


def error(status: Literal[500, 502, 503, 504] = 500, **match: Unpack[Match]) -> FaultSpec:
    """Answer ``status`` instead of handling matching requests."""
    return _spec("error", match, status=status)


def rate_limit(retry_after_s: int = 1, **match: Unpack[Match]) -> FaultSpec:
    """Answer 429 with ``Retry-After: retry_after_s`` instead of handling matching requests."""
    return _spec("rate_limit", match, retryAfter=retry_after_s)


def drop_after_store(**match: Unpack[Match]) -> FaultSpec:
    """Handle matching requests (data is stored), then drop the connection unanswered."""
    return _spec("drop_after_store", match)


def slow_body(delay_ms: int, chunk_bytes: int = 64, **match: Unpack[Match]) -> FaultSpec:
    """Send the answers to matching requests ``chunk_bytes`` at a time, ``delay_ms`` apart."""
    return _spec("slow_body", match, delayMs=delay_ms, chunkBytes=chunk_bytes)


def hold(
    *, after_handling: bool = False, max_ms: int | None = None, **match: Unpack[Match]
) -> FaultSpec:
    """Hold matching requests (or, ``after_handling``, their answers) until the fault is
    removed or ``max_ms`` passes (default 60 s); ``FaultsClient.wait_until_held`` sees them."""
    return _spec("hold", match, delayMs=max_ms, afterHandling=after_handling or None)


def expire_session(**match: Unpack[Match]) -> FaultSpec:
    """Expire every session token just before matching requests are handled (they get 401)."""
    return _spec("expire_session", match)


def _checked(response: httpx.Response) -> Any:
    if response.status_code >= 300:
        try:
            message = response.json().get("message", response.text)
        except ValueError:
            message = response.text
        raise FaultApiError(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code}: {message}"
        )
    return response.json()


def _spec_json(spec: FaultSpec) -> dict[str, Any]:
    return spec.model_dump(exclude_none=True)


class FaultsClient:
    """The admin API of a test-mode cloud, synchronously."""

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self._http = httpx.Client(base_url=base_url, transport=transport, timeout=timeout_s)

    def add(self, spec: FaultSpec) -> str:
        """Put a fault in force; returns its id."""
        return str(_checked(self._http.post("/admin/faults", json=_spec_json(spec)))["id"])

    def faults(self) -> list[dict[str, Any]]:
        """The faults in force, with their ``matched`` and ``hits`` counters."""
        return list(_checked(self._http.get("/admin/faults"))["data"])

    def remove(self, fault_id: str) -> None:
        """Remove one fault (requests it holds go on)."""
        _checked(self._http.delete(f"/admin/faults/{fault_id}"))

    def wait_until_held(self, fault_id: str, timeout_s: float = 30.0) -> None:
        """Wait until a ``hold`` fault holds a request (with ``afterHandling``: an answer, the
        request handled and its data stored); ``FaultApiError`` if not within ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            listed = {f["id"]: f for f in self.faults()}
            if fault_id not in listed:
                raise FaultApiError(f"fault {fault_id} is not in force")
            if int(listed[fault_id]["held"]) >= 1:
                return
            time.sleep(0.01)
        raise FaultApiError(f"fault {fault_id} held no request within {timeout_s} s")

    def clear(self) -> None:
        """Remove every fault."""
        _checked(self._http.delete("/admin/faults"))

    def expire_tokens(self) -> int:
        """Expire every session token now; returns how many there were."""
        return int(_checked(self._http.post("/admin/tokens/expire"))["expired"])

    def requests(self) -> list[LoggedRequest]:
        """The request log, oldest first."""
        entries = _checked(self._http.get("/admin/requests"))["data"]
        return [LoggedRequest.from_json(entry) for entry in entries]

    def clear_requests(self) -> None:
        """Empty the request log."""
        _checked(self._http.delete("/admin/requests"))

    def reset(self) -> None:
        """No faults, empty request log."""
        _checked(self._http.post("/admin/reset"))

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> FaultsClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncFaultsClient:
    """The admin API of a test-mode cloud, for asyncio code and ASGI transports."""

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self._http = httpx.AsyncClient(base_url=base_url, transport=transport, timeout=timeout_s)

    async def add(self, spec: FaultSpec) -> str:
        """Put a fault in force; returns its id."""
        response = await self._http.post("/admin/faults", json=_spec_json(spec))
        return str(_checked(response)["id"])

    async def faults(self) -> list[dict[str, Any]]:
        """The faults in force, with their counters."""
        return list(_checked(await self._http.get("/admin/faults"))["data"])

    async def remove(self, fault_id: str) -> None:
        """Remove one fault."""
        _checked(await self._http.delete(f"/admin/faults/{fault_id}"))

    async def clear(self) -> None:
        """Remove every fault."""
        _checked(await self._http.delete("/admin/faults"))

    async def expire_tokens(self) -> int:
        """Expire every session token now."""
        return int(_checked(await self._http.post("/admin/tokens/expire"))["expired"])

    async def requests(self) -> list[LoggedRequest]:
        """The request log, oldest first."""
        entries = _checked(await self._http.get("/admin/requests"))["data"]
        return [LoggedRequest.from_json(entry) for entry in entries]

    async def clear_requests(self) -> None:
        """Empty the request log."""
        _checked(await self._http.delete("/admin/requests"))

    async def reset(self) -> None:
        """No faults, empty request log."""
        _checked(await self._http.post("/admin/reset"))

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncFaultsClient:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
