"""The uploader, configured to reach emulated devices and a mock cloud through real seams."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from hil.cloud import Account
from hil.devices import EmulatedBleDevice, running_utc
from uploader.cloud import RetryPolicy
from uploader.pairing import PasskeyProvider
from uploader.session import UploadOptions, UploadResult, run_upload
from uploader.session import upload as upload_async


def quick_retries() -> RetryPolicy:
    """Retries without real waiting, for tests (the policy's logic is unchanged)."""
    return RetryPolicy(attempts=3, base_delay_s=0.0, max_delay_s=0.0)


@dataclass
class UploadHarness:
    """Everything an upload needs, except the device: call ``upload(device_spec)``."""

    cloud_url: str
    account: Account
    timezone: str
    state_path: Path
    usb_backend: Any
    transport_factory: Callable[[], httpx.AsyncBaseTransport] | None = None
    retry: RetryPolicy = field(default_factory=quick_retries)
    device_timeout_ms: int = 2000
    clock: Callable[[], datetime] = field(default_factory=lambda: running_utc(None))
    """The uploader's idea of "now" (the test's fixed instant, running)."""
    ble_transport: Any = None
    """A Bumble moniker or an in-process HCI endpoint; None: no Bluetooth."""
    passkey: PasskeyProvider | None = None
    ble_scan_timeout_s: float = 2.0
    runner: Callable[[Coroutine[Any, Any, UploadResult]], UploadResult] | None = None
    """Where uploads run: a fresh event loop (None), or an emulated radio's loop."""

    def options(self, device: str = "usb", **overrides: Any) -> UploadOptions:
        options = UploadOptions(
            cloud_url=self.cloud_url,
            email=self.account.email,
            password=self.account.password,
            timezone=self.timezone,
            device=device,
            state_path=self.state_path,
            usb_backend=self.usb_backend,
            cloud_transport=self.transport_factory() if self.transport_factory else None,
            device_timeout_ms=self.device_timeout_ms,
            retry=self.retry,
            clock=self.clock,
            ble_transport=self.ble_transport,
            ble_scan_timeout_s=self.ble_scan_timeout_s,
            passkey=self.passkey,
        )
        return replace(options, **overrides)

    def upload_ble(self, device: EmulatedBleDevice[Any], **overrides: Any) -> UploadResult:
        """Upload an emulated Bluetooth device, typing the code its display shows."""
        overrides.setdefault("passkey", device.read_display)
        return self.upload(device.device_spec, **overrides)

    def upload(self, device: str = "usb", **overrides: Any) -> UploadResult:
        """One upload through the real uploader; raises its ``UploaderError`` on failure."""
        options = self.options(device, **overrides)
        if self.runner is not None:
            return self.runner(upload_async(options))
        return run_upload(options)
