"""``diahil replay CAPTURE`` for Bluetooth LE captures (btsnoop, pcapng of HCI packets).

The recorded device answers the real uploader again (``hil.replay_ble``), on an emulated
radio, with a new, empty mock cloud in this process. Printed: the upload's summary or
error as ``diahil upload`` prints it, and how the replay went: every recorded request
answered, or the first divergence (request number, attribute, byte, expected and got;
exit code 10). Exit 2 when the file cannot be replayed. With ``--hci MONIKER`` the replayed
device is served for an uploader in another process instead (``emulator.replay.ble_serve``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from emulator.replay import ble_serve
from emulator.replay.hci_capture import CaptureError, is_hci_capture
from emulator.replay.usb_capture import CaptureFormatError, link_type
from hil.replay_ble import BleReplayOutcome, replay_ble
from hil.replay_desk import cannot_replay, desk_harness, report_upload
from hil.replay_usb import REPLAY_DIVERGED
from uploader.ble_capture import GATT_SIDECAR_SUFFIX
from uploader.gatt_capture import LINKTYPE_WIRESHARK_UPPER_PDU


def _facts(outcome: BleReplayOutcome, capture: Path) -> dict[str, Any]:
    replay = outcome.replay
    return {
        "capture": str(capture),
        "source": "bluetooth-hci",
        "recorded_device": replay.address,
        "requests": replay.served,
        "recorded_requests": replay.total,
        "complete": replay.complete,
        "report": replay.report(),
    }


def report(outcome: BleReplayOutcome, capture: Path, as_json: bool) -> int:
    """Print how the replay ended; the exit code."""
    replayed = _facts(outcome, capture)
    divergence = outcome.replay.divergence
    if divergence is not None:
        if as_json:
            print(json.dumps({
                "status": "diverged", "replay": replayed, "message": divergence.message,
                "request_number": divergence.request, "attribute": divergence.attribute,
                "byte_offset": divergence.offset, "expected": divergence.expected,
                "got": divergence.got, "exit_code": REPLAY_DIVERGED,
            }, indent=2))  # fmt: skip
        else:
            Console(stderr=True).print(
                f"[bold red]Replay diverged[/bold red]\n{escape(outcome.replay.report())}"
            )
        return REPLAY_DIVERGED
    closing = escape(outcome.replay.report())
    return report_upload(outcome.result, outcome.error, replayed, closing, as_json)


def _gatt_log(capture: Path) -> bool:
    """Is ``capture`` a GATT-level log (``uploader.gatt_capture``), by name or content?"""
    if capture.name.endswith(GATT_SIDECAR_SUFFIX):
        return True
    try:
        return link_type(capture) == LINKTYPE_WIRESHARK_UPPER_PDU
    except CaptureFormatError:
        return False


def replay_bluetooth(
    capture: Path, timezone: str, passkey: str, hci: str | None, as_json: bool
) -> int | None:
    """``diahil replay`` of a Bluetooth capture: the exit code; None if ``capture`` is not
    one (and no Bluetooth-only option was given), for the USB replay to take."""
    if _gatt_log(capture):
        return cannot_replay(
            f"{capture} is a GATT-level log (the system's Bluetooth stack gives no HCI packets): "
            "it shows the exchange but cannot be replayed. For a replayable capture, upload "
            "through a Bumble HCI dongle: --ble-transport usb:0 --capture FILE.btsnoop.",
            as_json,
        )
    if not is_hci_capture(capture):
        if hci is None:
            return None
        return cannot_replay(
            f"{capture} is not a Bluetooth HCI capture; --hci is for those.", as_json
        )
    if not (len(passkey) == 6 and passkey.isdigit()):
        return cannot_replay(f"--passkey must be exactly 6 digits, got {passkey!r}.", as_json)
    if hci is not None:
        try:
            return ble_serve.main(capture, hci, int(passkey))
        except CaptureError as problem:
            return cannot_replay(f"{problem} Bluetooth replays need an HCI capture.", as_json)
    return replay_ble_capture(capture, timezone, int(passkey), as_json)


def replay_ble_capture(capture: Path, timezone: str, passkey: int, as_json: bool) -> int:
    """Replay a Bluetooth capture through the uploader and a fresh mock cloud; exit code."""
    with desk_harness(timezone, as_json) as (harness, overrides):
        try:
            outcome = replay_ble(capture, harness, passkey=passkey, **overrides)
        except CaptureError as problem:
            return cannot_replay(f"{problem} Bluetooth replays need an HCI capture.", as_json)
    return report(outcome, capture, as_json)
