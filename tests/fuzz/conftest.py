"""Hypothesis settings for the fuzz property tests (issue 10), and ``run_harnesses``.

Profile ``ci`` (the default): derandomized, so every run tries the same inputs, and a small
example budget, so the whole fuzz set stays within seconds. Profile ``long`` (set
``HYPOTHESIS_PROFILE=long``) for a longer, random local run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[2]

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "long",
    max_examples=20_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def run_harnesses(tmp_path: Path) -> Callable[[Iterable[str], int], list[str]]:
    """``run_harnesses(targets, runs)``: ``python -m bench.fuzz --runs=RUNS --seed=1 TARGETS``
    (bench/fuzz/__main__.py) in a subprocess, with a fresh corpus; fails unless it exits 0;
    its output lines (``TARGET RUNS ...``, one a harness)."""

    def run(targets: Iterable[str], runs: int) -> list[str]:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.fuzz",
                f"--runs={runs}",
                "--seed=1",
                f"--corpus={tmp_path / 'corpus'}",
                f"--crashes={tmp_path / 'crashes'}",
                *sorted(targets),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=110,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr[-4000:]
        return result.stdout.splitlines()

    return run
