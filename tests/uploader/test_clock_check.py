"""The device clock against the computer's (uploader.clock_check)."""

from __future__ import annotations

from datetime import datetime, timedelta

from uploader.clock_check import ClockCheck

COMPUTER = datetime(2026, 3, 15, 12, 30)


def check(device: datetime, **extra: object) -> ClockCheck:
    return ClockCheck(
        device=device,
        computer=COMPUTER,
        timezone="Europe/Rome",
        threshold=timedelta(minutes=15),
        **extra,  # type: ignore[arg-type]
    )


def test_within_the_threshold_there_is_no_warning() -> None:
    for minutes in (0, 15, -15):
        assert check(COMPUTER + timedelta(minutes=minutes)).message() is None


def test_past_the_threshold_the_warning_names_both_clocks_and_the_difference() -> None:
    ahead = check(COMPUTER + timedelta(minutes=16))
    assert ahead.warning and ahead.difference == timedelta(minutes=16)
    message = ahead.message()
    assert message is not None
    assert "The device clock (2026-03-15 12:46) is 16 minutes ahead of this computer's" in message
    assert "(2026-03-15 12:30 in Europe/Rome)" in message and "--set-clock" in message
    behind = check(COMPUTER - timedelta(days=366)).message()
    assert behind is not None and "366.0 days behind" in behind
    hours = check(COMPUTER + timedelta(hours=5)).message()
    assert hours is not None and "5.0 hours ahead" in hours


def test_the_warning_says_what_set_clock_did_or_why_it_could_not() -> None:
    done = check(COMPUTER + timedelta(hours=1), set_to=COMPUTER).message()
    assert done is not None and "It was set to 2026-03-15 12:30:00 (--set-clock)." in done
    refused = check(COMPUTER + timedelta(hours=1), not_settable="Set it on the meter.").message()
    assert refused is not None and refused.endswith("Set it on the meter.")
    assert check(COMPUTER + timedelta(hours=1)).as_dict()["difference_s"] == 3600
