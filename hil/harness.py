"""The uploader, configured to reach emulated devices and a mock cloud through real seams."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx

from hil.cloud import Account
from uploader.cloud import RetryPolicy
from uploader.session import UploadOptions, UploadResult, run_upload


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
        )
        return replace(options, **overrides)

    def upload(self, device: str = "usb", **overrides: Any) -> UploadResult:
        """One upload through the real uploader; raises its ``UploaderError`` on failure."""
        return run_upload(self.options(device, **overrides))
