"""Exception handlers: every error leaves the app as ``{"code", "message"[, "errors"]}``.

Replaces FastAPI's default 422 validation responses with 400s, renders ``ApiError``, gives
unknown paths and methods JSON 404/405s, and turns anything unexpected into a JSON 500 (a
bug in the mock cloud, never the client's input).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from mock_cloud.errors import ApiError, error_body
from mock_cloud.problems import label, short_json

_log = logging.getLogger(__name__)

_PLACES = {"query": "query parameter", "path": "path parameter", "header": "header", "body": "body"}


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    error = exc if isinstance(exc, ApiError) else ApiError(500, str(exc))
    return JSONResponse(
        error_body(error.status, error.message, error.errors),
        status_code=error.status,
        headers=error.headers,
    )


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    details = exc.errors() if isinstance(exc, RequestValidationError) else []
    parts = []
    for detail in details:
        loc = list(detail.get("loc", ()))
        place = _PLACES.get(str(loc[0]), str(loc[0])) if loc else "request"
        name = label(loc[1:]) if len(loc) > 1 else ""
        got = f" (got {short_json(detail.get('input'))})" if "input" in detail else ""
        parts.append(f"{place} {name!r}: {detail.get('msg', 'invalid')}{got}")
    message = "invalid request: " + ("; ".join(parts) or "malformed request")
    return JSONResponse(error_body(400, message), status_code=400)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
    headers = exc.headers if isinstance(exc, StarletteHTTPException) else None
    if status == 404:
        message = f"no such endpoint: {request.method} {request.url.path}"
    elif status == 405:
        message = (
            f"method {request.method} is not allowed on {request.url.path}; check the method "
            "against the API reference"
        )
    else:
        detail = exc.detail if isinstance(exc, StarletteHTTPException) else ""
        message = str(detail) or "request failed"
    return JSONResponse(error_body(status, message), status_code=status, headers=headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    _log.exception("unexpected error in %s %s", request.method, request.url.path)
    return JSONResponse(
        error_body(
            500,
            f"internal error in the mock cloud ({type(exc).__name__}); this is a bug, "
            "please report it with the request that caused it",
        ),
        status_code=500,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
