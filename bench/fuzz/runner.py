"""The shared atheris runner: one coverage-guided fuzzing process for one target.

Every harness (``bench/fuzz/fuzz_<target>.py``) calls :func:`fuzz` with its target's name
and the uploader modules it exercises; only those are instrumented for coverage (which keeps
a harness's start-up short). libFuzzer options (``-runs=``, ``-seed=``,
``-max_total_time=``, corpus directories) come from the command line. A contract violation
(an exception outside the parser's typed errors) propagates, so libFuzzer saves the input
as a crash artifact and exits non-zero.
"""

from __future__ import annotations

import sys

import atheris  # type: ignore[import-not-found,import-untyped,unused-ignore]


def fuzz(name: str, modules: list[str]) -> None:
    with atheris.instrument_imports(include=modules):
        from bench.fuzz.targets import TARGETS, check

    target = TARGETS[name]

    def one_input(data: bytes) -> None:
        check(target, data)

    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
