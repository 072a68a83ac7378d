"""``diahil emulate gls-meter|cgm|ids-pump|tslim-x2|contour-usb``: run one emulated device.

Mounted by the project CLI as ``diahil emulate``; also runs alone as
``python -m emulator.cli``. A Bluetooth device's virtual controller is served over the Bumble
transport ``--hci`` names (``tcp-server:127.0.0.1:9000``; port 0 picks a free one, printed);
``contour-usb --usbip HOST:PORT`` exports a USB meter over USB/IP (``emulator.usbip``); each
has a control endpoint (``emulator.control``) on ``--control`` to read the pairing code
and inject faults. An option value that cannot work prints one line ``error: ...`` on stderr
and exits with status 2; a device that cannot start (port in use) exits with status 1.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

if TYPE_CHECKING:  # the Bluetooth modules load Bumble: only the commands that need them do
    from emulator.ble.process import EmulatorOptions
    from emulator.ble.quirks import CgmQuirks, GlsQuirks

app = typer.Typer(
    help="Run an emulated device as a process: a Bluetooth LE GLS meter, CGM, IDS insulin "
    "pump or Tandem t:slim X2, or a Contour USB meter exported over USB/IP.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_ADDRESS = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")

HciOption = Annotated[
    str,
    typer.Option(
        "--hci",
        help="Bumble transport moniker to serve the virtual controller on, "
        "e.g. tcp-server:127.0.0.1:9000 (port 0: any free port)",
        show_default=False,
    ),
]
ControlOption = Annotated[
    str, typer.Option("--control", help="HOST:PORT of the control endpoint (port 0: any free)")
]
PasskeyOption = Annotated[
    str | None,
    typer.Option("--passkey", help="Always display this 6-digit code (default: a fresh one)"),
]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed of the generated history")]
NameOption = Annotated[str | None, typer.Option("--name", help="Advertised name")]
AddressOption = Annotated[
    str | None, typer.Option("--address", help="Random static address, e.g. F0:F0:F0:F0:F0:01")
]
ReversedOption = Annotated[
    bool, typer.Option("--reversed-sequence", help="Quirk: report records newest first")
]
IntervalOption = Annotated[
    float,
    typer.Option("--connection-interval-ms", help="Quirk: wait this long before each notification"),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print the identity as one JSON object when ready")
]
PumpTimezoneOption = Annotated[
    str, typer.Option("--timezone", help="IANA timezone of the person using the pump")
]
ClockChangesOption = Annotated[
    bool,
    typer.Option(
        "--clock-changes/--no-clock-changes",
        help="The user moves the pump clock at DST changes (and once by mistake)",
    ),
]


class UsageError(Exception):
    pass


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=code)


def _passkey(text: str | None) -> int | None:
    if text is None:
        return None
    if not re.fullmatch(r"\d{6}", text):
        raise UsageError(f"--passkey must be exactly 6 digits, got {text!r}")
    return int(text)


def _timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"--timezone must be an IANA timezone name such as Europe/Berlin, got {name!r}"
        ) from None
    return name


def _host_port(text: str, option: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise UsageError(f"{option} must be HOST:PORT (port 0..65535), got {text!r}")
    return host.strip("[]"), int(port)


def _options(
    kind: str,
    *,
    hci: str,
    control: str,
    passkey: str | None,
    seed: int,
    days: int,
    name: str | None,
    address: str | None,
    e2e_crc: bool = False,
    gls_quirks: GlsQuirks | None = None,
    cgm_quirks: CgmQuirks | None = None,
    timezone: str = "UTC",
    clock_changes: bool = True,
    connection_interval_ms: float = 0.0,
    as_json: bool = False,
) -> EmulatorOptions:
    from emulator.ble.process import EmulatorOptions
    from emulator.ble.quirks import CgmQuirks, GlsQuirks

    if not hci or ":" not in hci:
        raise UsageError(
            f"--hci must be a Bumble transport moniker like tcp-server:HOST:PORT, got {hci!r}"
        )
    if address is not None and not _ADDRESS.match(address):
        raise UsageError(f"--address must look like F0:F0:F0:F0:F0:01, got {address!r}")
    if days < 1:
        raise UsageError(f"--days must be at least 1, got {days}")
    host, port = _host_port(control, "--control")
    return EmulatorOptions(
        kind=kind,
        hci=hci,
        control_host=host,
        control_port=port,
        passkey=_passkey(passkey),
        seed=seed,
        days=days,
        e2e_crc=e2e_crc,
        name=name,
        address=address,
        gls_quirks=gls_quirks or GlsQuirks(),
        cgm_quirks=cgm_quirks or CgmQuirks(),
        timezone=_timezone(timezone),
        clock_changes=clock_changes,
        connection_interval_ms=connection_interval_ms,
        json=as_json,
    )


def _run(build: Callable[[], EmulatorOptions]) -> None:
    """Validate the options (one line and status 2 when they cannot work), then run."""
    from emulator.ble.process import main

    try:
        options = build()
    except (UsageError, ValueError) as error:
        raise _fail(str(error)) from None
    raise typer.Exit(main(options))


@app.command("gls-meter")
def gls_meter(
    hci: HciOption = "",
    control: ControlOption = "127.0.0.1:0",
    passkey: PasskeyOption = None,
    seed: SeedOption = 1,
    days: Annotated[int, typer.Option("--days", help="Days of meter history")] = 90,
    name: NameOption = None,
    address: AddressOption = None,
    reversed_sequence: ReversedOption = False,
    date_time: Annotated[
        bool, typer.Option("--date-time", help="Quirk: Date Time (0x2A08) instead of Current Time")
    ] = False,
    connection_interval_ms: IntervalOption = 0.0,
    as_json: JsonOption = False,
) -> None:
    """A glucose meter speaking the Glucose Service (0x1808)."""
    from emulator.ble.quirks import GlsQuirks

    _run(
        lambda: _options(
            "gls-meter",
            hci=hci,
            control=control,
            passkey=passkey,
            seed=seed,
            days=days,
            name=name,
            address=address,
            gls_quirks=GlsQuirks(
                reversed_sequence=reversed_sequence,
                date_time_characteristic=date_time,
                connection_interval_ms=connection_interval_ms,
            ),
            as_json=as_json,
        )
    )


@app.command("cgm")
def cgm(
    hci: HciOption = "",
    control: ControlOption = "127.0.0.1:0",
    passkey: PasskeyOption = None,
    seed: SeedOption = 1,
    days: Annotated[
        int, typer.Option("--days", help="Days since the first sensor session started")
    ] = 10,
    e2e_crc: Annotated[bool, typer.Option("--e2e-crc", help="Protect values with E2E-CRC")] = False,
    name: NameOption = None,
    address: AddressOption = None,
    reversed_sequence: ReversedOption = False,
    connection_interval_ms: IntervalOption = 0.0,
    as_json: JsonOption = False,
) -> None:
    """A CGM speaking the Continuous Glucose Monitoring Service (0x181F)."""
    from emulator.ble.quirks import CgmQuirks

    _run(
        lambda: _options(
            "cgm",
            hci=hci,
            control=control,
            passkey=passkey,
            seed=seed,
            days=days,
            e2e_crc=e2e_crc,
            name=name,
            address=address,
            cgm_quirks=CgmQuirks(
                reversed_sequence=reversed_sequence,
                connection_interval_ms=connection_interval_ms,
            ),
            as_json=as_json,
        )
    )


@app.command("ids-pump")
def ids_pump(
    hci: HciOption = "",
    control: ControlOption = "127.0.0.1:0",
    passkey: PasskeyOption = None,
    seed: SeedOption = 1,
    days: Annotated[int, typer.Option("--days", help="Days of pump history")] = 90,
    timezone: PumpTimezoneOption = "UTC",
    clock_changes: ClockChangesOption = True,
    e2e: Annotated[bool, typer.Option("--e2e", help="E2E protection (counter and CRC)")] = False,
    name: NameOption = None,
    address: AddressOption = None,
    connection_interval_ms: IntervalOption = 0.0,
    as_json: JsonOption = False,
) -> None:
    """An insulin pump speaking the Insulin Delivery Service (0x183A)."""
    _run(
        lambda: _options(
            "ids-pump",
            hci=hci,
            control=control,
            passkey=passkey,
            seed=seed,
            days=days,
            e2e_crc=e2e,
            name=name,
            address=address,
            timezone=timezone,
            clock_changes=clock_changes,
            connection_interval_ms=connection_interval_ms,
            as_json=as_json,
        )
    )


@app.command("tslim-x2")
def tslim_x2(
    hci: HciOption = "",
    control: ControlOption = "127.0.0.1:0",
    passkey: Annotated[
        str | None,
        typer.Option(
            "--passkey",
            help="The pairing code the pump shows: 16 characters, e.g. ABCD-EFGH-JKLM-NPQR "
            "(dashes and spaces ignored; default: that one), or 6 digits, e.g. 123456, for the "
            "newer firmware that pairs with EC-JPAKE (API 3.2)",
        ),
    ] = None,
    seed: SeedOption = 1,
    days: Annotated[int, typer.Option("--days", help="Days of pump history")] = 90,
    timezone: PumpTimezoneOption = "UTC",
    clock_changes: ClockChangesOption = True,
    name: NameOption = None,
    address: AddressOption = None,
    connection_interval_ms: IntervalOption = 0.0,
    as_json: JsonOption = False,
) -> None:
    """A Tandem t:slim X2 insulin pump (pump service 0xFDFB, pumpX2's description)."""

    def build() -> EmulatorOptions:
        from dataclasses import replace

        from emulator.protocols.tandem_auth import AuthError, normalize_code
        from emulator.protocols.tandem_jpake import is_six_digit

        if passkey is not None and not is_six_digit(passkey):
            try:
                normalize_code(passkey)
            except AuthError as error:
                raise UsageError(
                    f"--passkey: {error}; or 6 digits (e.g. 123456) for a newer pump"
                ) from None
        options = _options(
            "tslim-x2",
            hci=hci,
            control=control,
            passkey=None,
            seed=seed,
            days=days,
            name=name,
            address=address,
            timezone=timezone,
            clock_changes=clock_changes,
            connection_interval_ms=connection_interval_ms,
            as_json=as_json,
        )
        return replace(options, pairing_code=passkey)

    _run(build)


@app.command("contour-usb")
def contour_usb(
    usbip: Annotated[
        str,
        typer.Option(
            "--usbip",
            help="HOST:PORT to export the meter on over USB/IP (port 0: any free port; "
            "3240 is usbipd's)",
            show_default=False,
        ),
    ] = "",
    control: ControlOption = "127.0.0.1:0",
    seed: SeedOption = 1,
    days: Annotated[int, typer.Option("--days", help="Days of meter history")] = 90,
    serial: Annotated[str, typer.Option("--serial", help="Serial number")] = "7390-2336773",
    model: Annotated[
        str, typer.Option("--model", help="Contour Next USB, Contour USB or Contour Next One")
    ] = "Contour Next USB",
    firmware: Annotated[str, typer.Option("--firmware", help="Firmware version")] = "01.24",
    timezone: Annotated[
        str, typer.Option("--timezone", help="IANA timezone the meter's clock is set to")
    ] = "UTC",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the identity as one JSON object")
    ] = False,
) -> None:
    """A Contour USB blood glucose meter exported over USB/IP."""
    from emulator.devices.contour_usb import CONTOUR_USB_MODELS
    from emulator.usbip.process import UsbipEmulatorOptions
    from emulator.usbip.process import main as usbip_main

    try:
        if not usbip:
            raise UsageError("--usbip HOST:PORT is required, e.g. --usbip 127.0.0.1:3240")
        host, port = _host_port(usbip, "--usbip")
        control_host, control_port = _host_port(control, "--control")
        if days < 1:
            raise UsageError(f"--days must be at least 1, got {days}")
        if model not in CONTOUR_USB_MODELS:
            known = ", ".join(sorted(CONTOUR_USB_MODELS))
            raise UsageError(f"--model must be one of {known}, got {model!r}")
        options = UsbipEmulatorOptions(
            host=host,
            port=port,
            seed=seed,
            days=days,
            serial_number=serial,
            family=model,
            firmware=firmware,
            timezone=_timezone(timezone),
            control_host=control_host,
            control_port=control_port,
            json=as_json,
        )
    except UsageError as error:
        raise _fail(str(error)) from None
    raise typer.Exit(usbip_main(options))


if __name__ == "__main__":
    app()
