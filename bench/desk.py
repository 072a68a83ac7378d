"""One benchmarked upload's surroundings: a fresh in-process mock cloud with an account, a
throwaway state file, and the uploader bound to them (and to an emulated radio or USB bus)."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from hil.ble import BleWorld
from hil.cloud import InProcessCloud
from hil.devices import running_utc
from hil.harness import UploadHarness


@contextmanager
def bench_harness(
    timezone: str,
    now: datetime | None = None,
    *,
    usb_backend: Any = None,
    world: BleWorld | None = None,
    device_timeout_ms: int = 2000,
) -> Iterator[UploadHarness]:
    """An ``UploadHarness`` on a new, empty mock cloud, its clock starting at ``now`` (None:
    real time), reaching ``usb_backend`` and/or ``world``; all gone afterwards."""
    cloud = InProcessCloud()
    try:
        account = cloud.create_account(f"b{time.monotonic_ns()}@example.test", "bench-password")
        ble: dict[str, Any] = (
            {} if world is None else {"ble_transport": world.host_endpoint(), "runner": world.run}
        )
        with tempfile.TemporaryDirectory(prefix="diahil-bench-") as tmp:
            yield UploadHarness(
                cloud_url=cloud.base_url,
                account=account,
                timezone=timezone,
                state_path=Path(tmp) / "state.sqlite3",
                usb_backend=usb_backend,
                transport_factory=cloud.transport,
                clock=running_utc(now),
                device_timeout_ms=device_timeout_ms,
                **ble,
            )
    finally:
        cloud.close()
