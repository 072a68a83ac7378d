"""The error vocabulary of the mock cloud.

Every error response is JSON ``{"code": <http status>, "message": "..."}`` (the shape of
reference/common/models/error.v1.yaml), plus ``errors`` (problem entries shaped after
error.v2.yaml with a JSON pointer ``source``) when a request body has field-level problems.
Code anywhere in the request path raises ``ApiError``; ``handlers`` renders it (middleware
that answers before the app runs sends the same body with ``send_error``).
"""

from __future__ import annotations

import json
from typing import Any, TypedDict

from starlette.types import Send


class ProblemSource(TypedDict):
    """Where a problem is: a JSON pointer (RFC 6901) into the request body."""

    pointer: str


class Problem(TypedDict):
    """One field-level problem in a request body."""

    code: str
    title: str
    detail: str
    source: ProblemSource


class ApiError(Exception):
    """An error answered to the client with ``status`` and an actionable ``message``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        errors: list[Problem] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.headers = headers


def error_body(status: int, message: str, errors: list[Problem] | None = None) -> dict[str, Any]:
    """The JSON body of an error response."""
    body: dict[str, Any] = {"code": status, "message": message}
    if errors is not None:
        body["errors"] = errors
    return body


def bad_request(message: str, errors: list[Problem] | None = None) -> ApiError:
    """A 400 error."""
    return ApiError(400, message, errors=errors)


async def send_error(
    send: Send, status: int, message: str, headers: dict[str, str] | None = None
) -> None:
    """Answer an error response straight through ASGI ``send`` (for middleware)."""
    body = json.dumps(error_body(status, message)).encode()
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((name.lower().encode(), value.encode()) for name, value in (headers or {}).items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})
