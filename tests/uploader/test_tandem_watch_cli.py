"""``diahil watch --pairing-code``: the same option, with the same meaning, as ``diahil upload``
has (a Tandem t:slim X2's code, given once and then remembered for the pump)."""

from __future__ import annotations

import asyncio

import pytest
import typer
from typer.testing import CliRunner

from uploader import watch_cli
from uploader.session import UploadOptions
from uploader.watch import WatchConfig

ARGS = [
    "--timezone",
    "Europe/Berlin",
    "--cloud",
    "http://127.0.0.1:9",
    "--email",
    "qa@example.org",
    "--password",
    "secret",
    "--no-usb",
    "--ble",
    "--once",
]


def _invoke(monkeypatch: pytest.MonkeyPatch, *extra: str) -> UploadOptions:
    seen: list[UploadOptions] = []

    def run(config: WatchConfig, template: UploadOptions, as_json: bool) -> int:
        seen.append(template)
        return 0

    monkeypatch.setattr(watch_cli, "run_watch", run)
    app = typer.Typer()
    app.command()(watch_cli.watch_command)
    result = CliRunner().invoke(app, [*ARGS, *extra])
    assert result.exit_code == 0, result.output
    (template,) = seen
    return template


def test_watch_passes_the_pairing_code_to_every_upload(monkeypatch: pytest.MonkeyPatch) -> None:
    template = _invoke(monkeypatch, "--pairing-code", "ABCD-EFGH-JKLM-NPQR")
    assert template.pairing_code is not None
    provide = template.pairing_code

    async def shown() -> str:
        return await provide("tslim X2 ***711")

    assert asyncio.run(shown()) == "ABCD-EFGH-JKLM-NPQR"


def test_watch_without_a_pairing_code_leaves_it_to_the_remembered_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert _invoke(monkeypatch).pairing_code is None
