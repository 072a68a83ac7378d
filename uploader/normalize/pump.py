"""Insulin pump records (``uploader.pump_records``) to Tidepool ``bolus``, ``basal``,
``deviceEvent`` and ``pumpSettings`` datums.

Follows ../shared/specs/tidepool-uploader/docs/checklisttemplates/PumpChecklist.md:

- boluses: ``normal`` (``automated`` when an automated-delivery controller commanded it),
  ``square`` (extended) and ``dual/square`` (combination); the programmed amounts and
  duration go in ``expected*`` only when the bolus was interrupted. A combination bolus
  stopped during its normal part delivered no extended part: ``extended`` and ``duration``
  are 0 and the programmed extended part is in ``expectedExtended``/``expectedDuration``;
- basals: each interval with its start, duration and rate; a temp basal or a suspend is
  split at every boundary of the basal schedule it crosses (midnight included), each piece
  carrying the scheduled basal it ``suppressed`` (rate and ``scheduleName``); a percentage
  temp basal's rate is its percent of that scheduled rate; the programmed duration of one
  that ended early is the last piece's ``expectedDuration``; scheduled basals carry
  ``scheduleName``. A pump that records the suppressed rate with each piece (t:slim X2)
  gives it directly (``PumpBasal.suppressed_rate``). The interval still running at upload
  is not sent (its duration is not known yet): the driver keeps it and the next upload sends
  it, so no duration is guessed;
- bolus calculator records: ``wizard`` datums (``uploader.normalize.wizard``);
- device events: reservoir change, prime (tubing, with the volume), status suspended /
  resumed (with the reason), alarms (``other`` with the pump's own name in ``payload``);
- settings: basal schedules by name (the pump's own, e.g. MiniMed ``Pattern 1``, else
  ``Template <n>``), the active one, carb ratios,
  insulin sensitivities and targets (``low``/``high``, or one ``target`` when the pump keeps
  a single value, as the t:slim X2 does), units as the pump reports them
  (IDS: mg/dL and grams).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from uploader.datamodel import DeviceDatum
from uploader.datamodel.basal import Basal, Suppressed
from uploader.datamodel.bolus import Bolus
from uploader.datamodel.pump_event import (
    Alarm,
    DeliveryStatus,
    Prime,
    ReservoirChange,
    StatusReason,
)
from uploader.datamodel.pump_settings import (
    AmountSegment,
    BasalSegment,
    PumpSettings,
    SettingsUnits,
    TargetSegment,
)
from uploader.normalize.placed import placed
from uploader.normalize.wizard import wizard_datum
from uploader.pump_records import (
    PumpBasal,
    PumpBolus,
    PumpEvent,
    PumpHistory,
    PumpSettingsSnapshot,
    TimeBlock,
    schedule_name,
)
from uploader.records import DeviceIdentity
from uploader.timeproc import TimeProcessor

DAY_MS = 86_400_000


def pump_datums(
    pump: PumpHistory, identity: DeviceIdentity, times: TimeProcessor
) -> list[DeviceDatum]:
    out: list[DeviceDatum] = []
    out.extend(bolus_datum(b, identity, times) for b in pump.boluses)
    for basal in pump.basals:
        out.extend(basal_datums(basal, pump.settings, identity, times))
    out.extend(event_datum(e, identity, times) for e in pump.events)
    out.extend(wizard_datum(w, pump.boluses, identity, times) for w in pump.wizards)
    if pump.settings is not None and pump.settings_changed:
        out.append(settings_datum(pump.settings, identity, times))
    return out


def bolus_datum(bolus: PumpBolus, identity: DeviceIdentity, times: TimeProcessor) -> Bolus:
    common = placed(bolus.device_time, bolus.index, times)
    cut = bolus.interrupted
    if bolus.kind == "normal":
        return Bolus(
            **common,
            device_id=identity.device_id,
            sub_type="automated" if bolus.automated else "normal",
            normal=bolus.normal,
            expected_normal=bolus.expected_normal if cut else None,
        )
    if bolus.kind == "extended":
        return Bolus(
            **common,
            device_id=identity.device_id,
            sub_type="square",
            extended=bolus.extended,
            duration=bolus.duration_ms,
            expected_extended=bolus.expected_extended if cut else None,
            expected_duration=bolus.expected_duration_ms if cut else None,
        )
    normal_cut = bolus.normal < bolus.expected_normal
    return Bolus(
        **common,
        device_id=identity.device_id,
        sub_type="dual/square",
        normal=bolus.normal,
        expected_normal=bolus.expected_normal if normal_cut else None,
        extended=0.0 if normal_cut else bolus.extended,
        duration=0 if normal_cut else bolus.duration_ms,
        expected_extended=bolus.expected_extended if cut else None,
        expected_duration=bolus.expected_duration_ms if cut else None,
    )


def _boundaries(blocks: tuple[TimeBlock, ...]) -> list[int]:
    """Milliseconds after midnight at which the schedule's rate may change (0 = midnight)."""
    return sorted({0} | {b.start_ms for b in blocks})


def _rate_at(blocks: tuple[TimeBlock, ...], ms: int) -> float:
    rate = blocks[0].values[0]
    for block in blocks:
        if block.start_ms <= ms:
            rate = block.values[0]
    return rate


def _pieces(
    start: datetime, duration_ms: int, blocks: tuple[TimeBlock, ...]
) -> list[tuple[datetime, int, float]]:
    """(start, duration, scheduled rate) of each part of an interval between the schedule's
    boundaries."""
    out: list[tuple[datetime, int, float]] = []
    edges = _boundaries(blocks)
    moment, left = start, duration_ms
    while left > 0:
        ms = (moment.hour * 3600 + moment.minute * 60 + moment.second) * 1000
        ms += moment.microsecond // 1000
        following = next((e for e in edges if e > ms), DAY_MS)
        length = min(left, following - ms)
        out.append((moment, length, _rate_at(blocks, ms)))
        moment += timedelta(milliseconds=length)
        left -= length
    return out


def basal_datums(
    basal: PumpBasal,
    settings: PumpSettingsSnapshot | None,
    identity: DeviceIdentity,
    times: TimeProcessor,
) -> list[Basal]:
    name = _schedule_name(basal.schedule, settings) if basal.schedule is not None else None
    blocks = None
    if settings is not None and basal.schedule is not None:
        blocks = settings.basal_schedules.get(basal.schedule)
    if basal.delivery_type != "scheduled" and basal.suppressed_rate is not None:
        # the pump recorded the suppressed rate with the interval: one piece
        pieces = [(basal.device_time, basal.duration_ms, basal.suppressed_rate)]
    elif basal.delivery_type != "scheduled" and blocks:
        pieces = _pieces(basal.device_time, basal.duration_ms, blocks)
    else:
        rate = basal.rate  # a percentage temp basal without its schedule fails validation
        return [
            Basal(
                **placed(basal.device_time, basal.index, times),
                device_id=identity.device_id,
                delivery_type=basal.delivery_type,
                duration=basal.duration_ms,
                expected_duration=basal.expected_duration_ms,
                rate=rate if basal.delivery_type != "suspend" else None,
                percent=basal.percent,
                schedule_name=name if basal.delivery_type == "scheduled" else None,
            )
        ]
    out: list[Basal] = []
    for number, (start, length, scheduled) in enumerate(pieces):
        last = number == len(pieces) - 1
        expected = None
        if last and basal.expected_duration_ms is not None:
            expected = length + basal.expected_duration_ms - basal.duration_ms
        piece_rate: float | None = None
        if basal.delivery_type == "temp":
            piece_rate = basal.rate
            if piece_rate is None and basal.percent is not None:
                piece_rate = round(basal.percent * scheduled, 4)
        out.append(
            Basal(
                **placed(start, basal.index, times),
                device_id=identity.device_id,
                delivery_type=basal.delivery_type,
                duration=length,
                expected_duration=expected,
                rate=piece_rate,
                percent=basal.percent,
                suppressed=Suppressed(
                    delivery_type="scheduled", rate=scheduled, schedule_name=name
                ),
            )
        )
    return out


def event_datum(event: PumpEvent, identity: DeviceIdentity, times: TimeProcessor) -> DeviceDatum:
    common = placed(event.device_time, event.index, times)
    if event.kind == "reservoirChange":
        return ReservoirChange(**common, device_id=identity.device_id)
    if event.kind == "prime":
        return Prime(
            **common,
            device_id=identity.device_id,
            prime_target=event.prime_target or "tubing",
            volume=event.volume,
        )
    if event.kind == "status":
        assert event.status is not None
        reason = None
        if event.reason is not None:
            reason = (
                StatusReason(suspended=event.reason)
                if event.status == "suspended"
                else StatusReason(resumed=event.reason)
            )
        return DeliveryStatus(
            **common,
            device_id=identity.device_id,
            status=event.status,
            reason=reason,
        )
    assert event.alarm_type is not None
    return Alarm(
        **common,
        device_id=identity.device_id,
        alarm_type=event.alarm_type,
        payload=dict(event.payload) if event.payload else None,
    )


def _schedule_name(number: int, settings: PumpSettingsSnapshot | None) -> str:
    """The pump's own name of schedule ``number``, else ``Template <n>``."""
    names = settings.schedule_names if settings is not None else {}
    return names.get(number) or schedule_name(number)


def _named(
    schedules: dict[int, tuple[TimeBlock, ...]], settings: PumpSettingsSnapshot
) -> dict[str, tuple[TimeBlock, ...]]:
    return {
        _schedule_name(number, settings): blocks for number, blocks in sorted(schedules.items())
    }


def _amounts(
    schedules: dict[int, tuple[TimeBlock, ...]], settings: PumpSettingsSnapshot
) -> dict[str, list[AmountSegment]] | None:
    """Carb ratios or insulin sensitivities by schedule name (None: the pump keeps none)."""
    return {
        name: [AmountSegment(start=b.start_ms, amount=b.values[0]) for b in blocks]
        for name, blocks in _named(schedules, settings).items()
    } or None


def settings_datum(
    settings: PumpSettingsSnapshot, identity: DeviceIdentity, times: TimeProcessor
) -> PumpSettings:
    active = settings.active_basal
    return PumpSettings(
        **placed(settings.device_time, None, times),
        device_id=identity.device_id,
        active_schedule=_schedule_name(active, settings)
        if active is not None and active in settings.basal_schedules
        else None,
        basal_schedules={
            name: [BasalSegment(start=b.start_ms, rate=b.values[0]) for b in blocks]
            for name, blocks in _named(settings.basal_schedules, settings).items()
        },
        carb_ratios=_amounts(settings.carb_ratios, settings),
        insulin_sensitivities=_amounts(settings.insulin_sensitivities, settings),
        bg_targets={
            name: [
                TargetSegment(start=b.start_ms, target=b.values[0])
                if len(b.values) == 1
                else TargetSegment(start=b.start_ms, low=b.values[0], high=b.values[1])
                for b in blocks
            ]
            for name, blocks in _named(settings.bg_targets, settings).items()
        }
        or None,
        units=SettingsUnits(bg="mg/dL", carb="grams"),
        manufacturers=[identity.manufacturer],
        model=identity.model,
        serial_number=identity.serial_number,
        firmware_version=identity.firmware_version,
    )
