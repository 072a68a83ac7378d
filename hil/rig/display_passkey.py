"""The pairing passkey read off a bench device's screen by the rig fixture's display reader.

A ``PasskeyProvider`` (``uploader.pairing``) built on the bench side and handed to the
uploader: at pairing time it asks the CAN fixture (``rig.dbc`` RIG_DISPLAY_REQ on the
device's fixture port, docs/bench.md) what the display shows, until six digits appear. A
fixture that cannot be reached or cannot read the display fails the pairing step with
``PairingFailed`` saying to check the display reader or to set ``passkey`` in rig.toml.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from hil.rig.config import CanConfig
from hil.rig.controller import RigController, RigError
from uploader.errors import PairingFailed
from uploader.pairing import PasskeyProvider

#: How long the device may take to show its code once pairing starts.
DISPLAY_WAIT_S = 30.0
#: Pause between two display reads while the screen is still blank.
POLL_S = 0.05

_KEPT = "Nothing was uploaded from this run and the device's records are unchanged."


def _advice(device: str, port: int) -> str:
    return (
        f"Check the fixture's display reader on port {port} (its aim and lighting, "
        f"`diahil rig check`), or set `passkey = NNNNNN` under [devices.{device}] in rig.toml."
    )


def fixture_display(
    open_controller: Callable[[], RigController],
    port: int,
    device: str,
    *,
    wait_s: float = DISPLAY_WAIT_S,
) -> PasskeyProvider:
    """A passkey provider reading ``port``'s display through a controller from
    ``open_controller`` (opened at pairing time, closed after); ``device`` is rig.toml's name."""

    def read() -> int:
        deadline = time.monotonic() + wait_s
        try:
            with open_controller() as rig:
                while True:
                    shown = rig.read_display(port)
                    if shown is not None:
                        return int(shown)
                    if time.monotonic() >= deadline:
                        break
                    time.sleep(POLL_S)
        except RigError as error:
            raise PairingFailed(
                f"The rig fixture could not read the pairing code off {device}'s display: {error}.",
                kept=_KEPT,
                hint=_advice(device, port),
            ) from error
        raise PairingFailed(
            f"{device}'s display (fixture port {port}) showed no pairing code within {wait_s:g} s.",
            kept=_KEPT,
            hint="Put the device in pairing mode and run again. " + _advice(device, port),
        )

    async def provide(_label: str) -> int:
        return await asyncio.to_thread(read)

    return provide


def can_fixture_display(config: CanConfig, port: int, device: str) -> PasskeyProvider:
    """``fixture_display`` on the CAN bus rig.toml's ``[can]`` names."""
    return fixture_display(lambda: RigController.open(config), port, device)
