"""diahil uploader: reads diabetes devices, uploads their data to a Tidepool-compatible cloud.

This is the product under test, and it ships alone: it imports nothing else of the
project's and reaches devices only through pyusb (USB) and, later, bleak (Bluetooth LE),
and the cloud only over HTTP (httpx), exactly as it would on a user's computer.

Data flow of one upload (``uploader.session``): detect, connect, identify and fetch through
a driver (``uploader.drivers``); place device times in UTC (``uploader.timeproc``); turn
records into Tidepool datums (``uploader.normalize``, ``uploader.datamodel``); log in and
upload in chunks (``uploader.cloud``); read back and compare (``uploader.verify``); remember
what is safely in the cloud (``uploader.state``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from uploader.errors import Step, UploaderError
    from uploader.session import UploadOptions, UploadResult, run_upload, upload

__all__ = ["Step", "UploadOptions", "UploadResult", "UploaderError", "run_upload", "upload"]

_HOME = {
    "Step": "uploader.errors",
    "UploaderError": "uploader.errors",
    "UploadOptions": "uploader.session",
    "UploadResult": "uploader.session",
    "run_upload": "uploader.session",
    "upload": "uploader.session",
}


def __getattr__(name: str) -> Any:
    """The names above, imported on first use: importing one small module of the uploader
    (a protocol parser, in a fuzz harness or a tool) does not load the whole upload path."""
    if name in _HOME:
        return getattr(importlib.import_module(_HOME[name]), name)
    raise AttributeError(f"module 'uploader' has no attribute {name!r}")
