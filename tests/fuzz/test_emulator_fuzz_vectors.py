"""Regression: every input that once broke an emulator-side parser, replayed (issue 10).

tests/vectors/fuzz/emulator/<target>/*.bin holds the inputs the fuzzers found (one file per
crash, named for what it exercises); each must now keep its target's contract
(bench/fuzz/emulator_targets.py). A directory whose name is not a target fails, so a
renamed target cannot silently drop its vectors. The scenario inputs must also give an
error naming the line and saying what is wrong.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.fuzz.emulator_targets import EMULATOR_TARGETS
from bench.fuzz.targets import check
from emulator.replay.hci_capture import CaptureError, read_capture
from hil.scenarios.loader import ScenarioFileError, parse_scenario

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "fuzz" / "emulator"
FILES = sorted(VECTORS.glob("*/*.bin"))


def test_there_are_vectors_and_each_names_a_target() -> None:
    assert FILES
    assert {f.parent.name for f in FILES} <= set(EMULATOR_TARGETS)


@pytest.mark.parametrize("path", FILES, ids=[f"{f.parent.name}/{f.stem}" for f in FILES])
def test_a_former_crash_input_now_keeps_the_contract(path: Path) -> None:
    check(EMULATOR_TARGETS[path.parent.name], path.read_bytes())


SCENARIO_ERRORS = {
    "control-character": "line 1: not valid YAML: character #x001f is not allowed",
    "nul-on-line-2": "line 2: not valid YAML: character #x0000 is not allowed",
    "date-february-30": "line 2: not valid YAML: '2020-02-30' is not a valid timestamp",
    "int-tag-without-digits": "line 1: not valid YAML: '0x' is not a valid int",
    "float-tag-not-a-number": "line 1: not valid YAML: 'x' is not a valid float",
    "bool-tag-not-a-boolean": "line 1: not valid YAML: 'x' is not a valid bool",
    "timestamp-tag-not-a-time": "line 1: not valid YAML: 'x' is not a valid timestamp",
    "nested-2000-deep": "line 1: not valid YAML: nested deeper than 40 levels",
    "billion-laughs": "not valid YAML: expands to more than 20000 values",
}


@pytest.mark.parametrize("name", sorted(SCENARIO_ERRORS))
def test_a_former_scenario_crash_names_the_line_and_the_problem(name: str) -> None:
    text = (VECTORS / "emu_scenario" / f"{name}.bin").read_text(encoding="utf-8")
    with pytest.raises(ScenarioFileError) as error:
        parse_scenario(text, "s.yaml")
    assert str(error.value).startswith("s.yaml line ")
    assert SCENARIO_ERRORS[name] in str(error.value)


@pytest.mark.parametrize("path", sorted((VECTORS / "emu_hci_capture").glob("*.bin")))
def test_a_btsnoop_file_cut_inside_its_header_says_so(path: Path) -> None:
    with pytest.raises(CaptureError, match="cut short: it ends inside the 16-byte btsnoop"):
        read_capture(path)
