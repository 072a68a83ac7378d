"""Emulated USB devices reached over USB/IP, in process or in another process.

``serve_usbip(bus)`` exports an emulated bus on a loopback port (``emulator.usbip``): the
uploader then reads its devices through its own USB/IP client (``usbip://HOST:PORT/BUSID``)
instead of the in-process pyusb backend. ``UsbipEmulatorProcess`` runs
``diahil emulate contour-usb --usbip 127.0.0.1:0 --json`` and reads the meter's ledger from
its control endpoint, for the oracle.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from emulator.model.meter import MeterModel
from emulator.usb import EmulatedUsbBackend, VirtualUsbDevice
from emulator.usbip import UsbipServer
from emulator.usbip.server import busid_of
from hil.processes import meter_model_from_control, stop_process


@contextmanager
def serve_usbip(bus: EmulatedUsbBackend, host: str = "127.0.0.1") -> Iterator[UsbipServer]:
    """``bus`` exported over USB/IP on a free port of ``host`` while the block runs."""
    server = UsbipServer(bus, host, 0).start()
    try:
        yield server
    finally:
        server.close()


def usbip_url(server: UsbipServer, device: VirtualUsbDevice) -> str:
    """The uploader's DEVICE argument for ``device`` on ``server``."""
    return f"usbip://{server.host}:{server.port}/{busid_of(device)}"


class UsbipEmulatorProcess:
    """``diahil emulate contour-usb --usbip`` in a subprocess; ``info`` is its identity."""

    def __init__(self, *options: str, timeout_s: float = 20.0) -> None:
        self.command = [
            sys.executable, "-m", "emulator.cli", "contour-usb",
            "--usbip", "127.0.0.1:0", "--control", "127.0.0.1:0", "--json", *options,
        ]  # fmt: skip
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        try:
            self.info: dict[str, Any] = json.loads(line)
        except json.JSONDecodeError:
            self.stop()
            raise RuntimeError(f"the emulator did not start: {self.command}: {line!r}") from None

    @property
    def device_spec(self) -> str:
        return str(self.info["url"])

    def meter_model(self) -> MeterModel:
        """The meter's ledger, read from its control endpoint, for the oracle."""
        return meter_model_from_control(str(self.info["control"]))

    def stop(self) -> int:
        """SIGTERM, then the exit status."""
        return stop_process(self.process)
