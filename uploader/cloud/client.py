"""Client for the Tidepool-compatible API (../shared/specs/tidepool-api/reference).

Endpoints used: ``POST /auth/login`` (HTTP Basic; the session token comes back in
``X-Tidepool-Session-Token``), ``POST /v1/users/{userId}/data_sets`` (open a data set),
``POST /v1/data_sets/{id}/data`` (at most 1000 datums per request),
``PUT /v1/data_sets/{id}`` (close it) and ``GET /data/{userId}`` (read back).

Failures are handled once, here: connection errors, timeouts and 5xx answers are retried
with backoff (sending a chunk again is safe: the cloud deduplicates by identity); 429 waits
for ``Retry-After``; a 401 on a logged-in session logs in again once (tokens expire); other
4xx answers are rejections with the server's message. A request is given up after the
policy's tries or its time budget, whichever comes first (``RetryPolicy``). Every failure
becomes a ``CloudError`` subclass with a message a person can act on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from uploader.cloud.retry import RetryPolicy, parse_retry_after
from uploader.datamodel import UploadRecord, format_utc
from uploader.errors import (
    AuthenticationFailed,
    CloudUnavailable,
    DeviceLinkedElsewhere,
    UploadRejected,
)

SESSION_HEADER = "X-Tidepool-Session-Token"
MAX_CHUNK = 1000

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class CloudUser:
    user_id: str
    email: str


@dataclass(frozen=True)
class ChunkResult:
    sent: int
    created: int | None
    duplicates: int | None


def _server_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict):
        message = str(body.get("message") or body.get("reason") or body)
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            details = []
            for error in errors[:5]:
                if isinstance(error, dict):
                    pointer = (error.get("source") or {}).get("pointer", "")
                    details.append(f"{pointer}: {error.get('detail') or error.get('title')}")
            more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
            message += " [" + "; ".join(details) + more + "]"
        return message
    return str(body)[:200]


def _over_budget(
    base_url: str,
    problem: str,
    attempt: int,
    elapsed: float,
    wait: float,
    budget: float,
    asked: bool,
) -> str:
    tries = f"{attempt} {'try' if attempt == 1 else 'tries'} in {elapsed:.1f} s"
    if asked:
        return (
            f"The cloud at {base_url} {problem} and asked to wait {wait:.0f} s, more than the "
            f"retry budget of {budget:g} s allows (after {tries})."
        )
    return f"The cloud at {base_url} {problem}; gave up after {tries} (retry budget {budget:g} s)."


class CloudClient:
    """One user's session with one cloud."""

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.base_url, transport=transport, timeout=timeout_s
        )
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._credentials: tuple[str, str] | None = None
        self._token: str | None = None
        self.user: CloudUser | None = None

    @property
    def session_token(self) -> str | None:
        """The current session token (a secret: for redaction, never for printing)."""
        return self._token

    async def __aenter__(self) -> CloudClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # ---- the transport with retries --------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        authenticated: bool = True,
        accept: frozenset[int] = frozenset(),
        **kwargs: Any,
    ) -> httpx.Response:
        """The answer to one request, retried as the policy says; ``accept``: error statuses
        the caller handles itself (returned, not raised)."""
        relogged = False
        attempt = 0
        started = self.retry.clock()
        extra_headers = dict(kwargs.pop("headers", None) or {})
        while True:
            attempt += 1
            headers = dict(extra_headers)
            if authenticated and self._token:
                headers[SESSION_HEADER] = self._token
            try:
                response = await self._http.request(method, path, headers=headers, **kwargs)
            except httpx.TimeoutException as exc:
                problem = f"timed out ({type(exc).__name__})"
                response = None
            except httpx.TransportError as exc:
                problem = f"could not be reached ({exc or type(exc).__name__})"
                response = None
            if response is not None:
                status = response.status_code
                if status < 400 or status in accept:
                    return response
                if status == 401 and authenticated and self._credentials and not relogged:
                    relogged = True
                    await self.login(*self._credentials)
                    attempt -= 1
                    continue
                if status == 401:
                    what = (
                        "the email or password"
                        if not authenticated
                        else "the session, even after logging in again"
                    )
                    raise AuthenticationFailed(
                        f"The cloud did not accept {what}: {_server_message(response)}."
                    )
                if status == 423 and not authenticated:  # too many wrong passwords
                    raise AuthenticationFailed(
                        f"The cloud locked the account: {_server_message(response)}."
                    )
                if status not in (429, 500, 502, 503, 504):
                    reason = _server_message(response)
                    raise UploadRejected(
                        f"The cloud rejected {method} {path} with {status}: {reason}."
                    )
                problem = f"answered {status} ({_server_message(response)})"
            if attempt >= self.retry.attempts:
                raise CloudUnavailable(
                    f"The cloud at {self.base_url} {problem}, {attempt} times in a row."
                )
            retry_after = response.headers.get("Retry-After") if response is not None else None
            wait = self.retry.delay(attempt, retry_after)
            elapsed = self.retry.clock() - started
            if not self.retry.within_budget(elapsed, wait):
                raise CloudUnavailable(
                    _over_budget(
                        self.base_url,
                        problem,
                        attempt,
                        elapsed,
                        wait,
                        self.retry.budget_s,
                        parse_retry_after(retry_after) is not None,
                    )
                )
            await self._sleep(wait)

    # ---- the API ---------------------------------------------------------------------------

    async def login(self, email: str, password: str) -> CloudUser:
        self._credentials = (email, password)
        self._token = None
        response = await self._request(
            "POST", "/auth/login", authenticated=False, auth=(email, password)
        )
        token = response.headers.get(SESSION_HEADER)
        body = response.json()
        if not token or not isinstance(body, dict) or "userid" not in body:
            raise UploadRejected("The cloud's login answer has no session token or user id.")
        self._token = token
        self.user = CloudUser(user_id=str(body["userid"]), email=email)
        return self.user

    def _user_id(self) -> str:
        if self.user is None:
            raise AuthenticationFailed("Not logged in to the cloud.")
        return self.user.user_id

    async def create_data_set(self, upload: UploadRecord) -> str:
        response = await self._request(
            "POST", f"/v1/users/{self._user_id()}/data_sets", json=upload.to_json()
        )
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("data"), dict):
            body = body["data"]  # the platform wraps; the spec does not
        data_set_id = body.get("uploadId") or body.get("id") if isinstance(body, dict) else None
        if not data_set_id:
            raise UploadRejected("The cloud opened a data set but returned no id for it.")
        return str(data_set_id)

    async def upload_chunk(self, data_set_id: str, datums: Sequence[dict[str, Any]]) -> ChunkResult:
        if not 0 < len(datums) <= MAX_CHUNK:
            raise ValueError(f"a chunk holds 1..{MAX_CHUNK} datums, not {len(datums)}")
        response = await self._request(
            "POST", f"/v1/data_sets/{data_set_id}/data", json=list(datums)
        )

        def count(header: str) -> int | None:
            value = response.headers.get(header)
            return int(value) if value and value.isdigit() else None

        return ChunkResult(len(datums), count("X-Diahil-Created"), count("X-Diahil-Duplicates"))

    async def close_data_set(self, data_set_id: str) -> None:
        await self._request("PUT", f"/v1/data_sets/{data_set_id}", json={"state": "closed"})

    async def check_device(self, manufacturer: str, serial_number: str) -> str | None:
        """Whether this device's data may go to this account, before anything is read:
        ``this-account`` or ``none`` (not linked yet); None when the cloud keeps no device
        links, or for a device without a serial number (nothing to link it by);
        ``DeviceLinkedElsewhere`` when it belongs to another account."""
        if not (manufacturer.strip() and serial_number.strip()):
            return None
        response = await self._request(
            "GET",
            f"/v1/users/{self._user_id()}/devices/check",
            params={"manufacturer": manufacturer, "serialNumber": serial_number},
            accept=frozenset({404, 405, 409}),
        )
        if response.status_code == 409:
            raise DeviceLinkedElsewhere(
                f"The cloud ties this device to another account: {_server_message(response)}.",
                kept="Nothing was read from the device and nothing was uploaded.",
            )
        if response.status_code >= 400:
            return None  # a cloud without device links (the Tidepool API has none)
        body = response.json()
        return str(body.get("linked")) if isinstance(body, dict) else None

    async def read_data(
        self,
        *,
        device_id: str | None = None,
        types: Sequence[str] = (),
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[dict[str, Any]]:
        params: dict[str, str] = {}
        if device_id:
            params["deviceId"] = device_id
        if types:
            params["type"] = ",".join(types)
        if start:
            params["startDate"] = format_utc(start)
        if end:
            params["endDate"] = format_utc(end)
        response = await self._request("GET", f"/data/{self._user_id()}", params=params)
        body = response.json()
        if not isinstance(body, list):
            raise UploadRejected("The cloud's data answer is not a list of datums.")
        return [d for d in body if isinstance(d, dict)]
