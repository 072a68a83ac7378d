"""The emulated Bluetooth world of a test run: one radio, its peripherals, its own loop.

Bumble objects belong to the asyncio loop that created them, and an in-process radio
(``emulator.ble.air.Air``) carries both the emulated peripherals and the uploader's central.
``BleWorld`` runs that loop in a background thread; emulated devices are started in it and
uploads run in it (``run``), so synchronous tests drive the whole Bluetooth path exactly as
a process with real radios would, the uploader reaching the radio through an HCI endpoint
like any Bumble transport.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

from emulator.ble.air import Air

T = TypeVar("T")


class BleWorld:
    def __init__(self, timeout_s: float = 120.0) -> None:
        self.timeout_s = timeout_s
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="ble-world", daemon=True
        )
        self._thread.start()
        self.air: Air = self.run(self._make_air())
        self._endpoint: tuple[Any, Any] | None = None

    @staticmethod
    async def _make_air() -> Air:
        return Air()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` in the world's loop and wait for its result (or exception)."""
        future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(self.timeout_s)

    def host_endpoint(self) -> tuple[Any, Any]:
        """The HCI endpoint the uploader's central attaches to (one per world, reused)."""
        if self._endpoint is None:

            async def make() -> tuple[Any, Any]:
                return self.air.host_endpoint()

            self._endpoint = self.run(make())
        return self._endpoint

    def close(self) -> None:
        if self._loop.is_closed():
            return

        async def drain() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            self.run(drain())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()
