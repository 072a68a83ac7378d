"""Building the mock cloud's FastAPI app: ``create_app``.

The app serves the Tidepool-compatible subset (auth, data sets, data upload, read-back),
keeps its state in ``app.state.cloud`` (a ``Cloud``), and answers every error as JSON
``{"code", "message"}``. Run it in-process through httpx's ASGI transport, or under
uvicorn (``mock_cloud.cli serve``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from mock_cloud.api import auth_routes, data_routes, dataset_routes
from mock_cloud.cloud import Cloud
from mock_cloud.handlers import install_error_handlers
from mock_cloud.settings import CloudSettings


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
            cloud.close()

    app = FastAPI(
        title="diahil mock cloud",
        summary="A Tidepool-compatible cloud API subset for hardware-in-the-loop tests.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.cloud = cloud
    install_error_handlers(app)
    app.include_router(auth_routes.router)
    app.include_router(dataset_routes.router)
    app.include_router(data_routes.router)
    return app
