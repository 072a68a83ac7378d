"""Progress reporting seam: the session reports, the front end (rich, JSON, tests) displays."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def start(self, task: str, total: int | None) -> None: ...
    def advance(self, task: str, amount: int = 1) -> None: ...
    def finish(self, task: str) -> None: ...


class NoProgress:
    """Reports nowhere (JSON output, library use)."""

    def start(self, task: str, total: int | None) -> None:
        pass

    def advance(self, task: str, amount: int = 1) -> None:
        pass

    def finish(self, task: str) -> None:
        pass
