"""A scenario's verdict: per run what was expected, what happened, and every difference."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class RunReport:
    """One run: what was expected, what happened, and every difference."""

    index: int
    expected: str
    happened: str
    differences: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.differences


@dataclass
class Verdict:
    """The scenario's verdict: it passes when every run did what it expects."""

    scenario: str
    runs: list[RunReport]
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(run.passed for run in self.runs)

    def differences(self) -> list[str]:
        return [f"run {r.index}: {d}" for r in self.runs for d in r.differences]

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "passed": self.passed,
            "runs": [
                {
                    "run": r.index,
                    "expected": r.expected,
                    "happened": r.happened,
                    "passed": r.passed,
                    "differences": r.differences,
                }
                for r in self.runs
            ],
            "notes": self.notes,
        }
