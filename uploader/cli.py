"""``diahil upload`` and ``diahil scan``: the uploader's command line.

    diahil upload DEVICE --cloud URL --timezone TZ [--email E --password P] [--json]
    diahil scan [--ble-transport MONIKER]

DEVICE: ``usb``, ``usb:VID:PID[:SERIAL]``, ``ble``, ``ble:ADDRESS`` or ``ble:NAME``. Bluetooth
goes through the system's stack, or with ``--ble-transport`` through the project's Bumble
central (``usb:0`` for an HCI dongle, ``tcp-client:HOST:PORT`` for an emulator process).
Credentials come from ``--email``/``--password`` or ``DIAHIL_EMAIL``/``DIAHIL_PASSWORD``.
Progress goes to stderr, the summary to stdout (one JSON object with ``--json``). Exit
codes: docs/exit-codes.md.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from uploader.cloud import RetryPolicy
from uploader.console_output import RichProgress, print_summary, report_error
from uploader.errors import ExitCode, UploaderError, UsageError
from uploader.pairing import fixed_passkey, terminal_prompt
from uploader.session import UploadOptions, run_upload
from uploader.transports.ble import BleStack, scan

KNOWN_SERVICES = {
    "00001808-0000-1000-8000-00805f9b34fb": "Glucose (GLS)",
    "0000181f-0000-1000-8000-00805f9b34fb": "CGM (CGMS)",
    "0000183a-0000-1000-8000-00805f9b34fb": "Insulin Delivery (IDS)",
    "0000180a-0000-1000-8000-00805f9b34fb": "Device Information",
}

BleTransportOption = Annotated[
    str | None,
    typer.Option(
        "--ble-transport",
        envvar="DIAHIL_BLE_TRANSPORT",
        help="Bumble HCI transport (usb:0, tcp-client:HOST:PORT); default: the system's Bluetooth",
    ),
]


def _fail(message: str, as_json: bool, code: ExitCode = ExitCode.USAGE) -> typer.Exit:
    if as_json:
        print(
            json.dumps(
                {
                    "status": "error",
                    "error": "UsageError",
                    "message": message,
                    "exit_code": int(code),
                }
            )
        )
    else:
        Console(stderr=True).print(f"[bold red]Usage error[/bold red] {escape(message)}")
    return typer.Exit(int(code))


def execute(options: UploadOptions, as_json: bool, debug: bool = False) -> int:
    """Run one upload with console output; returns the exit code."""
    console = Console()
    progress = None
    if not as_json:
        progress = RichProgress(Console(stderr=True))
        options.progress = progress
    try:
        result = run_upload(options)
    except KeyboardInterrupt:
        Console(stderr=True).print(
            "Interrupted. Nothing unverified was recorded; run again to finish."
        )
        return 130
    except Exception as error:  # every failure ends as one clear message and an exit code
        return report_error(error, as_json, debug)
    finally:
        if progress:
            progress.stop()
    if as_json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        print_summary(result, console)
    return int(ExitCode.OK)


def upload_command(
    device: Annotated[
        str, typer.Argument(help="usb, usb:VID:PID[:SERIAL], ble, ble:ADDRESS or ble:NAME")
    ] = "usb",
    cloud: Annotated[
        str, typer.Option("--cloud", envvar="DIAHIL_CLOUD", help="Cloud base URL")
    ] = "",
    timezone: Annotated[
        str, typer.Option("--timezone", help="IANA zone of the device's most recent data")
    ] = "",
    email: Annotated[str, typer.Option("--email", envvar="DIAHIL_EMAIL")] = "",
    password: Annotated[str, typer.Option("--password", envvar="DIAHIL_PASSWORD")] = "",
    state: Annotated[
        Path | None, typer.Option("--state", envvar="DIAHIL_STATE", help="Sync state database file")
    ] = None,
    ble_transport: BleTransportOption = None,
    passkey: Annotated[
        str | None,
        typer.Option("--passkey", help="The 6-digit code the device shows (else you are asked)"),
    ] = None,
    scan_timeout: Annotated[
        float, typer.Option("--scan-timeout", min=0.1, help="Bluetooth scan, seconds")
    ] = 5.0,
    timeout_ms: Annotated[int, typer.Option("--device-timeout-ms", min=1)] = 5000,
    retries: Annotated[
        int, typer.Option("--retries", min=1, max=20, help="Tries per cloud request")
    ] = 4,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object (for CI)")] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks of internal errors")
    ] = False,
) -> None:
    """Read a device, upload its new data to the cloud, and verify it arrived."""
    missing = [
        name
        for name, value in (
            ("--cloud", cloud),
            ("--timezone", timezone),
            ("--email", email),
            ("--password", password),
        )
        if not value
    ]
    if missing:
        raise _fail(
            f"Missing {', '.join(missing)}. Credentials may also come from DIAHIL_EMAIL and "
            "DIAHIL_PASSWORD, the cloud from DIAHIL_CLOUD.",
            as_json,
        )
    try:
        provider = fixed_passkey(passkey) if passkey is not None else terminal_prompt()
    except UsageError as error:
        raise _fail(error.message, as_json) from None
    options = UploadOptions(
        cloud_url=cloud,
        email=email,
        password=password,
        timezone=timezone,
        device=device,
        state_path=state,
        ble_transport=ble_transport,
        ble_scan_timeout_s=scan_timeout,
        passkey=provider,
        device_timeout_ms=timeout_ms,
        retry=RetryPolicy(attempts=retries),
    )
    raise typer.Exit(execute(options, as_json, debug))


async def _scan(transport: str | None, timeout_s: float) -> list[dict[str, Any]]:
    stack = BleStack.open(transport, keystore_path=None)
    try:
        found = await scan(stack, timeout_s)
    finally:
        await stack.close()
    return [
        {
            "name": ad.name,
            "address": ad.address,
            "rssi": ad.rssi,
            "services": [KNOWN_SERVICES.get(s, s) for s in ad.service_uuids],
            "supported": any(
                s in KNOWN_SERVICES and "Device" not in KNOWN_SERVICES[s] for s in ad.service_uuids
            ),
        }
        for ad in found
    ]


def scan_command(
    ble_transport: BleTransportOption = None,
    timeout: Annotated[float, typer.Option("--timeout", min=0.1, help="Seconds to listen")] = 5.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON list")] = False,
) -> None:
    """List Bluetooth LE devices advertising nearby (name, address, services, RSSI)."""
    try:
        devices = asyncio.run(_scan(ble_transport, timeout))
    except UploaderError as error:
        raise typer.Exit(report_error(error, as_json, debug=False)) from None
    if as_json:
        print(json.dumps(devices, indent=2))
        return
    if not devices:
        Console().print(f"Nothing advertising within {timeout:g} s.")
        return
    table = Table("name", "address", "RSSI", "services", "upload with")
    for d in devices:
        how = f"diahil upload ble:{d['address']}" if d["supported"] else "-"
        table.add_row(
            escape(d["name"] or "?"),
            d["address"],
            str(d["rssi"]),
            escape(", ".join(d["services"])),
            how,
        )
    Console().print(table)
