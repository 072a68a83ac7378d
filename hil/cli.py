"""``diahil``: the command line. Each package contributes its own commands; this wires them.

diahil demo                      the whole path, end to end, in one command
diahil upload DEVICE ...         the uploader (uploader.cli)
diahil scan                      Bluetooth devices advertising nearby (uploader.cli)
diahil cloud serve|add-user      the mock cloud (mock_cloud.cli)
diahil emulate gls-meter|cgm     an emulated Bluetooth device as a process (emulator.cli)
"""

from __future__ import annotations

from typing import Annotated

import typer

from emulator.cli import app as emulate_app
from hil.demo import run_demo
from mock_cloud.cli import app as cloud_app
from uploader.cli import scan_command, upload_command

app = typer.Typer(
    name="diahil",
    help="Hardware-in-the-loop test suite and device emulators for diabetes devices.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("upload")(upload_command)
app.command("scan")(scan_command)
app.add_typer(cloud_app, name="cloud", help="Run and administer the mock cloud.")
app.add_typer(emulate_app, name="emulate", help="Run an emulated device as a process.")


@app.command()
def demo(
    days: Annotated[int, typer.Option(min=1, max=3650, help="Days of meter history")] = 90,
    seed: Annotated[int, typer.Option(help="Seed of the generated history")] = 7,
    timezone: Annotated[
        str, typer.Option(help="IANA timezone of the emulated person")
    ] = "America/New_York",
    serve: Annotated[bool, typer.Option(help="Keep the mock cloud running afterwards")] = False,
) -> None:
    """Emulated meter -> real uploader over pyusb -> mock cloud, verified against the ledger."""
    raise typer.Exit(run_demo(days=days, seed=seed, timezone=timezone, serve=serve))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
