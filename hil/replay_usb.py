"""Replaying a USB capture through the real uploader (``diahil replay FILE.pcap``).

The recorded device (``emulator.replay.usb_device.ReplayUsbDevice``) is plugged into an
emulated USB bus; the uploader finds and reads it through its pyusb backend, exactly as it
reads hardware, and uploads to a mock cloud. The outcome is the upload's result, or the
uploader's error (the recorded failure, reproduced), or the first divergence between what
the uploader asked for and what the recording holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.devices.contour_usb import CONTOUR_USB_MODELS, build_contour_meter
from emulator.replay.usb_capture import UsbCapture, read_usb_capture
from emulator.replay.usb_device import Divergence, ReplayUsbDevice
from emulator.usb import EmulatedUsbBackend, VirtualUsbDevice
from hil.harness import UploadHarness
from uploader.errors import UploaderError
from uploader.session import UploadResult

REPLAY_DIVERGED = 10
"""Exit code of ``diahil replay`` when the uploader's requests left the recording."""


@dataclass
class UsbReplayOutcome:
    """How a replay ended: a result, the uploader's error, and a divergence if any."""

    device: ReplayUsbDevice
    result: UploadResult | None
    error: UploaderError | None

    @property
    def divergence(self) -> Divergence | None:
        return self.device.divergence


def template_device(model: str | None) -> VirtualUsbDevice | None:
    """The emulated model whose descriptors stand in for ones the capture lacks."""
    if model is None:
        return None
    if model not in CONTOUR_USB_MODELS:
        known = ", ".join(CONTOUR_USB_MODELS)
        raise ValueError(f"No emulated USB model is called {model!r} ({known}).")
    return build_contour_meter(family=model, count=0)


def replay_device(capture: UsbCapture | str | Path, model: str | None = None) -> ReplayUsbDevice:
    """The recorded device of a capture (file or already read)."""
    if not isinstance(capture, UsbCapture):
        capture = read_usb_capture(capture)
    return ReplayUsbDevice(capture, template=template_device(model))


def replay_usb(
    device: ReplayUsbDevice, harness: UploadHarness, **overrides: Any
) -> UsbReplayOutcome:
    """Plug ``device`` into ``harness``'s emulated bus (a fresh one if it has none) and run
    one upload of it; never raises the uploader's errors, they are in the outcome."""
    bus = harness.usb_backend
    if not isinstance(bus, EmulatedUsbBackend):
        bus = harness.usb_backend = EmulatedUsbBackend()
    bus.plug(device)
    try:
        result = harness.upload("usb", **overrides)
    except UploaderError as error:
        return UsbReplayOutcome(device, None, error)
    finally:
        if device in bus.devices:
            bus.unplug(device)
    return UsbReplayOutcome(device, result, None)
