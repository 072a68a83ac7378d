"""One log line per request (logger ``mock_cloud.access``): method, path, status, time.

Only the path is logged, never the query string, headers or body: no password, session
token or Authorization header can reach the log this way (``test_mockcloud_logging``
checks the whole log of a login and an upload).
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("mock_cloud.access")


class AccessLog:
    """Logs each HTTP request once its answer has started (or failed)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: list[int | None] = [None]

        async def recording(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording)
        finally:
            log.info(
                "%s %s %s %.1fms",
                scope.get("method"),
                scope.get("path"),
                status[0] if status[0] is not None else "-",
                (time.perf_counter() - started) * 1000,
            )
