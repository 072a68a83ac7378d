"""The scenario library (scenarios/*.yaml) as the regression suite: every field problem it
describes, replayed through emulated devices, the real uploader and a mock cloud, passes."""

from __future__ import annotations

from pathlib import Path

import pytest

from hil.scenarios import load_scenario, run_scenario

LIBRARY = Path(__file__).resolve().parents[2] / "scenarios"
SCENARIOS = sorted(LIBRARY.glob("*.yaml"))


def test_the_library_holds_at_least_thirty_scenarios() -> None:
    assert len(SCENARIOS) >= 30


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario_passes(path: Path, tmp_path: Path) -> None:
    verdict = run_scenario(load_scenario(path), tmp_path)
    assert verdict.passed, "\n".join(verdict.differences())


def test_every_scenario_is_listed_in_the_librarys_readme() -> None:
    readme = (LIBRARY / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in SCENARIOS if p.name not in readme]
    assert not missing, f"scenarios/README.md does not list {missing}"
