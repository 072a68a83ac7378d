"""Regression: every input that once crashed an uploader parser, replayed (issue 10).

tests/vectors/fuzz/uploader/<target>/*.bin holds the inputs the fuzzers found (one file per
crash, named for what it exercises); each must now give a result or the parser's typed
error. A directory whose name is not a target fails, so a renamed target cannot silently
drop its vectors.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.fuzz.targets import TARGETS, check

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "fuzz" / "uploader"
FILES = sorted(VECTORS.glob("*/*.bin"))


def test_there_are_vectors_and_each_names_a_target() -> None:
    assert FILES
    assert {f.parent.name for f in FILES} <= set(TARGETS)


@pytest.mark.parametrize("path", FILES, ids=[f"{f.parent.name}/{f.stem}" for f in FILES])
def test_a_former_crash_input_now_keeps_the_contract(path: Path) -> None:
    check(TARGETS[path.parent.name], path.read_bytes())
