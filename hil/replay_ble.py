"""Replaying a Bluetooth LE capture through the real uploader (``diahil replay FILE.btsnoop``).

The recorded device (``emulator.replay.ble_replay.BleReplay``) goes on an emulated radio;
the uploader finds it by its recorded address, pairs with it (both ends are given the same
fixed passkey: the recorded one cannot be recovered from SMP) and reads it through bleak on
its Bumble central, exactly as it reads a meter, uploading to the harness's cloud. The
outcome is the upload's result, or the uploader's error (the recorded failure, reproduced),
with the first divergence between the uploader's requests and the recording, if any.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from emulator.replay.ble_replay import BleReplay
from hil.ble import BleWorld
from hil.harness import UploadHarness
from uploader.errors import UploaderError
from uploader.pairing import fixed_passkey
from uploader.session import UploadResult

DEFAULT_PASSKEY = 123456


@dataclass
class BleReplayOutcome:
    """How a replay ended: a result or the uploader's error, and the replay's own account
    (``replay.divergence``, ``replay.served`` of ``replay.total`` requests)."""

    replay: BleReplay
    result: UploadResult | None
    error: UploaderError | None


def replay_ble(
    capture: Path,
    harness: UploadHarness,
    *,
    passkey: int = DEFAULT_PASSKEY,
    world: BleWorld | None = None,
    **overrides: Any,
) -> BleReplayOutcome:
    """Replay ``capture`` on ``world`` (a new radio if None) and run one upload of it with
    ``harness``'s cloud and state; never raises the uploader's errors, they are in the
    outcome. Raises ``CaptureError`` for a file that is not a replayable HCI capture."""
    replay = BleReplay.from_file(capture, passkey=passkey)
    own_world = world is None
    radio = world if world is not None else BleWorld()
    try:
        radio.run(replay.start(radio.air))
        bluetooth = replace(
            harness,
            ble_transport=radio.host_endpoint(),
            runner=radio.run,
            passkey=fixed_passkey(f"{passkey:06d}"),
        )
        try:
            result = bluetooth.upload(f"ble:{replay.address}", **overrides)
        except UploaderError as error:
            return BleReplayOutcome(replay, None, error)
        finally:
            radio.run(replay.stop())
        return BleReplayOutcome(replay, result, None)
    finally:
        if own_world:
            radio.close()
