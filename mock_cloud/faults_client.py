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
from typing import Any, Literal

import httpx

from mock_cloud.faults.spec import FaultSpec, HttpMethod

__all__ = [
    "AsyncFaultsClient",
    "FaultApiError",
    "FaultSpec",
    "FaultsClient",
    "LoggedRequest",
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


def _match(
    method: HttpMethod | None,
    path: str | None,
    nth: int | None,
    times: int | None,
    rate: float | None,
    seed: int,
) -> dict[str, Any]:
    given = {"method": method, "path": path, "nth": nth, "times": times, "rate": rate}
    return {**{key: value for key, value in given.items() if value is not None}, "seed": seed}


def latency(
    delay_ms: int,
    *,
    method: HttpMethod | None = None,
    path: str | None = None,
    nth: int | None = None,
    times: int | None = None,
    rate: float | None = None,
    seed: int = 0,
) -> FaultSpec:
    """Wait ``delay_ms`` before handling matching requests."""
    return FaultSpec(
        kind="latency", delayMs=delay_ms, **_match(method, path, nth, times, rate, seed)
    )


def error(
    status: Literal[500, 502, 503, 504] = 500,
    *,
    method: HttpMethod | None = None,
    path: str | None = None,
    nth: int | None = None,
    times: int | None = None,
    rate: float | None = None,
    seed: int = 0,
) -> FaultSpec:
    """Answer ``status`` instead of handling matching requests."""
    return FaultSpec(kind="error", status=status, **_match(method, path, nth, times, rate, seed))


def rate_limit(
    retry_after_s: int = 1,
    *,
    method: HttpMethod | None = None,
    path: str | None = None,
    nth: int | None = None,
    times: int | None = None,
    rate: float | None = None,
    seed: int = 0,
) -> FaultSpec:
    """Answer 429 with ``Retry-After: retry_after_s`` instead of handling matching requests."""
    return FaultSpec(
        kind="rate_limit", retryAfter=retry_after_s, **_match(method, path, nth, times, rate, seed)
    )


def drop_after_store(
    *,
    method: HttpMethod | None = None,
    path: str | None = None,
    nth: int | None = None,
    times: int | None = None,
    rate: float | None = None,
    seed: int = 0,
) -> FaultSpec:
    """Handle matching requests (data is stored), then drop the connection unanswered."""
    return FaultSpec(kind="drop_after_store", **_match(method, path, nth, times, rate, seed))


def slow_body(
    delay_ms: int,
    chunk_bytes: int = 64,
    *,
    method: HttpMethod | None = None,
    path: str | None = None,
    nth: int | None = None,
    times: int | None = None,
    rate: float | None = None,
    seed: int = 0,
) -> FaultSpec:
    """Send the answers to matching requests ``chunk_bytes`` at a time, ``delay_ms`` apart."""
    return FaultSpec(
        kind="slow_body",
        delayMs=delay_ms,
        chunkBytes=chunk_bytes,
        **_match(method, path, nth, times, rate, seed),
    )


def hold(
    *,
    after_handling: bool = False,
    max_ms: int | None = None,
    method: HttpMethod | None = None,
    path: str | None = None,
    nth: int | None = None,
    times: int | None = None,
    rate: float | None = None,
    seed: int = 0,
) -> FaultSpec:
    """Hold matching requests (or, ``after_handling``, their answers) until the fault is
    removed or ``max_ms`` passes (default 60 s); ``FaultsClient.wait_until_held`` sees them."""
    options: dict[str, Any] = {"delayMs": max_ms} if max_ms is not None else {}
    if after_handling:
        options["afterHandling"] = True
    return FaultSpec(kind="hold", **options, **_match(method, path, nth, times, rate, seed))


def expire_session(
    *,
    method: HttpMethod | None = None,
    path: str | None = None,
    nth: int | None = None,
    times: int | None = None,
    rate: float | None = None,
    seed: int = 0,
) -> FaultSpec:
    """Expire every session token just before matching requests are handled (they get 401)."""
    return FaultSpec(kind="expire_session", **_match(method, path, nth, times, rate, seed))


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

    def wait_for_hit(self, fault_id: str, hits: int = 1, timeout_s: float = 30.0) -> None:
        """Wait until the fault has hit ``hits`` requests (counted on arrival);
        ``FaultApiError`` if it has not within ``timeout_s``."""
        self._wait_for(fault_id, "hits", hits, timeout_s)

    def wait_until_held(self, fault_id: str, timeout_s: float = 30.0) -> None:
        """Wait until a ``hold`` fault holds a request (with ``afterHandling``: an answer, the
        request handled and its data stored); ``FaultApiError`` if not within ``timeout_s``."""
        self._wait_for(fault_id, "held", 1, timeout_s)

    def _wait_for(self, fault_id: str, counter: str, at_least: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            listed = {f["id"]: f for f in self.faults()}
            if fault_id not in listed:
                raise FaultApiError(f"fault {fault_id} is not in force")
            if int(listed[fault_id][counter]) >= at_least:
                return
            time.sleep(0.01)
        raise FaultApiError(
            f"fault {fault_id}: {counter} stayed under {at_least} for {timeout_s} s"
        )

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
