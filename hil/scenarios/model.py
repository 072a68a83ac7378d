"""The scenario file format: what a YAML scenario may say, as pydantic models.

A scenario describes one field problem end to end: the devices and their history (kind,
seed, days, model, firmware, clock offset and drift, timezone), the cloud accounts, a
timeline of events (new readings, clock changes, time passing) and faults (device, link,
rig, cloud), the uploader runs with their options, and per run the outcome the user must
see. ``hil.scenarios.loader`` reads a file into ``Scenario`` with line numbers in its
errors; ``hil.scenarios.runner`` runs it. The format is documented in scenarios/README.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from uploader.errors import Step, UploaderError

DeviceKind = Literal["contour-usb", "gls", "cgm", "ids-pump"]

DEVICE_FAULTS = (
    "corrupt-checksum",  # USB: frame sent with a wrong checksum (times: None = always)
    "stall",  # USB: the IN endpoint halts
    "deny-access",  # USB: opening the device is refused (no udev rule)
    "slow-report",  # USB: an IN report held for `seconds`
    "unplug",  # USB: the cable is pulled (before the run, or at.after_bytes)
    "disconnect",  # BLE: the link drops (before the run: out of range; or at.after_record)
    "drop-indication",  # BLE: a control point's response never comes
    "corrupt-e2e-crc",  # BLE (CGM, IDS pump): records with a wrong E2E-CRC
    "reject-pairing",  # BLE: the device refuses pairing
    "battery-low",  # the battery dies mid-read (at.after_bytes / at.after_record)
)
CLOUD_FAULTS = (
    "cloud-error",  # 5xx (status) on matching requests
    "cloud-rate-limit",  # 429 with Retry-After (retry_after_s)
    "cloud-drop-after-store",  # the request is handled, its answer dropped
    "cloud-latency",  # delay_ms before handling
    "cloud-expire-session",  # tokens expire just before matching requests
)
RIG_FAULTS = (
    "rig-data-lines-off",  # USB data lines cut, VBUS on: a charge-only cable
    "rig-vbus-off",  # no power on the port: the device is gone
    "rig-battery-volts",  # the bench supply standing in for the battery, in volts
    "rig-ble-attenuation",  # dB between the device and the adapter
)
FaultKind = Literal[
    "corrupt-checksum",
    "stall",
    "deny-access",
    "slow-report",
    "unplug",
    "disconnect",
    "drop-indication",
    "corrupt-e2e-crc",
    "reject-pairing",
    "battery-low",
    "cloud-error",
    "cloud-rate-limit",
    "cloud-drop-after-store",
    "cloud-latency",
    "cloud-expire-session",
    "rig-data-lines-off",
    "rig-vbus-off",
    "rig-battery-volts",
    "rig-ble-attenuation",
]
EventKind = Literal[
    "measure",  # new meter readings (values, mg/dL)
    "set-clock",  # the user sets the device clock shift_minutes from where it is
    "clock-reset",  # the clock restarts at the firmware epoch (battery out)
    "travel",  # the user sets the device clock to local time in to_timezone
    "fix-clock",  # the user sets the device clock right (true local time)
    "time-passes",  # minutes pass (CGM readings, pump history)
    "bolus",  # a pump delivers a bolus of `units`
]
Outcome = Literal["uploaded", "no-new-data", "error"]
CloudCheck = Literal["exact", "subset", "empty", "unchanged"]
STEPS = tuple(step.value for step in Step)
USB_ONLY = {"corrupt-checksum", "stall", "deny-access", "slow-report", "unplug"}
USB_ONLY |= {"rig-data-lines-off"}
BLE_ONLY = {"disconnect", "drop-indication", "corrupt-e2e-crc", "reject-pairing"}
BLE_ONLY |= {"rig-ble-attenuation"}
EVENT_DEVICES: dict[str, tuple[str, ...]] = {
    "measure": ("contour-usb", "gls"),
    "set-clock": ("contour-usb", "gls", "ids-pump"),
    "clock-reset": ("contour-usb", "gls", "ids-pump"),
    "travel": ("contour-usb", "gls", "ids-pump"),
    "fix-clock": ("contour-usb", "gls", "ids-pump"),
    "time-passes": ("cgm", "ids-pump"),
    "bolus": ("ids-pump",),
}


def error_names() -> list[str]:
    """Every user-facing error class of the uploader, by name."""
    found: list[str] = []
    pending: list[type[UploaderError]] = [UploaderError]
    while pending:
        kind = pending.pop()
        found.append(kind.__name__)
        pending.extend(kind.__subclasses__())
    return sorted(set(found))


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Device(Strict):
    """One device of the scenario and the history it holds."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    kind: DeviceKind
    seed: int = 1
    days: float | None = Field(default=None, gt=0, le=90)
    count: int | None = Field(default=None, ge=0, le=5000)
    model: str | None = None
    serial: str | None = None
    firmware: str | None = None
    clock_offset_minutes: float = 0
    drift_ppm: float = 0
    timezone: str | None = None
    """The zone the device's clock is set to (default: the scenario's)."""
    memory_capacity: int | None = Field(default=None, ge=1)
    unit: Literal["mg/dL", "mmol/L"] = "mg/dL"
    passkey: int | None = Field(default=None, ge=0, le=999999)
    e2e: bool = False
    """CGM / IDS pump: send E2E-CRCs (and, for the pump, the E2E-Counter)."""
    clock_changes: bool = False
    """IDS pump: the generated history holds the person's clock changes (DST, travel)."""
    address: str | None = None

    @model_validator(mode="after")
    def _history(self) -> Device:
        if self.days is not None and self.count is not None:
            raise ValueError("give days or count, not both")
        if self.kind not in {"contour-usb", "gls"} and self.count is not None:
            raise ValueError(f"count is for meters; a {self.kind} takes days")
        return self


class At(Strict):
    """When a fault or event happens: before run ``run`` (1 = the first), or during it."""

    run: int = Field(default=1, ge=1)
    after_bytes: int | None = Field(default=None, ge=0)
    """USB: once this many bytes crossed the link in the run."""
    after_record: int | None = Field(default=None, ge=1)
    """BLE: right after this record (1 = the first) of a transfer was sent."""
    request: int | None = Field(default=None, ge=1)
    """Cloud: from the n-th matching request of the run on."""

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        return {"run": value} if isinstance(value, int) else value


class Fault(Strict):
    """A device, link, rig or cloud fault in force during one run."""

    kind: FaultKind
    at: At = At()
    device: str | None = None
    times: int | None = Field(default=1, ge=1)
    """How many times it fires (null: every time)."""
    frame: int = Field(default=0, ge=0)
    seconds: float = Field(default=1.0, ge=0)
    which: Literal["racp", "socp"] = "racp"
    record: int | None = Field(default=None, ge=1)
    status: Literal[500, 502, 503, 504] = 503
    retry_after_s: int = Field(default=1, ge=0)
    delay_ms: int = Field(default=100, ge=0)
    method: Literal["GET", "POST", "PUT", "DELETE"] | None = None
    path: str | None = None
    volts: float | None = Field(default=None, ge=0, le=5)
    db: float | None = Field(default=None, ge=0, le=120)

    @model_validator(mode="after")
    def _parameters(self) -> Fault:
        if self.kind == "rig-battery-volts" and self.volts is None:
            raise ValueError("rig-battery-volts needs volts (the supply's voltage)")
        if self.kind == "rig-ble-attenuation" and self.db is None:
            raise ValueError("rig-ble-attenuation needs db (the attenuation in dB)")
        if self.at.request is not None and not self.kind.startswith("cloud-"):
            raise ValueError(f"at.request is for cloud faults, not {self.kind}")
        return self


class Event(Strict):
    """Something that happens to a device before a run: readings, clocks, time."""

    kind: EventKind
    at: At = At()
    device: str | None = None
    values: list[int] = Field(default_factory=list)
    shift_minutes: float = 0
    to_timezone: str | None = None
    minutes: float = Field(default=0, ge=0)
    units: float = Field(default=1.0, gt=0)

    @model_validator(mode="after")
    def _parameters(self) -> Event:
        if self.kind == "measure" and not self.values:
            raise ValueError("measure needs values (the readings, mg/dL)")
        if self.kind == "travel" and not self.to_timezone:
            raise ValueError("travel needs to_timezone (where the person went)")
        return self


class Expect(Strict):
    """What the user must see after a run, and what the cloud must hold."""

    outcome: Outcome = "uploaded"
    error: str | None = None
    """The uploader's error class (uploader/errors.py), e.g. DeviceNotFound."""
    step: Literal[STEPS] | None = None  # type: ignore[valid-type]
    exit_code: int | None = Field(default=None, ge=0, le=255)
    message: str | None = None
    """A fragment of the message the user sees (case-insensitive)."""
    note: str | None = None
    """A fragment of one of the notes of a successful run."""
    new_datums: int | None = Field(default=None, ge=0)
    cloud: CloudCheck | None = None
    """exact: the cloud holds the device's ledger (every reading once); subset: nothing
    duplicated, invented or wrong (some may be missing); empty: nothing; unchanged: exactly
    what it held before the run. Default: exact after a success, subset after an error."""

    @model_validator(mode="after")
    def _consistent(self) -> Expect:
        if self.outcome != "error" and (self.error or self.step or self.exit_code):
            raise ValueError(f"error, step and exit_code describe an error, not {self.outcome!r}")
        if self.error is not None and self.error not in error_names():
            raise ValueError(f"unknown error class {self.error!r}")
        return self

    @property
    def cloud_check(self) -> CloudCheck:
        if self.cloud is not None:
            return self.cloud
        return "subset" if self.outcome == "error" else "exact"


class Run(Strict):
    """One ``diahil upload`` and its expected outcome."""

    device: str | None = None
    """A device id (the DEVICE names exactly it), or ``usb`` / ``ble``: let detection pick."""
    account: str = "owner"
    computer: str = Field(default="home", pattern=r"^[a-z0-9][a-z0-9-]*$")
    """Which computer uploads: each keeps its own uploader state (another one knows nothing
    of earlier uploads)."""
    password: str | None = None
    """Type this password instead of the account's (a wrong one)."""
    passkey: int | None = Field(default=None, ge=0, le=999999)
    """Type this pairing code instead of the one the device shows."""
    timezone: str | None = None
    chunk_size: int | None = Field(default=None, ge=1, le=1000)
    set_clock: bool = False
    retries: int | None = Field(default=None, ge=1)
    expect: Expect = Expect()


class Scenario(Strict):
    """A field problem as a reproducible run of the whole system."""

    name: str
    description: str = ""
    source: str = ""
    """Where the problem comes from (a checklist, a field report)."""
    timezone: str = "America/Los_Angeles"
    now: datetime = datetime.fromisoformat("2026-03-02T18:00:00+00:00")
    """The true time (aware) the scenario starts at; every history ends here."""
    accounts: list[str] = Field(default_factory=lambda: ["owner"], min_length=1)
    devices: list[Device] = Field(min_length=1)
    events: list[Event] = Field(default_factory=list)
    faults: list[Fault] = Field(default_factory=list)
    runs: list[Run] = Field(min_length=1)

    @model_validator(mode="after")
    def _references(self) -> Scenario:
        ids = [device.id for device in self.devices]
        if len(set(ids)) != len(ids):
            raise ValueError(f"device ids repeat: {ids}")
        if self.now.tzinfo is None:
            raise ValueError("now needs a UTC offset (for example 2026-03-02T18:00:00Z)")
        return self


def reference_problems(scenario: Scenario) -> list[tuple[tuple[str | int, ...], str]]:
    """Names that point nowhere (a device, an account, a run), each with its location."""
    ids = [device.id for device in scenario.devices]
    found: list[tuple[tuple[str | int, ...], str]] = []
    timeline: list[tuple[str, int, Event | Fault]] = [
        *(("events", i, e) for i, e in enumerate(scenario.events)),
        *(("faults", i, f) for i, f in enumerate(scenario.faults)),
    ]
    for section, index, item in timeline:
        if item.device is not None and item.device not in ids:
            found.append(
                (
                    (section, index, "device"),
                    f"no device {item.device!r}; the devices are {ids}",
                )
            )
        target = next((d for d in scenario.devices if d.id == item.device), scenario.devices[0])
        if isinstance(item, Event) and target.kind not in EVENT_DEVICES[item.kind]:
            allowed = ", ".join(EVENT_DEVICES[item.kind])
            found.append(
                (
                    (section, index, "kind"),
                    f"{item.kind} is for {allowed}; {target.id} is {target.kind}",
                )
            )
        if isinstance(item, Fault):
            usb = target.kind == "contour-usb"
            if (item.kind in USB_ONLY and not usb) or (item.kind in BLE_ONLY and usb):
                link = "USB" if item.kind in USB_ONLY else "Bluetooth"
                found.append(
                    (
                        (section, index, "kind"),
                        f"{item.kind} is a {link} fault; {target.id} is a {target.kind}",
                    )
                )
        if item.at.run > len(scenario.runs):
            found.append(
                (
                    (section, index, "at", "run"),
                    f"run {item.at.run}, and there are {len(scenario.runs)} runs",
                )
            )
    for index, run in enumerate(scenario.runs):
        if run.device not in (None, "usb", "ble", *ids):
            found.append(
                (("runs", index, "device"), f"no device {run.device!r}; the devices are {ids}")
            )
        if run.account not in scenario.accounts:
            found.append(
                (
                    ("runs", index, "account"),
                    f"no account {run.account!r}; the accounts are {scenario.accounts}",
                )
            )
    return found
