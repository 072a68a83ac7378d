"""``diahil``: the command line. Each package contributes its own commands; this wires them.

diahil demo                      the whole path, end to end, in one command
diahil upload DEVICE ...         the uploader (uploader.cli)
diahil scan                      Bluetooth devices advertising nearby (uploader.cli)
diahil watch ...                 upload when a device appears and on a schedule (uploader.watch_cli)
diahil status                    the last upload of every device (uploader.watch_cli)
diahil devices                   supported models and minimum firmware (uploader.devices_cli)
diahil account add|list|use|...  cloud accounts, passwords in the OS keyring (uploader.cli_accounts)
diahil cloud serve|add-user      the mock cloud (mock_cloud.cli)
diahil emulate gls-meter|cgm|ids-pump|tslim-x2  an emulated Bluetooth device (emulator.cli)
diahil emulate contour-usb --usbip H:P  an emulated USB meter exported over USB/IP
diahil replay CAPTURE            a recorded device answers the real uploader again (hil.replay_cli)
diahil reproduce BUNDLE.zip      a support bundle's upload run again on its device (hil.reproduce)
diahil rig check [rig.toml]      every item of a bench rig present? (hil.rig.cli)
"""

from __future__ import annotations

import sys
from functools import cache
from typing import Annotated, Any

import typer

from uploader.cli import scan_command, upload_command
from uploader.cli_accounts import app as accounts_app
from uploader.devices_cli import devices_command
from uploader.watch_cli import status_command, watch_command

UPLOADER_COMMANDS = frozenset({"upload", "scan", "devices", "watch", "status", "account"})
"""Commands that need only the uploader: ``diahil upload`` does not import the mock cloud,
the emulators and FastAPI (about 0.7 s of start-up on the CI machine)."""


def demo(
    days: Annotated[int, typer.Option(min=1, max=3650, help="Days of meter history")] = 90,
    seed: Annotated[int, typer.Option(help="Seed of the generated history")] = 7,
    timezone: Annotated[
        str, typer.Option(help="IANA timezone of the emulated person")
    ] = "America/New_York",
    serve: Annotated[bool, typer.Option(help="Keep the mock cloud running afterwards")] = False,
) -> None:
    """Emulated meter -> real uploader over pyusb -> mock cloud, verified against the ledger."""
    from hil.demo import run_demo

    raise typer.Exit(run_demo(days=days, seed=seed, timezone=timezone, serve=serve))


def build_app(*, uploader_only: bool = False) -> typer.Typer:
    """The ``diahil`` command; ``uploader_only`` leaves out the cloud, emulators and demo."""
    built = typer.Typer(
        name="diahil",
        help="Hardware-in-the-loop test suite and device emulators for diabetes devices.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    built.command("upload")(upload_command)
    built.command("scan")(scan_command)
    built.command("devices")(devices_command)
    built.command("watch")(watch_command)
    built.command("status")(status_command)
    built.add_typer(accounts_app, name="account", help="Cloud accounts for uploads (OS keyring).")
    if uploader_only:
        return built
    from emulator.cli import app as emulate_app
    from hil.replay_cli import replay_command
    from mock_cloud.cli import app as cloud_app

    built.add_typer(cloud_app, name="cloud", help="Run and administer the mock cloud.")
    built.add_typer(emulate_app, name="emulate", help="Run an emulated device as a process.")
    built.command("demo")(demo)
    built.command("replay")(replay_command)
    from hil.reproduce_cli import reproduce_command

    built.command("reproduce")(reproduce_command)
    from hil.rig.cli import app as rig_app

    built.add_typer(rig_app, name="rig", help="The bench rig: `diahil rig check [rig.toml]`.")
    return built


@cache
def _full_app() -> typer.Typer:
    return build_app()


def __getattr__(name: str) -> Any:
    """``hil.cli.app``: the whole command, built on first use."""
    if name == "app":
        return _full_app()
    raise AttributeError(name)


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    build_app(uploader_only=command in UPLOADER_COMMANDS)()


if __name__ == "__main__":
    main()
