"""``hil.cut_points``: which steps get cut, and what counts as a clear failure."""

from __future__ import annotations

import pytest

from emulator.faults import CutLinkAfterPackets, FaultPlan
from hil.cut_points import EXHAUSTIVE_ENV, CutTally, cut_points, judge
from uploader.errors import DeviceDisconnected, InternalError, Step, UploaderError
from uploader.session import UploadResult


def test_short_sessions_are_cut_at_every_step(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(EXHAUSTIVE_ENV, raising=False)
    assert cut_points(5, budget=8) == [1, 2, 3, 4, 5]


def test_long_sessions_get_an_even_spread_with_both_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(EXHAUSTIVE_ENV, raising=False)
    points = cut_points(167, budget=8)
    assert len(points) == 8 and points[0] == 1 and points[-1] == 167
    assert points == sorted(set(points))


def test_the_exhaustive_run_cuts_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(EXHAUSTIVE_ENV, "1")
    assert cut_points(167, budget=8) == list(range(1, 168))


def raising(error: BaseException) -> UploadResult:
    raise error


def test_a_typed_error_with_a_step_is_a_clear_failure() -> None:
    tally = CutTally("x")
    error = DeviceDisconnected("The device disconnected.", step=Step.FETCH)
    assert judge(lambda: raising(error), tally, "k=1") is error
    assert (tally.cut_points, tally.failed_cleanly, tally.errors) == (
        1,
        1,
        {"DeviceDisconnected": 1},
    )


@pytest.mark.parametrize(
    "error",
    [InternalError("Internal error: KeyError", step=Step.FETCH), UploaderError("no step")],
)
def test_an_internal_error_or_one_without_a_step_fails_the_check(error: UploaderError) -> None:
    with pytest.raises(AssertionError):
        judge(lambda: raising(error), CutTally("x"), "k=1")


def test_the_link_cut_fires_once_at_its_packet() -> None:
    plan = FaultPlan().add(CutLinkAfterPackets(3))
    assert [plan.cut_link(n) for n in range(5)] == [False, False, False, True, False]
    assert plan.fired == ["cut the link after 3 packets"]
    with pytest.raises(ValueError, match="packets must be 0 or more"):
        CutLinkAfterPackets(-1)
