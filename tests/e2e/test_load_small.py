"""The load run, small: a dozen emulated devices of every kind upload at once to one mock
cloud under uvicorn on loopback; every device's ledger is then in the cloud exactly once.
(``bench/load.py`` is the same run with 200 devices, by hand.)"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hil.cloud import CloudServer
from hil.load import KINDS, mixed_kinds, run_load


def test_a_dozen_mixed_devices_at_once_lose_nothing_and_duplicate_nothing(
    tmp_path: Path, hil_timezone: str, hil_now: datetime | None
) -> None:
    now = hil_now or datetime.now(UTC).replace(microsecond=0)
    kinds = mixed_kinds(12)
    assert set(kinds) == set(KINDS)
    with CloudServer(f"sqlite:///{tmp_path / 'cloud.sqlite3'}", test_mode=True) as server:
        report = run_load(server, kinds, tmp_path, hil_timezone, now)
    assert [d.error for d in report.devices] == [None] * len(kinds)
    assert all(d.records > 0 for d in report.devices)
    assert (report.lost, report.duplicated, report.failed) == (0, 0, [])
    assert len(report.chunk_ms) >= len(kinds)  # every device sent at least one chunk
