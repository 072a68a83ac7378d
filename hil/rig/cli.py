"""``diahil rig check [rig.toml]``: verify every item a bench's rig.toml names.
``diahil rig emulate``: an emulated fixture (nothing wired) on a CAN bus, as a process.

Exit codes of ``check``: 0 everything present, 3 something missing (each named, with what to
do), 2 the rig file cannot be read or is not valid (the message names the line or the key).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False)


@app.command("check")
def check_command(
    rig_file: Annotated[
        Path, typer.Argument(help="The bench's rig.toml (see examples/rig.toml)")
    ] = Path("rig.toml"),
    ble_transport: Annotated[
        str | None,
        typer.Option(help="Scan with a Bumble HCI transport (usb:0, tcp-client:HOST:PORT)"),
    ] = None,
    scan_seconds: Annotated[
        float, typer.Option(min=0.5, help="How long to scan for Bluetooth devices")
    ] = 5.0,
) -> None:
    """Check the CAN fixture, every device on its port/URL/serial, and the cloud."""
    from hil.rig.check import Probes, check_rig
    from hil.rig.config import RigConfigError, load_rig

    try:
        config = load_rig(rig_file)
    except RigConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    report = check_rig(config, Probes(ble_transport=ble_transport), scan_seconds=scan_seconds)
    typer.echo(f"Rig {config.name} ({rig_file}):")
    typer.echo(report.render())
    raise typer.Exit(0 if report.ok else 3)


@app.command("emulate")
def emulate_command(
    interface: Annotated[str, typer.Option(help="python-can interface")] = "udp_multicast",
    channel: Annotated[str, typer.Option(help="python-can channel")] = "239.74.163.2",
    can_port: Annotated[
        int | None, typer.Option(help="UDP port for udp_multicast (pick one of your own)")
    ] = None,
    ports: Annotated[int, typer.Option(min=1, max=8, help="Ports the fixture has")] = 8,
) -> None:
    """An emulated rig fixture (heartbeat, acks, readback; no devices wired) until Ctrl-C."""
    import time

    import can

    from hil.rig.emulated import EmulatedRig

    options: dict[str, Any] = {"port": can_port} if can_port is not None else {}
    try:
        bus = can.Bus(interface=interface, channel=channel, **options)
    except (can.CanError, OSError, ValueError, ImportError) as exc:
        typer.echo(f"cannot open CAN interface {interface!r} channel {channel!r}: {exc}", err=True)
        raise typer.Exit(3) from None
    with EmulatedRig(bus, port_count=ports):
        typer.echo(f"rig fixture ready on {interface}:{channel} ({ports} ports)", err=False)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    app()
