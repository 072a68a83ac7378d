"""The support engineer's desk for one ``diahil replay``: a fresh mock cloud in this process,
an account on it, a throwaway state file, and progress on stderr unless ``--json``.

Both replays (USB, ``hil.replay_cli``; Bluetooth LE, ``hil.replay_ble_cli``) upload through
it, so a replay never touches the user's cloud or this computer's sync state, and print how
it ended (or why the capture cannot be replayed) through it, alike.
"""

from __future__ import annotations

import json
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from hil.cloud import InProcessCloud
from hil.harness import UploadHarness
from uploader.console_output import RichProgress, print_summary, report_error
from uploader.errors import ExitCode, UploaderError
from uploader.session import UploadResult


@contextmanager
def desk_harness(timezone: str, as_json: bool) -> Iterator[tuple[UploadHarness, dict[str, Any]]]:
    """A harness on a new, empty mock cloud, and the upload overrides (progress) to pass
    with it; the cloud and the state are gone afterwards."""
    cloud = InProcessCloud()
    try:
        account = cloud.create_account("replay@diahil.test", secrets.token_urlsafe(12))
        with tempfile.TemporaryDirectory(prefix="diahil-replay-") as tmp:
            harness = UploadHarness(
                cloud_url=cloud.base_url,
                account=account,
                timezone=timezone,
                state_path=Path(tmp) / "state.sqlite3",
                usb_backend=None,
                transport_factory=cloud.transport,
            )
            progress = None if as_json else RichProgress(Console(stderr=True))
            try:
                yield harness, ({"progress": progress} if progress else {})
            finally:
                if progress:
                    progress.stop()
    finally:
        cloud.close()


def cannot_replay(message: str, as_json: bool) -> int:
    """Say why the capture cannot be replayed; the exit code (usage)."""
    if as_json:
        body = {"status": "error", "error": "ReplayError", "message": message}
        print(json.dumps({**body, "exit_code": int(ExitCode.USAGE)}))
    else:
        Console(stderr=True).print(f"[bold red]Cannot replay[/bold red] {escape(message)}")
    return int(ExitCode.USAGE)


def report_upload(
    result: UploadResult | None,
    error: UploaderError | None,
    replayed: dict[str, Any],
    closing: str,
    as_json: bool,
) -> int:
    """Print how the replayed upload ended, as ``diahil upload`` does, with the ``replayed``
    facts (JSON) or the ``closing`` line (rich markup); the exit code."""
    if error is not None:
        return report_error(error, as_json, debug=False, extra={"replay": replayed})
    assert result is not None
    if as_json:
        print(json.dumps({**result.as_dict(), "replay": replayed, "exit_code": 0}, indent=2))
    else:
        print_summary(result, Console())
        Console().print(closing)
    return 0
