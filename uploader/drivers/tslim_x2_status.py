"""What a Tandem t:slim X2 says about itself: its status (at identify) and its insulin
delivery profiles (``pumpSettings``), read with ``uploader.protocols.tandem_status``.

Status, asked in this order: API version (required: a pump that does not answer it is not
one this driver can talk to), then pump version, basal status, bolus status, insulin on
board (ControlIQIOB; a pump without Control-IQ that refuses it: NonControlIQIOB), reservoir
(InsulinStatus), battery (CurrentBatteryV1 below API 2.2, V2 from 2.2, as pumpX2 asks) and
CGM status (CurrentEGVGuiData, CGMStatus). A pump that does not answer one of the optional
requests within a few seconds, or refuses it (ErrorResponse), is noted
(``PumpStatus.unanswered``) and the upload carries on.

Settings: ProfileStatus (the profile ids in their slots; slot 0 is the active profile), then
per profile IDPSettings (its name and number of segments) and IDPSegment for each segment
(start, basal rate, carb ratio, target BG, ISF). The four schedules of ``pumpSettings`` are
keyed by the profile's name; the target is the pump's single ``target``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from uploader.errors import DeviceTimeout
from uploader.protocols import tandem_status as ts
from uploader.protocols.tandem import FrameError, Message
from uploader.pump_records import PumpSettingsSnapshot, TimeBlock

Ask = Callable[[Message, str, float | None], Awaitable[Message]]
"""Send a request on current status and return its answer (``doing``, timeout or None for
the driver's own); raises ``DeviceTimeout`` when nothing comes."""
NextTransaction = Callable[[], int]

OPTIONAL_TIMEOUT_S = 3.0
"""How long an optional status request may go unanswered (a pump answers in milliseconds)."""
MS_PER_MIN = 60_000
API_HINT = (
    "Keep the pump close to this computer, wake its screen and run the upload again. If it "
    "happens again, its firmware may not be one this uploader supports (`diahil devices` "
    "lists them)."
)


@dataclass
class PumpStatus:
    """The answers to the status requests (None: not answered; named in ``unanswered``)."""

    api: ts.ApiVersion
    version: ts.PumpVersion | None = None
    basal: ts.BasalStatus | None = None
    bolus: ts.BolusStatus | None = None
    iob: ts.InsulinOnBoard | None = None
    insulin: ts.InsulinStatus | None = None
    battery: ts.Battery | None = None
    cgm: ts.CgmStatus | None = None
    sensor: ts.SensorSession | None = None
    unanswered: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The answers as ``DeviceData.device_status`` (what was not answered is left out and
        named in ``unanswered``)."""
        out: dict[str, Any] = {"api_version": str(self.api)}
        if self.version is not None:
            out["software_version"] = self.version.arm_sw_version
            out["model_number"] = self.version.model_number
        if self.insulin is not None:
            out["reservoir_units"] = self.insulin.units
            out["reservoir_estimated"] = bool(self.insulin.is_estimate)
        if self.battery is not None:
            out["battery_percent"] = self.battery.ibc_percent
        if self.iob is not None:
            out["insulin_on_board_units"] = self.iob.iob
        if self.basal is not None:
            out["basal_rate_u_per_h"] = self.basal.current_rate
            out["profile_basal_rate_u_per_h"] = self.basal.profile_rate
        if self.bolus is not None:
            out["bolus_in_progress_units"] = self.bolus.requested if self.bolus.status else None
        if self.cgm is not None:
            out["sensor_glucose_mg_dl"] = self.cgm.mg_dl or None
        if self.sensor is not None:
            out["cgm_session"] = self.sensor.state_name
        out["unanswered"] = list(self.unanswered)
        return out

    def notes(self) -> list[str]:
        """One line of status for the user (as the MiniMed driver reports its status), and one
        naming the requests the pump did not answer."""
        parts = [f"API {self.api}"]
        if self.version is not None:
            parts.append(
                f"software {self.version.arm_sw_version}, model number {self.version.model_number}"
            )
        if self.insulin is not None:
            estimate = " (estimated)" if self.insulin.is_estimate else ""
            parts.append(f"reservoir {self.insulin.units} U{estimate}")
        if self.battery is not None:
            parts.append(f"battery {self.battery.ibc_percent}%")
        if self.iob is not None:
            parts.append(f"insulin on board {self.iob.iob:g} U")
        if self.basal is not None:
            parts.append(
                f"basal {self.basal.current_rate:g} U/h (profile {self.basal.profile_rate:g} U/h)"
            )
        if self.bolus is not None and self.bolus.status:
            parts.append(f"bolus of {self.bolus.requested:g} U in progress")
        if self.cgm is not None and self.cgm.mg_dl:
            parts.append(f"sensor glucose {self.cgm.mg_dl} mg/dL")
        if self.sensor is not None:
            parts.append(f"CGM session {self.sensor.state_name}")
        out = ["Pump status: " + ", ".join(parts) + "."]
        if self.unanswered:
            out.append(
                "The pump did not answer these status requests (left out, the upload went "
                f"on): {', '.join(self.unanswered)}."
            )
        return out


Parse = Callable[[Message], object]


def _optional(api: ts.ApiVersion) -> list[tuple[str, list[Message], str, Parse]]:
    """(field, the requests to try in turn, what it is, parser) after the API version."""
    return [
        (
            "version",
            [ts.request(ts.PUMP_VERSION, 0)],
            "pump version (PumpVersion)",
            ts.parse_pump_version,
        ),
        (
            "basal",
            [ts.request(ts.CURRENT_BASAL_STATUS, 0)],
            "basal status (CurrentBasalStatus)",
            ts.parse_basal_status,
        ),
        (
            "bolus",
            [ts.request(ts.CURRENT_BOLUS_STATUS, 0)],
            "bolus status (CurrentBolusStatus)",
            ts.parse_bolus_status,
        ),
        (
            "iob",
            [ts.request(ts.CONTROL_IQ_IOB, 0), ts.request(ts.NON_CONTROL_IQ_IOB, 0)],
            "insulin on board (ControlIQIOB, NonControlIQIOB)",
            ts.parse_iob,
        ),
        (
            "insulin",
            [ts.request(ts.INSULIN_STATUS, 0)],
            "reservoir (InsulinStatus)",
            ts.parse_insulin_status,
        ),
        ("battery", [ts.battery_request(0, api)], "battery (CurrentBattery)", ts.parse_battery),
        ("cgm", [ts.request(ts.CURRENT_EGV, 0)], "CGM reading (CurrentEGVGuiData)", ts.parse_egv),
        ("sensor", [ts.request(ts.CGM_STATUS, 0)], "CGM session (CGMStatus)", ts.parse_cgm_status),
    ]


async def read_status(ask: Ask, next_transaction: NextTransaction, label: str) -> PumpStatus:
    """Ask the pump for its status; only the API version is required."""
    doing = "asking the pump's API version"
    try:
        answer = await ask(ts.request(ts.API_VERSION, next_transaction()), doing, None)
    except DeviceTimeout:
        raise DeviceTimeout(
            f"{label} did not answer the API version request, the first status request after "
            "pairing.",
            hint=API_HINT,
        ) from None
    status = PumpStatus(ts.parse_api_version(answer))
    for name, requests, what, parse in _optional(status.api):
        for template in requests:
            message = Message(template.opcode, next_transaction(), template.cargo)
            try:
                reply = await ask(message, f"asking the pump's {what}", OPTIONAL_TIMEOUT_S)
                setattr(status, name, parse(reply))
                break
            except (DeviceTimeout, FrameError):
                continue
        else:
            status.unanswered.append(what)
    return status


async def read_settings(
    ask: Ask, next_transaction: NextTransaction, clock: datetime
) -> PumpSettingsSnapshot:
    """The pump's insulin delivery profiles as a settings snapshot (``FrameError`` or
    ``DeviceTimeout`` when the pump breaks the exchange)."""
    profiles = ts.parse_profile_status(
        await ask(ts.request(ts.PROFILE_STATUS, next_transaction()), "reading the profiles", None)
    )
    names: dict[int, str] = {}
    basal: dict[int, tuple[TimeBlock, ...]] = {}
    carb: dict[int, tuple[TimeBlock, ...]] = {}
    isf: dict[int, tuple[TimeBlock, ...]] = {}
    target: dict[int, tuple[TimeBlock, ...]] = {}
    for idp_id in profiles.slots:
        doing = f"reading profile {idp_id}"
        settings = ts.parse_idp_settings(
            await ask(ts.idp_settings_request(next_transaction(), idp_id), doing, None)
        )
        segments = []
        for index in range(settings.segments):
            segment = ts.parse_idp_segment(
                await ask(ts.idp_segment_request(next_transaction(), idp_id, index), doing, None)
            )
            if (segment.idp_id, segment.index) != (idp_id, index):
                raise FrameError(
                    f"asked for segment {index} of profile {idp_id}, got segment "
                    f"{segment.index} of profile {segment.idp_id}"
                )
            segments.append(segment)
        segments.sort(key=lambda s: s.start_minutes)
        names[idp_id] = settings.name or f"Profile {idp_id}"

        basal[idp_id] = _blocks(segments, lambda s: s.basal_rate)
        carb[idp_id] = _blocks(segments, lambda s: s.carb_ratio)
        isf[idp_id] = _blocks(segments, lambda s: float(s.isf))
        target[idp_id] = _blocks(segments, lambda s: float(s.target_bg))
    active = profiles.slots[0] if profiles.slots else None
    return PumpSettingsSnapshot(
        device_time=clock,
        basal_schedules=basal,
        active_basal=active,
        carb_ratios=carb,
        insulin_sensitivities=isf,
        bg_targets=target,
        active={"basal": active} if active is not None else {},
        schedule_names=names,
    )


def _blocks(
    segments: list[ts.IdpSegment], pick: Callable[[ts.IdpSegment], float]
) -> tuple[TimeBlock, ...]:
    return tuple(TimeBlock(s.start_minutes * MS_PER_MIN, (pick(s),)) for s in segments)
