"""``diahil upload`` and ``diahil scan``: the uploader's command line.

    diahil upload DEVICE --cloud URL --timezone TZ [--email E --password P] [--json]
    diahil scan [--ble-transport MONIKER]

DEVICE: ``usb``, ``usb:VID:PID[:SERIAL]``, ``ble``, ``ble:ADDRESS``, ``ble:NAME`` or
``usbip://HOST:PORT/BUSID`` (a USB device exported over USB/IP: ``uploader.transports.usbip``).
Bluetooth goes through the system's stack, or with ``--ble-transport`` through the project's Bumble
central (``usb:0`` for an HCI dongle, ``tcp-client:HOST:PORT`` for an emulator process).
Credentials come from ``--cloud``/``--email``/``--password`` (or ``DIAHIL_CLOUD``,
``DIAHIL_EMAIL``, ``DIAHIL_PASSWORD``), else from the current account (``--account NAME``,
``diahil account``; its password from the OS keyring: ``uploader.accounts``).
Progress goes to stderr, the summary to stdout (one JSON object with ``--json``, with the
steps and the exit code). ``--support-bundle FILE.zip`` writes a zip for support after the
run, good or failed (``uploader.support_bundle``). ``--capture FILE`` records the exchange
with the device in a capture file (USB: usbmon ``.pcap``/``.pcapng``; Bluetooth: ``.btsnoop``/
``.pcapng``; ``uploader.capture_file``), which the bundle then holds too. Exit codes:
docs/exit-codes.md.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from uploader.accounts import resolve as resolve_credentials
from uploader.capture import ExchangeCapture
from uploader.capture_file import CaptureSession
from uploader.cloud import RetryPolicy
from uploader.console_output import RichProgress, print_summary, report_error
from uploader.detect import BLE_DRIVERS
from uploader.errors import ExitCode, InternalError, UploaderError, UsageError
from uploader.pairing import fixed_code, fixed_passkey, terminal_prompt
from uploader.session import UploadOptions, UploadResult, run_upload
from uploader.support_bundle import write_bundle
from uploader.transports.ble import BleStack, scan

KNOWN_SERVICES = {
    "00001808-0000-1000-8000-00805f9b34fb": "Glucose (GLS)",
    "0000181f-0000-1000-8000-00805f9b34fb": "CGM (CGMS)",
    "0000183a-0000-1000-8000-00805f9b34fb": "Insulin Delivery (IDS)",
    "0000fdfb-0000-1000-8000-00805f9b34fb": "Tandem t:slim X2",
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

CloudOption = Annotated[str, typer.Option("--cloud", envvar="DIAHIL_CLOUD", help="Cloud base URL")]
EmailOption = Annotated[str, typer.Option("--email", envvar="DIAHIL_EMAIL")]
PasswordOption = Annotated[str, typer.Option("--password", envvar="DIAHIL_PASSWORD")]
AccountOption = Annotated[
    str | None,
    typer.Option(
        "--account", envvar="DIAHIL_ACCOUNT", help="Account name (default: the current one)"
    ),
]
StateOption = Annotated[
    Path | None, typer.Option("--state", envvar="DIAHIL_STATE", help="Sync state database file")
]
SupportBundleOption = Annotated[
    Path | None,
    typer.Option(
        "--support-bundle",
        help="Write a zip for support (logs, device, versions, settings, sync state; no secrets)",
    ),
]
CaptureOption = Annotated[
    bool,
    typer.Option("--capture", help="Put the raw exchange with the device in the support bundle"),
]
CaptureFileOption = Annotated[
    Path | None,
    typer.Option(
        "--capture",
        help="Record the exchange with the device to FILE (USB: .pcap/.pcapng, usbmon; "
        "Bluetooth: .btsnoop/.pcapng); the support bundle holds it too",
    ),
]
CaptureFormatOption = Annotated[
    str | None,
    typer.Option(
        "--capture-format", help="pcap, pcapng or btsnoop (default: from FILE's extension)"
    ),
]


def _fail(message: str, as_json: bool) -> typer.Exit:
    code = int(ExitCode.USAGE)
    if as_json:
        print(
            json.dumps(
                {"status": "error", "error": "UsageError", "message": message, "exit_code": code}
            )
        )
    else:
        Console(stderr=True).print(f"[bold red]Usage error[/bold red] {escape(message)}")
    return typer.Exit(code)


def execute(
    options: UploadOptions,
    as_json: bool,
    debug: bool = False,
    support_bundle: Path | None = None,
    capture: Path | None = None,
    capture_format: str | None = None,
) -> int:
    """Run one upload with console output (a capture file, a support bundle); returns the
    exit code."""
    console = Console()
    progress = None
    recording: CaptureSession | None = None
    if capture is not None:
        try:
            recording = CaptureSession.start(options, capture, capture_format)
        except UsageError as error:
            return _fail(error.user_message(), as_json).exit_code
    exchange = recording.exchange if recording is not None else None
    if not as_json:
        progress = RichProgress(Console(stderr=True))
        options.progress = progress
    try:
        result = run_upload(options)
    except KeyboardInterrupt:
        Console(stderr=True).print(
            "Interrupted. Nothing unverified was recorded; run again to finish."
        )
        _write_capture(recording)  # what was exchanged until Ctrl-C
        return 130
    except Exception as error:  # every failure ends as one clear message and an exit code
        if progress:
            progress.stop()
        failure = error if isinstance(error, UploaderError) else InternalError.wrap(error)
        files = _write_capture(recording)
        if support_bundle is not None:
            _write_bundle(support_bundle, options, exchange, error=failure, files=files)
        steps = {"steps": options.run_log.steps_json()}
        return report_error(error, as_json, debug, extra=steps)
    finally:
        if progress:
            progress.stop()
    files = _write_capture(recording)
    if support_bundle is not None:
        _write_bundle(support_bundle, options, exchange, result=result, files=files)
    if as_json:
        body = {**result.as_dict(), "steps": options.run_log.steps_json(), "exit_code": 0}
        print(json.dumps(body, indent=2))
    else:
        print_summary(result, console)
    return int(ExitCode.OK)


def _write_capture(recording: CaptureSession | None) -> list[Path]:
    """Write the capture file of ``--capture FILE``; a failure is a warning."""
    if recording is None or recording.path is None:
        return []
    stderr = Console(stderr=True)
    try:
        written = recording.write()
    except OSError as problem:
        stderr.print(
            f"[yellow]warning:[/yellow] the capture {escape(str(recording.path))} could not be "
            f"written ({escape(str(problem))})."
        )
        return []
    for path in written:
        stderr.print(f"Capture written to {escape(str(path))}", highlight=False)
    if not written:
        stderr.print("No capture written: nothing was exchanged with a device.")
    return written


def _write_bundle(
    path: Path,
    options: UploadOptions,
    exchange: ExchangeCapture | None,
    result: UploadResult | None = None,
    error: UploaderError | None = None,
    files: list[Path] | None = None,
) -> None:
    """Write the support bundle; a failure to write it is a warning, not the run's outcome."""
    stderr = Console(stderr=True)
    try:
        write_bundle(
            path, options=options, log=options.run_log, result=result, error=error,
            capture=exchange, capture_files=files or [],
        )  # fmt: skip
    except UploaderError as problem:
        stderr.print(f"[yellow]warning:[/yellow] {escape(problem.user_message())}")
        return
    stderr.print(f"Support bundle written to {escape(str(path))}", highlight=False)


def upload_command(
    device: Annotated[
        str,
        typer.Argument(
            help="usb, usb:VID:PID[:SERIAL], ble, ble:ADDRESS, ble:NAME or usbip://HOST:PORT/BUSID"
        ),
    ] = "usb",
    cloud: CloudOption = "",
    timezone: Annotated[
        str, typer.Option("--timezone", help="IANA zone of the device's most recent data")
    ] = "",
    email: EmailOption = "",
    password: PasswordOption = "",
    account: AccountOption = None,
    state: StateOption = None,
    ble_transport: BleTransportOption = None,
    passkey: Annotated[
        str | None,
        typer.Option("--passkey", help="The 6-digit code the device shows (else you are asked)"),
    ] = None,
    pairing_code: Annotated[
        str | None,
        typer.Option(
            "--pairing-code",
            help="A Tandem t:slim X2's pairing code, as the pump shows it: 16 characters, or "
            "6 digits on newer firmware (else you are asked once; it is remembered for the pump)",
        ),
    ] = None,
    scan_timeout: Annotated[
        float, typer.Option("--scan-timeout", min=0.1, help="Bluetooth scan, seconds")
    ] = 5.0,
    timeout_ms: Annotated[int, typer.Option("--device-timeout-ms", min=1)] = 5000,
    retries: Annotated[
        int, typer.Option("--retries", min=1, max=20, help="Tries per cloud request")
    ] = 4,
    retry_budget_s: Annotated[
        float,
        typer.Option(
            "--retry-budget-s", min=1, help="Seconds one cloud request may take, retries included"
        ),
    ] = 120.0,
    cloud_timeout_s: Annotated[
        float,
        typer.Option("--cloud-timeout-s", min=0.1, help="Seconds to wait for one cloud answer"),
    ] = 30.0,
    chunk_size: Annotated[
        int, typer.Option("--chunk-size", min=1, max=1000, help="Datums per upload request")
    ] = 1000,
    clock_warning_minutes: Annotated[
        float,
        typer.Option(
            "--clock-warning-minutes",
            min=0,
            help="Warn when the device clock is further than this from the computer's",
        ),
    ] = 15.0,
    set_clock: Annotated[
        bool,
        typer.Option(
            "--set-clock",
            help="Set the device clock to this computer's (in --timezone) where it can be set",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object (for CI)")] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks of internal errors")
    ] = False,
    support_bundle: SupportBundleOption = None,
    capture: CaptureFileOption = None,
    capture_format: CaptureFormatOption = None,
) -> None:
    """Read a device, upload its new data to the cloud, and verify it arrived."""
    if not timezone:
        raise _fail("Missing --timezone (the IANA zone of the device's most recent data).", as_json)
    try:  # explicit --cloud/--email, else the account; the password else from the keyring
        credentials = resolve_credentials(cloud, email, password, account)
    except UsageError as error:
        raise _fail(error.user_message(), as_json) from None
    cloud, email, password = credentials.cloud_url, credentials.email, credentials.password
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
        pairing_code=fixed_code(pairing_code) if pairing_code is not None else None,
        device_timeout_ms=timeout_ms,
        retry=RetryPolicy(attempts=retries, budget_s=retry_budget_s),
        cloud_timeout_s=cloud_timeout_s,
        chunk_size=chunk_size,
        clock_warning=timedelta(minutes=clock_warning_minutes),
        set_clock=set_clock,
    )
    raise typer.Exit(
        execute(options, as_json, debug, support_bundle, capture, capture_format=capture_format)
    )


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
            "supported": any(s in BLE_DRIVERS for s in ad.service_uuids),
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
