"""``diahil reproduce SCENARIO.yaml``: run one scenario and print its verdict.

Exit codes: 0 the scenario passed, 1 it failed (every difference printed), 2 the file is
not a usable scenario (the message names the line and the field).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from hil.scenarios.loader import ScenarioFileError, load_scenario
from hil.scenarios.runner import run_scenario

PASSED, FAILED, BAD_FILE = 0, 1, 2
SCENARIO_SUFFIXES = (".yaml", ".yml")


def is_scenario(path: Path) -> bool:
    return path.suffix.lower() in SCENARIO_SUFFIXES


def reproduce_scenario(path: Path, as_json: bool) -> NoReturn:
    """Run the scenario at ``path``; always ends with ``typer.Exit`` and the verdict's code."""
    try:
        scenario = load_scenario(path)
    except ScenarioFileError as problem:
        if as_json:
            body = {"passed": None, "error": "ScenarioFileError", "message": str(problem)}
            print(json.dumps({**body, "exit_code": BAD_FILE}))
        else:
            Console(stderr=True, highlight=False).print(
                f"[bold red]Not a usable scenario[/bold red]\n{escape(str(problem))}"
            )
        raise typer.Exit(BAD_FILE) from None
    verdict = run_scenario(scenario)
    code = PASSED if verdict.passed else FAILED
    if as_json:
        print(json.dumps({**verdict.as_dict(), "exit_code": code}, indent=2))
        raise typer.Exit(code)
    console = Console(highlight=False)
    console.print(f"scenario: {escape(verdict.scenario)}")
    for run in verdict.runs:
        mark = "[green]ok[/green]  " if run.passed else "[red]FAIL[/red]"
        console.print(f"{mark} run {run.index}: expected {escape(run.expected)}")
        console.print(f"          happened: {escape(run.happened)}")
        for difference in run.differences:
            console.print(f"          [red]{escape(difference)}[/red]")
    for note in verdict.notes:
        console.print(f"note: {escape(note)}")
    style, word = ("green", "PASSED") if verdict.passed else ("red", "FAILED")
    console.print(f"[bold {style}]{word}[/bold {style}]: {escape(verdict.scenario)}")
    raise typer.Exit(code)
