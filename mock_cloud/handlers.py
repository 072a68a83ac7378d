"""Exception handlers: every error leaves the app as ``{"code", "message"[, "errors"]}``.

Replaces FastAPI's default 422 validation responses with 400s, renders ``ApiError``, gives
unknown paths and methods JSON 404/405s, and turns anything unexpected into a JSON 500 (a
bug in the mock cloud, never the client's input). Under ``/ui/`` a browser asking for HTML
gets the same message as a small HTML page. A connection dropped on purpose by a fault is
not a bug and is not logged.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from mock_cloud.errors import ApiError, error_body
from mock_cloud.faults.middleware import ConnectionDropped
from mock_cloud.problems import label, short_json

_log = logging.getLogger(__name__)

_PLACES = {"query": "query parameter", "path": "path parameter", "header": "header", "body": "body"}


def _wants_html(request: Request) -> bool:
    return request.url.path.startswith("/ui/") and "text/html" in request.headers.get("accept", "")


def _html_error(status: int, message: str, headers: Mapping[str, str] | None) -> HTMLResponse:
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{status}: diahil mock cloud</title>"
        '<link rel="stylesheet" href="/ui/static/style.css"></head>'
        f'<body><main class="error"><h1>{status}</h1><p class="message">'
        f'{html.escape(message)}</p><p><a href="/ui/">Home</a></p></main></body></html>'
    )
    return HTMLResponse(page, status_code=status, headers=dict(headers) if headers else None)


async def _api_error(request: Request, exc: Exception) -> Response:
    error = exc if isinstance(exc, ApiError) else ApiError(500, str(exc))
    if _wants_html(request):
        return _html_error(error.status, error.message, error.headers)
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


async def _http_error(request: Request, exc: Exception) -> Response:
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
    if _wants_html(request):
        return _html_error(status, message, headers)
    return JSONResponse(error_body(status, message), status_code=status, headers=headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, ConnectionDropped):
        return JSONResponse(error_body(500, str(exc)), status_code=500)
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
