"""The atheris harnesses of the uploader's parsers, a short fixed-seed run each (issue 10).

Runs ``python -m bench.fuzz --runs=N --seed=1`` (bench/fuzz/__main__.py) as a subprocess:
every harness fuzzes a fixed number of inputs from a fixed seed, starting from its
regression vectors, and must finish without a crash. Needs the ``fuzz`` extra (atheris);
``make fuzz`` runs the same harnesses for minutes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from bench.fuzz.targets import TARGETS

RUNS = 150


def test_every_harness_survives_a_short_fixed_seed_run(
    run_harnesses: Callable[[Iterable[str], int], list[str]],
) -> None:
    lines = run_harnesses(TARGETS, RUNS)  # exit status 0: no crash
    assert [line.split()[0] for line in lines] == sorted(TARGETS)
    for line in lines:
        assert int(line.split()[1]) >= RUNS, line
