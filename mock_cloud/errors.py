"""The error vocabulary of the mock cloud.

Every error response is JSON ``{"code": <http status>, "message": "..."}`` (the shape of
reference/common/models/error.v1.yaml), plus ``errors`` (problem entries shaped after
error.v2.yaml with a JSON pointer ``source``) when a request body has field-level problems.
Code anywhere in the request path raises ``ApiError``; ``handlers`` renders it.
"""

from __future__ import annotations

from typing import Any, TypedDict


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
