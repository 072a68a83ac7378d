"""The support engineer's desk for one ``diahil replay``: a fresh mock cloud in this process,
an account on it, a throwaway state file, and progress on stderr unless ``--json``.

Both replays (USB, ``hil.replay_cli``; Bluetooth LE, ``hil.replay_ble_cli``) upload through
it, so a replay never touches the user's cloud or this computer's sync state.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console

from hil.cloud import InProcessCloud
from hil.harness import UploadHarness
from uploader.console_output import RichProgress


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
