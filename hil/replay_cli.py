"""``diahil replay CAPTURE``: the recorded device answers the real uploader again.

    diahil replay session.pcapng --timezone Europe/Rome [--model "Contour Next USB"] [--json]

USB captures (usbmon pcap/pcapng from ``diahil upload --capture`` or Wireshark on Linux,
USBPcap from Windows) become an emulated device on an emulated USB bus (``hil.replay_usb``);
the real uploader reads it through pyusb and uploads to a mock cloud in this process (a new,
empty one each time). Printed: the same summary or error as ``diahil upload``, or the first
divergence from the recording (exit code 10). Exit 2 when the file cannot be replayed.

Bluetooth LE captures (btsnoop or pcapng of HCI packets, from ``diahil upload --capture`` on
the Bumble central, Android's btsnoop_hci.log, or Wireshark) become a replayed peripheral on
an emulated radio (``hil.replay_ble``, ``hil.replay_ble_cli``), paired with ``--passkey``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from emulator.replay.usb_capture import USB_LINK_TYPES, CaptureFormatError, link_type
from emulator.replay.usb_device import ReplayError
from hil.replay_ble_cli import replay_bluetooth
from hil.replay_desk import cannot_replay, desk_harness, report_upload
from hil.replay_usb import REPLAY_DIVERGED, UsbReplayOutcome, replay_device, replay_usb


def _report(outcome: UsbReplayOutcome, as_json: bool) -> int:
    device, divergence = outcome.device, outcome.divergence
    replayed = {
        "capture": device.capture.path,
        "source": device.capture.source,
        "recorded_device": ".".join(map(str, device.recorded_address)),
        "requests": device.requests,
        "recorded_transfers_left": device.remaining,
    }
    if divergence is not None:
        if as_json:
            print(json.dumps({
                "status": "diverged", "replay": replayed, "message": divergence.describe(),
                "request_number": divergence.request_number,
                "transfer": divergence.transfer.number if divergence.transfer else None,
                "byte_offset": divergence.offset, "exit_code": REPLAY_DIVERGED,
            }, indent=2))  # fmt: skip
        else:
            Console(stderr=True).print(
                f"[bold red]Replay diverged[/bold red]\n{escape(divergence.describe())}",
                soft_wrap=True,
            )
        return REPLAY_DIVERGED
    closing = (
        f"Replayed {device.requests} requests against {escape(device.capture.source)} "
        f"capture {escape(device.capture.path)}; {device.remaining} recorded transfers left."
    )
    return report_upload(outcome.result, outcome.error, replayed, closing, as_json)


def replay_command(
    capture: Annotated[
        Path,
        typer.Argument(
            help="A capture file: USB .pcap or .pcapng (usbmon, USBPcap), or Bluetooth LE "
            ".btsnoop or .pcapng (HCI)"
        ),
    ],
    timezone: Annotated[
        str, typer.Option("--timezone", help="IANA zone of the device's data, as for upload")
    ] = "UTC",
    model: Annotated[
        str | None,
        typer.Option("--model", help="Emulated model for descriptors the capture lacks"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
    passkey: Annotated[
        str,
        typer.Option(
            "--passkey",
            help="Bluetooth: the 6-digit code the replayed device pairs with (the recorded "
            "one cannot be recovered from a capture)",
        ),
    ] = "123456",
    hci: Annotated[
        str | None,
        typer.Option(
            "--hci",
            help="Bluetooth: serve the replayed device on this Bumble transport "
            "(tcp-server:HOST:PORT) for an uploader elsewhere, instead of running one here",
        ),
    ] = None,
) -> None:
    """Replay a recorded device session through the real uploader and a mock cloud."""
    bluetooth = replay_bluetooth(capture, timezone, passkey, hci, as_json)
    if bluetooth is not None:  # a Bluetooth capture (or a Bluetooth option): handled there
        raise typer.Exit(bluetooth)
    try:
        kind = link_type(capture)
        if kind not in USB_LINK_TYPES:
            raise CaptureFormatError(
                f"{capture} has link type {kind}; diahil replay reads USB captures "
                "(usbmon 220/189, USBPcap 249)."
            )
        device = replay_device(capture, model)
    except (CaptureFormatError, ReplayError, ValueError) as problem:
        raise typer.Exit(cannot_replay(str(problem), as_json)) from None
    with desk_harness(timezone, as_json) as (harness, overrides):
        outcome = replay_usb(device, harness, **overrides)
    raise typer.Exit(_report(outcome, as_json))
