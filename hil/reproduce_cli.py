"""``diahil reproduce BUNDLE.zip``: the command line of ``hil.reproduce``.

``diahil reproduce SCENARIO.yaml`` runs a scenario instead (``hil.scenarios.cli``).

Prints how the device was rebuilt, the recorded outcome, this run's, and the verdict
(``--json``: one object). Exit codes: 0 reproduced, 1 did not reproduce, 2 the bundle cannot
be reproduced (the message says what is missing and how to get it).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from hil.reproduce import BundleProblem, reproduce
from hil.scenarios.cli import is_scenario, reproduce_scenario

REPRODUCED, NOT_REPRODUCED, UNUSABLE_BUNDLE = 0, 1, 2


def reproduce_command(
    bundle: Annotated[
        Path,
        typer.Argument(
            help="A support bundle (diahil upload --support-bundle), or a scenario (.yaml)"
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Rebuild the device of a support bundle and run the same upload against a fresh mock
    cloud; say whether it ends the same way. A scenario file (.yaml) is run instead, and its
    verdict printed (exit 0 passed, 1 failed, 2 bad file)."""
    if is_scenario(bundle):
        reproduce_scenario(bundle, as_json)
    with tempfile.TemporaryDirectory(prefix="diahil-reproduce-") as work:
        try:
            outcome = reproduce(bundle, Path(work))
        except BundleProblem as problem:
            if as_json:
                print(
                    json.dumps(
                        {
                            "reproduced": None,
                            "error": "BundleProblem",
                            "message": str(problem),
                            "exit_code": UNUSABLE_BUNDLE,
                        }
                    )
                )
            else:
                Console(stderr=True).print(
                    f"[bold red]Cannot reproduce[/bold red] {escape(str(problem))}"
                )
            raise typer.Exit(UNUSABLE_BUNDLE) from None
    code = REPRODUCED if outcome.reproduced else NOT_REPRODUCED
    if as_json:
        print(json.dumps({**outcome.as_dict(), "exit_code": code}, indent=2))
        raise typer.Exit(code)
    console = Console(highlight=False)
    console.print(f"device:   {escape(outcome.device)}")
    for label, ended in (("recorded", outcome.recorded), ("this run", outcome.replayed)):
        console.print(f"{label}: {escape(ended.describe())}")
        if ended.message:
            console.print(f"          {escape(ended.message)}")
    if outcome.divergence:
        console.print(escape(outcome.divergence))
    style = "green" if outcome.reproduced else "yellow"
    console.print(f"[bold {style}]{escape(outcome.verdict())}[/bold {style}]")
    raise typer.Exit(code)
