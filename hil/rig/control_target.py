"""A fixture port wired to an emulator process: the display reader reads its control endpoint.

For the emulated rig (``hil.rig.emulated.EmulatedRig``) when the device on a port is an
emulator in another process (``diahil emulate``): the fixture's display reader is the
camera on a real bench; here it asks the emulator's control endpoint (``GET /display``,
docs/bench.md) what the device shows. The other switches only click (``PortTarget``).
"""

from __future__ import annotations

import httpx

from hil.rig.emulated import PortTarget


class ControlDisplayTarget(PortTarget):
    """A port whose display is the one an emulator's control endpoint reports."""

    def __init__(self, control_url: str) -> None:
        super().__init__()
        self.control_url = control_url
        #: What each display read returned (None: blank).
        self.reads: list[str | None] = []

    def display(self) -> str | None:
        response = httpx.get(f"{self.control_url}/display", timeout=5)
        response.raise_for_status()
        value = response.json()["passkey"]
        shown = None if value is None else f"{int(value):06d}"
        self.reads.append(shown)
        return shown
