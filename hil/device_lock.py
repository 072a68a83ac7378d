"""One holder per physical device: an exclusive file lock per device, shared by processes.

pytest-xdist workers (and separate pytest runs on the same rig host) lock a file named after
the device's serial number or URL in a shared directory before they touch the device, so
two of them never drive one meter at once. ``flock`` locks vanish with their process, so a
killed worker never leaves a device locked. The lock file says who holds it, for the error
given when the wait runs out.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DEFAULT_LOCK_DIR = Path(tempfile.gettempdir()) / "diahil-device-locks"


class DeviceBusy(Exception):
    """Another process kept the device for longer than the wait allowed."""


def lock_path(lock_dir: Path, key: str) -> Path:
    """The lock file of ``key`` (readable name plus a hash, so distinct keys never collide)."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", key)[:60]
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return lock_dir / f"{readable}-{digest}.lock"


@contextmanager
def hold_device(
    lock_dir: Path, key: str, holder: str, timeout_s: float = 600.0, poll_s: float = 0.05
) -> Iterator[Path]:
    """Hold the device ``key`` exclusively while the block runs, waiting for it if needed."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    path = lock_path(lock_dir, key)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    owner = path.read_text(encoding="utf-8", errors="replace").strip()
                    raise DeviceBusy(
                        f"device {key} is still held by {owner or 'another process'} after "
                        f"{timeout_s:.0f} s (lock file {path}); wait for that run to finish or "
                        f"raise --hil-lock-timeout"
                    ) from None
                time.sleep(poll_s)
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"pid {os.getpid()}: {holder}\n".encode())
        try:
            yield path
        finally:
            os.ftruncate(descriptor, 0)
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)
