"""Request size limit: bodies over ``max_body_bytes`` get a JSON 413, on every route.

A declared ``Content-Length`` over the limit is refused before anything is read; a body
sent without one (chunked) is counted as it arrives and refused when it passes the limit.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_cloud.errors import ApiError, send_error


def too_large(limit: int) -> ApiError:
    """The 413 for a body over ``limit`` bytes."""
    return ApiError(
        413, f"request body is larger than {limit} bytes; send the data in smaller chunks"
    )


class BodySizeLimit:
    """Refuses request bodies larger than ``limit`` bytes."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await send_error(send, 413, too_large(self.limit).message, {"Connection": "close"})
            return
        received = 0

        async def counting() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise too_large(self.limit)
            return message

        await self.app(scope, counting, send)
