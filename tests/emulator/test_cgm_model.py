"""The CGM model and its generator: sessions, warm-up, gaps, backfill, restarts, LO/HI,
with time stepped by the test."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from statistics import mean
from typing import TYPE_CHECKING

import pytest

from emulator.devices.ble import build_cgm_model
from emulator.generators.cgm_history import CgmHistory, CgmHistoryProfile
from emulator.model.cgm import CgmModel, SessionRunning
from emulator.model.clock import DeviceClock

if TYPE_CHECKING:
    from tests.emulator.conftest import SteppedTime

T0 = datetime(2026, 3, 10, 6, 0)


class RampWorld:
    """Glucose rising 0.2 mg/dL a minute from 100 at T0; losses and restarts as told."""

    def __init__(self) -> None:
        self.losses: list[tuple[datetime, datetime, datetime | None]] = []
        self.overrides: dict[datetime, float] = {}
        self.restart_gap = timedelta(minutes=30)

    def glucose_at(self, when: datetime) -> float:
        if when in self.overrides:
            return self.overrides[when]
        return 100 + (when - T0).total_seconds() / 60 * 0.2

    def quality_at(self, when: datetime) -> float | None:
        return 97.4

    def stored_at(self, when: datetime) -> datetime | None:
        for start, end, backfill in self.losses:
            if start <= when < end:
                return backfill
        return when

    def next_sensor_start(self, ended: datetime) -> datetime | None:
        return ended + self.restart_gap


def sensor(
    time: SteppedTime, world: RampWorld, offset: timedelta = timedelta(0), **options: object
) -> CgmModel:
    return CgmModel(
        "CGM-1",
        "Test CGM",
        "1.0",
        world=world,
        clock=DeviceClock(offset=offset, time_source=time),
        first_session_start=T0,
        **options,  # type: ignore[arg-type]
    )


def offsets(model: CgmModel) -> list[int]:
    return [record.time_offset for record in model.ledger()]


@pytest.fixture
def time(stepped_time: SteppedTime) -> SteppedTime:
    stepped_time.now = T0
    return stepped_time


def test_no_readings_during_warm_up_then_one_every_five_minutes(time: SteppedTime) -> None:
    model = sensor(time, RampWorld())
    time.step(minutes=119)
    assert model.ledger() == []
    assert model.session_running
    time.step(minutes=1)
    assert offsets(model) == [120]
    time.step(hours=1)
    records = model.ledger()
    assert [r.time_offset for r in records] == list(range(120, 181, 5))
    assert [r.device_time for r in records] == [
        T0 + timedelta(minutes=m) for m in range(120, 181, 5)
    ]
    assert records[0].value_mg_dl == 124 and records[-1].value_mg_dl == 136
    assert records[0].trend is None  # the first reading has nothing to compare with
    assert {r.trend for r in records[1:]} == {0.2}
    assert {r.quality for r in records} == {97.0}
    assert model.time_offset_now() == 180


def test_session_start_is_device_local_time(time: SteppedTime) -> None:
    model = sensor(time, RampWorld(), offset=timedelta(hours=1, minutes=3))
    time.step(hours=3)
    first = model.ledger()[0]
    assert first.session_start == T0 + timedelta(hours=1, minutes=3)
    assert first.device_time == T0 + timedelta(hours=3, minutes=3)
    assert first.time_zone_minutes == 0


def test_signal_loss_readings_appear_later_backfilled(time: SteppedTime) -> None:
    world = RampWorld()
    loss_start, loss_end = T0 + timedelta(hours=3), T0 + timedelta(hours=3, minutes=30)
    world.losses.append((loss_start, loss_end, loss_end + timedelta(minutes=10)))
    model = sensor(time, world)
    time.now = loss_end + timedelta(minutes=5)
    held = set(range(180, 210, 5))
    assert held.isdisjoint(offsets(model))
    assert 175 in offsets(model) and 210 in offsets(model)
    time.now = loss_end + timedelta(minutes=10)
    by_offset = {r.time_offset: r for r in model.ledger()}
    assert held <= set(by_offset)
    assert all(by_offset[m].trend is None for m in held)  # backfilled: no trend
    assert by_offset[215].trend == 0.2
    assert sorted(by_offset) == list(by_offset)  # reported by time offset


def test_readings_lost_for_good_leave_a_gap(time: SteppedTime) -> None:
    world = RampWorld()
    world.losses.append((T0 + timedelta(hours=3), T0 + timedelta(hours=4), None))
    model = sensor(time, world)
    time.step(hours=6)
    got = offsets(model)
    assert not set(range(180, 240, 5)) & set(got)
    assert got == [m for m in range(120, 361, 5) if not 180 <= m < 240]


def test_a_stopped_session_loses_what_it_held_back(time: SteppedTime) -> None:
    world = RampWorld()
    world.losses.append((T0 + timedelta(hours=3), T0 + timedelta(hours=4), T0 + timedelta(hours=5)))
    model = sensor(time, world)
    time.step(hours=4, minutes=30)
    assert model.stop_session()
    time.step(hours=2)
    got = offsets(model)
    assert not set(range(180, 240, 5)) & set(got)
    assert max(got) == 265  # nothing from the stop on (270 min was the stop itself)


def test_a_session_expires_and_the_user_starts_a_new_one(time: SteppedTime) -> None:
    world = RampWorld()
    model = sensor(time, world, session_length=timedelta(days=1))
    time.now = T0 + timedelta(days=1, minutes=10)
    assert not model.session_running
    old = model.ledger()
    assert old[-1].time_offset == 24 * 60 - 5  # the last reading before expiry
    time.now = T0 + timedelta(days=1, minutes=29)
    assert model.ledger() == old  # an expired sensor still holds its session
    time.now = T0 + timedelta(days=1, minutes=30)
    assert model.session_running
    assert model.ledger() == []  # a new sensor: old readings gone, warming up
    time.step(hours=2, minutes=10)
    records = model.ledger()
    new_start = T0 + timedelta(days=1, minutes=30)
    assert [r.time_offset for r in records] == [120, 125, 130]
    assert {r.session_start for r in records} == {new_start}
    assert records[0].device_time == new_start + timedelta(minutes=120)
    assert [(s.number, s.stop_reason) for s in model.sessions()] == [(1, "expired"), (2, None)]


def test_several_restarts_pass_while_nobody_looks(time: SteppedTime) -> None:
    model = sensor(time, RampWorld(), session_length=timedelta(days=1))
    time.now = T0 + timedelta(days=3, hours=5)
    sessions = model.sessions()
    assert [s.number for s in sessions] == [1, 2, 3, 4]
    assert sessions[1].started == T0 + timedelta(days=1, minutes=30)
    assert sessions[3].started == T0 + timedelta(days=3, minutes=90)
    assert model.ledger()[0].session_start == sessions[3].local_start


def test_a_collector_stops_and_starts_sessions(time: SteppedTime) -> None:
    model = sensor(time, RampWorld())
    time.step(hours=3)
    with pytest.raises(SessionRunning):
        model.start_session()
    assert model.stop_session()
    assert not model.stop_session()  # nothing left to stop
    time.step(days=20)
    assert [s.number for s in model.sessions()] == [1]  # no restart after a manual stop
    started = model.start_session()
    assert started.started == time.now and model.ledger() == []
    time.step(hours=2)
    assert offsets(model) == [120]


def test_lo_and_hi_are_stored_as_39_and_401_with_status_bits(time: SteppedTime) -> None:
    world = RampWorld()
    world.overrides[T0 + timedelta(minutes=125)] = 31.0
    world.overrides[T0 + timedelta(minutes=130)] = 455.0
    model = sensor(time, world)
    time.step(minutes=130)
    low, high = model.ledger()[1:]
    assert (low.value_mg_dl, low.status, low.is_low) == (39, 1 << 22, True)
    assert (high.value_mg_dl, high.status, high.is_high) == (401, 1 << 23, True)


def test_session_start_time_written_by_a_collector(time: SteppedTime) -> None:
    model = sensor(time, RampWorld())
    time.step(hours=3)
    collector_now = T0 + timedelta(hours=3, minutes=7, seconds=30)
    model.set_session_start_time(collector_now, time_zone_minutes=-300, dst_minutes=60)
    record = model.ledger()[0]
    assert record.session_start == T0 + timedelta(minutes=7, seconds=30)
    assert record.time_zone_minutes == -240
    assert model.clock.now() == collector_now
    assert record.time_offset == 120  # offsets do not move


def test_no_session_before_the_first_start() -> None:
    model = CgmModel("C", "M", "1", world=RampWorld(), clock=DeviceClock(time_source=lambda: T0))
    assert model.ledger() == [] and model.current_session() is None
    assert not model.session_running and model.time_offset_now() == 0


# ---- the generator -----------------------------------------------------------------------


def _model(time: SteppedTime, seed: int, days: float, profile: CgmHistoryProfile) -> CgmModel:
    clock = DeviceClock(time_source=time)
    return build_cgm_model(seed=seed, days=days, clock=clock, profile=profile)


def test_same_seed_same_readings_other_seeds_differ(time: SteppedTime) -> None:
    profile = CgmHistoryProfile()
    first = _model(time, 5, 3, profile).ledger()
    assert first == _model(time, 5, 3, profile).ledger()
    assert first != _model(time, 6, 3, profile).ledger()


def test_a_long_session_looks_like_a_person(time: SteppedTime) -> None:
    profile = CgmHistoryProfile(session_days=45)  # the longest a CGMS session can be
    records = _model(time, 11, 44, profile).ledger()
    values = [r.value_mg_dl for r in records]
    assert 110 < mean(values) < 200
    after_breakfast = [r.value_mg_dl for r in records if r.device_time.time().hour == 8]
    at_night = [r.value_mg_dl for r in records if r.device_time.time().hour == 2]
    assert mean(after_breakfast) > mean(at_night) + 20
    assert any(r.is_low for r in records) and any(r.is_high for r in records)
    assert not any(v < 40 or v > 400 for v in values if v not in (39, 401))
    steps = [b.time_offset - a.time_offset for a, b in itertools.pairwise(records)]
    assert set(steps) > {5}  # signal losses left some gaps
    assert steps.count(5) > 0.95 * len(steps)
    backfilled = [r for r in records[1:] if r.trend is None]
    assert backfilled  # held-back readings arrived later, without trend


def test_signal_losses_are_backfilled_unless_too_long(time: SteppedTime) -> None:
    profile = CgmHistoryProfile(signal_losses_per_day=4, loss_minutes=(200, 240))
    world = CgmHistory(3, profile)
    day = T0.date()
    (loss, *_) = world.signal_losses(day)
    assert loss.end - loss.start >= timedelta(minutes=200)
    recent = loss.end - timedelta(minutes=30)
    assert world.stored_at(recent) == loss.backfill_at > loss.end
    assert world.stored_at(loss.start) is None  # beyond the 3 h the sensor backfills


def test_the_builder_starts_the_first_session_days_ago(time: SteppedTime) -> None:
    model = _model(time, 1, 3, CgmHistoryProfile(warmup_minutes=90))
    (session,) = model.sessions()
    assert session.started == time.now - timedelta(days=3)
    assert model.ledger()[0].time_offset == 90
    assert model.session_length == timedelta(days=14)


def test_a_session_longer_than_16_bit_minutes_is_refused(time: SteppedTime) -> None:
    with pytest.raises(ValueError, match="at most 45 days"):
        _model(time, 11, 60, CgmHistoryProfile(session_days=60))
