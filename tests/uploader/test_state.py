"""Local sync state: what is verified in which account, kept across runs."""

from __future__ import annotations

from pathlib import Path

from uploader.state import SyncState, record_key


def test_keys_persist_per_account_and_device(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "state.sqlite3"
    state = SyncState(path)
    state.mark_verified("cloud-a#u1", "dev-1", ["k1", "k2"], "set1")
    state.mark_verified("cloud-a#u1", "dev-1", ["k2", "k3"], "set2")  # re-marking is harmless
    state.log_run("cloud-a#u1", "dev-1", "uploaded", {"new_datums": 3})
    state.close()
    again = SyncState(path)
    assert again.uploaded_keys("cloud-a#u1", "dev-1") == {"k1", "k2", "k3"}
    assert again.uploaded_keys("cloud-a#u2", "dev-1") == set()
    assert again.uploaded_keys("cloud-a#u1", "dev-2") == set()
    last = again.last_run("cloud-a#u1", "dev-1")
    assert (
        last is not None and last["status"] == "uploaded" and last["summary"] == {"new_datums": 3}
    )


def test_record_key_ignores_placement_in_time_but_not_the_reading() -> None:
    base = {"type": "smbg", "deviceTime": "2026-01-01T08:00:00", "units": "mg/dL", "value": 100}
    assert record_key({**base, "time": "A", "timezoneOffset": 0}) == record_key(
        {**base, "time": "B"}
    )
    assert record_key(base) != record_key({**base, "value": 101})
    assert record_key(base) != record_key({**base, "deviceTime": "2026-01-01T08:01:00"})
