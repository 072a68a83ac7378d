"""Building the mock cloud's FastAPI app: ``create_app``.

The app serves the Tidepool-compatible API (auth, data sets, data upload and read-back,
summaries, sharing, device links, CSV export), the web UI under ``/ui/``, and in test mode
the fault admin API under ``/admin/``. It keeps its state in ``app.state.cloud`` (a
``Cloud``) and answers every error as JSON ``{"code", "message"}``. Run it in-process
through httpx's ASGI transport, or under uvicorn (``mock_cloud.cli serve``).

Middleware, outermost first: the access log (one line per request, no secrets), the fault
injector (test mode only; it needs the server's own ``receive`` to drop connections), and
the request size limit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from mock_cloud.access_log import AccessLog
from mock_cloud.api import (
    auth_routes,
    data_routes,
    dataset_routes,
    device_routes,
    sharing_routes,
    summary_routes,
)
from mock_cloud.body_limit import BodySizeLimit
from mock_cloud.cloud import Cloud
from mock_cloud.faults import routes as fault_routes
from mock_cloud.faults.middleware import FaultMiddleware
from mock_cloud.handlers import install_error_handlers
from mock_cloud.settings import CloudSettings
from mock_cloud.web import pages
from mock_cloud.web.session_cookie import LoginRequired, login_redirect

VERSION = "0.2.0"


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            routes=app.routes,
        )
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes["basicAuth"] = {"type": "http", "scheme": "basic"}
        app.openapi_schema = schema
    return app.openapi_schema


def create_app(settings: CloudSettings | None = None) -> FastAPI:
    """A new mock cloud app with its own database connection (created if missing).

    Raises ``StorageError`` if the database cannot be opened.
    """
    cloud = Cloud(settings if settings is not None else CloudSettings())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            cloud.shutdown()

    app = FastAPI(
        title="diahil mock cloud",
        summary="A Tidepool-compatible cloud API for hardware-in-the-loop tests.",
        version=VERSION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.cloud = cloud
    install_error_handlers(app)
    app.add_exception_handler(LoginRequired, login_redirect)
    for module in (
        auth_routes,
        dataset_routes,
        data_routes,
        summary_routes,
        sharing_routes,
        device_routes,
    ):
        app.include_router(module.router)
    app.include_router(pages.router)
    app.mount("/ui/static", StaticFiles(directory=pages.STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/ui/", status_code=303)

    if cloud.settings.test_mode:
        app.include_router(fault_routes.router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]

    app.add_middleware(BodySizeLimit, limit=cloud.settings.max_body_bytes)
    if cloud.settings.test_mode:
        app.add_middleware(
            FaultMiddleware,
            registry=cloud.faults,
            log=cloud.request_log,
            clock=cloud.now,
            expire_sessions=cloud.expire_sessions,
        )
    app.add_middleware(AccessLog)
    return app
