"""The atheris harnesses of the emulator-side targets, a short fixed-seed run each (issue 10).

Runs ``python -m bench.fuzz --runs=N --seed=1 emu_...`` (bench/fuzz/__main__.py) as a
subprocess: every ``emu_*`` harness fuzzes a fixed number of inputs from a fixed seed,
starting from its regression vectors (tests/vectors/fuzz/emulator/<target>/), and must
finish without a crash. Needs the ``fuzz`` extra (atheris); ``make fuzz`` runs the same
harnesses for minutes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from bench.fuzz.emulator_targets import EMULATOR_TARGETS

ROOT = Path(__file__).resolve().parents[2]
RUNS = 100


def test_every_emulator_harness_survives_a_short_fixed_seed_run(
    run_harnesses: Callable[[Iterable[str], int], list[str]],
) -> None:
    harnesses = {p.stem.removeprefix("fuzz_") for p in (ROOT / "bench/fuzz").glob("fuzz_emu_*.py")}
    assert harnesses == set(EMULATOR_TARGETS)  # one harness per target, none forgotten
    lines = run_harnesses(EMULATOR_TARGETS, RUNS)  # exit status 0: no crash
    assert [line.split()[0] for line in lines] == sorted(EMULATOR_TARGETS)
    for line in lines:
        assert int(line.split()[1]) >= RUNS, line
