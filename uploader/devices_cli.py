"""``diahil devices``: the compatibility table (``uploader.compat``) for people and CI.

diahil devices [--json]
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from uploader.compat import TABLE


def devices_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON list")] = False,
) -> None:
    """List the supported device models and the minimum firmware for each."""
    if as_json:
        print(json.dumps([asdict(entry) for entry in TABLE], indent=2))
        return
    table = Table("model", "connection", "driver", "minimum firmware")
    for entry in TABLE:
        table.add_row(entry.model, entry.transport, entry.driver, entry.min_firmware)
    console = Console()
    console.print(table)
    console.print(
        "Minimum firmware is this project's policy: the oldest version the driver was checked "
        "against. An older device is refused with exit code 8 (update its firmware first)."
    )
