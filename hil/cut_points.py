"""Exhaustive cut points: cut one upload at every protocol step in turn, and judge each run.

A clean session is recorded first (how many HID reports crossed the USB cable, how many
LE data packets crossed the radio link, how many chunks the cloud received); then the same
upload is run once per step ``k = 1..N`` with the link cut at that step, and once per
chunk with a cloud fault on it, and once with a fault on the close of the data set.

The rule each run is judged by (``judge``): the upload either succeeded, or it failed with
an ``UploaderError`` the user can act on (a step, a message, not an ``InternalError``).
The caller then reruns without the fault and compares the cloud with the device's ledger
(``hil.oracle`` / ``hil.pump_oracle``): nothing lost, nothing duplicated.

``DIAHIL_EXHAUSTIVE=1`` cuts at every step of every protocol; ``DIAHIL_EXHAUSTIVE=long``
also makes the histories longer, so N grows. CI runs short histories and, where a session
has more steps than its budget (Bluetooth: pairing and GATT discovery alone are ~150
packets), an evenly spread, generated subset of them (``cut_points``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from uploader.errors import InternalError, UploaderError
from uploader.session import UploadResult

EXHAUSTIVE_ENV = "DIAHIL_EXHAUSTIVE"


def exhaustive() -> bool:
    """True when the long run was asked for (``DIAHIL_EXHAUSTIVE=1``)."""
    return os.environ.get(EXHAUSTIVE_ENV, "") not in ("", "0")


def history_size(short: int, long: int) -> int:
    """The history to generate: ``long`` when ``DIAHIL_EXHAUSTIVE=long``, else ``short``."""
    return long if os.environ.get(EXHAUSTIVE_ENV, "") == "long" else short


def cut_points(steps: int, budget: int) -> list[int]:
    """The steps ``k`` to cut at, out of ``1..steps``: every one when exhaustive or when
    there are at most ``budget``; otherwise ``budget`` of them spread evenly from the first
    to the last (generated from the recorded session, never hand-picked)."""
    if exhaustive() or steps <= budget:
        return list(range(1, steps + 1))
    if budget < 2:
        raise ValueError(f"budget must be 2 or more, got {budget}")
    return sorted({1 + round(i * (steps - 1) / (budget - 1)) for i in range(budget)})


@dataclass
class CutTally:
    """How many cut points were tried for one protocol, and how each run ended."""

    protocol: str
    steps: int = 0
    cut_points: int = 0
    succeeded: int = 0
    failed_cleanly: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        kinds = ", ".join(f"{name} x{count}" for name, count in sorted(self.errors.items()))
        return (
            f"{self.protocol}: N={self.steps} steps, {self.cut_points} cut points tried, "
            f"{self.succeeded} completed anyway, {self.failed_cleanly} clear errors ({kinds})"
        )


def judge(run: Callable[[], UploadResult], tally: CutTally, where: str) -> UploaderError | None:
    """Run one faulted upload; return its error (None if it completed). Raise
    ``AssertionError`` when the failure is not one a user can act on."""
    tally.cut_points += 1
    try:
        run()
    except InternalError as error:
        raise AssertionError(f"{where}: internal error: {error.user_message()}") from error
    except UploaderError as error:
        if error.step is None or not error.message or not error.user_message().strip():
            raise AssertionError(f"{where}: error without step or message: {error!r}") from error
        tally.failed_cleanly += 1
        name = type(error).__name__
        tally.errors[name] = tally.errors.get(name, 0) + 1
        return error
    tally.succeeded += 1
    return None
