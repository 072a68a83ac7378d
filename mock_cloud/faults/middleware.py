"""The ASGI middleware that applies faults and logs requests (installed in test mode only).

For each request outside ``/admin/`` it asks the registry which faults hit it, then:
latency first (sleep); expire_session (every token expires now); hold (wait until the
fault is removed, or with ``afterHandling`` handle the request first and hold its answer
back); then the first of error / rate_limit (answered at once, nothing handled) or
drop_after_store (the request is handled, its answer thrown away, and the connection
closed); slow_body paces the answer. Every request is logged once it is over.

Dropping the connection: under uvicorn the middleware aborts the request's TCP transport
(reached through uvicorn's ``receive`` callable), so the client sees the server close the
connection without an answer; the server logs nothing. Where no transport is reachable (in
process, through httpx's ``ASGITransport``) it raises ``ConnectionDropped``, an
``httpx.RemoteProtocolError``, which the ASGI transport hands to the client as it is: the
same transport error a real dropped connection gives.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_cloud.errors import send_error
from mock_cloud.faults.registry import ActiveFault, FaultRegistry, RequestLog
from mock_cloud.timestamps import Clock

ADMIN_PREFIX = "/admin/"
FAULT_HEADER = "X-Diahil-Fault"
DEFAULT_CHUNK_BYTES = 64
DEFAULT_HOLD_MS = 60_000
HOLD_POLL_S = 0.01


class ConnectionDropped(httpx.RemoteProtocolError):
    """The mock cloud dropped the connection on purpose (a drop_after_store fault)."""


async def _drop(receive: Receive) -> None:
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    if transport is not None and hasattr(transport, "abort"):
        transport.abort()
        for _ in range(3):  # let the server notice the connection is gone
            await asyncio.sleep(0)
        return
    raise ConnectionDropped("the mock cloud dropped the connection after storing the request")


def _client_gone(receive: Receive) -> bool:
    """Whether the client has closed the connection (under uvicorn; False in process)."""
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    closing = getattr(transport, "is_closing", None)
    return bool(closing()) if callable(closing) else False


def _slow(send: Send, delay_s: float, size: int, receive: Receive) -> Send:
    async def paced(message: Message) -> None:
        if message["type"] != "http.response.body":
            await send(message)
            return
        body: bytes = message.get("body", b"")
        more = bool(message.get("more_body", False))
        pieces = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            await send({"type": "http.response.body", "body": piece, "more_body": more or not last})
            if not last:
                await asyncio.sleep(delay_s)
                if _client_gone(receive):  # nobody is listening: finish at once
                    rest = b"".join(pieces[index + 1 :])
                    await send({"type": "http.response.body", "body": rest, "more_body": more})
                    return

    return paced


async def _hold(fault: ActiveFault) -> None:
    """Wait until ``fault`` is removed or its ``delayMs`` (default 60 s) has passed."""
    limit = fault.spec.delayMs if fault.spec.delayMs is not None else DEFAULT_HOLD_MS
    fault.held += 1
    deadline = time.monotonic() + limit / 1000
    while not fault.removed and time.monotonic() < deadline:
        await asyncio.sleep(HOLD_POLL_S)


class _HeldAnswer:
    """A ``send`` that keeps the answer back until ``release``."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self._messages: list[Message] = []

    async def __call__(self, message: Message) -> None:
        self._messages.append(message)

    async def release(self) -> None:
        for message in self._messages:
            await self._send(message)


class FaultMiddleware:
    """Applies the registry's faults to requests and logs every request."""

    def __init__(
        self,
        app: ASGIApp,
        registry: FaultRegistry,
        log: RequestLog,
        clock: Clock,
        expire_sessions: Callable[[], object] | None = None,
    ) -> None:
        """``expire_sessions`` makes every session token expire (for ``expire_session``)."""
        self.app = app
        self.registry = registry
        self.log = log
        self.clock = clock
        self.expire_sessions = expire_sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope["path"]).startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        method, path = str(scope["method"]), str(scope["path"])
        started = time.perf_counter()
        at = self.clock()
        hitting = self.registry.hits(method, path)
        status: list[int | None] = [None]

        async def recording(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self._apply(hitting, scope, receive, recording)
        finally:
            self.log.record(
                at=at,
                method=method,
                path=path,
                status=status[0],
                duration_ms=(time.perf_counter() - started) * 1000,
                faults=[fault.spec.kind for fault in hitting],
            )

    async def _apply(
        self, hitting: list[ActiveFault], scope: Scope, receive: Receive, send: Send
    ) -> None:
        for fault in hitting:
            if fault.spec.kind == "latency":
                await asyncio.sleep((fault.spec.delayMs or 0) / 1000)
        if self.expire_sessions is not None and any(
            f.spec.kind == "expire_session" for f in hitting
        ):
            await asyncio.to_thread(self.expire_sessions)
        held_after: list[ActiveFault] = []
        for fault in hitting:
            if fault.spec.kind == "hold":
                if fault.spec.afterHandling:
                    held_after.append(fault)
                else:
                    await _hold(fault)
        if held_after:
            held = _HeldAnswer(send)
            await self._terminal(hitting, scope, receive, held)
            for fault in held_after:
                await _hold(fault)
            await held.release()
            return
        await self._terminal(hitting, scope, receive, send)

    async def _terminal(
        self, hitting: list[ActiveFault], scope: Scope, receive: Receive, send: Send
    ) -> None:
        terminal = next(
            (f for f in hitting if f.spec.kind in ("error", "rate_limit", "drop_after_store")),
            None,
        )
        for fault in hitting:
            if fault.spec.kind == "slow_body":
                send = _slow(
                    send,
                    (fault.spec.delayMs or 0) / 1000,
                    fault.spec.chunkBytes or DEFAULT_CHUNK_BYTES,
                    receive,
                )
        if terminal is None:
            await self.app(scope, receive, send)
            return
        spec = terminal.spec
        marker = {FAULT_HEADER: f"{spec.kind} {terminal.id}"}
        if spec.kind == "error":
            status = spec.status or 500
            await send_error(send, status, f"injected fault: {status} (test mode)", marker)
        elif spec.kind == "rate_limit":
            retry_after = spec.retryAfter if spec.retryAfter is not None else 1
            await send_error(
                send,
                429,
                f"injected fault: too many requests; retry after {retry_after} s (test mode)",
                {**marker, "Retry-After": str(retry_after)},
            )
        else:

            async def discard(_message: Message) -> None:
                return None

            await self.app(scope, receive, discard)
            await _drop(receive)
