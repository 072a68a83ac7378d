"""The structured log of one upload: every step with its timing and outcome, as JSON lines.

The session writes to it as it goes (step started, step finished or failed, the account
after login, the device identity after identify, warnings, the error); the CLI puts the
steps in ``--json`` output, ``diahil watch`` logs one line per run from it, and support
bundles (``uploader.support_bundle``) store it as ``log.jsonl``. Secrets the session learns
(the password, the session token) are registered here so that every writer can redact them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from uploader.errors import Step, UploaderError
from uploader.records import DeviceIdentity


@dataclass
class StepRecord:
    step: str
    started_at: str
    seconds: float | None = None
    outcome: str = "running"
    """``running``, ``ok`` or ``failed``."""

    def as_dict(self) -> dict[str, Any]:
        seconds = None if self.seconds is None else round(self.seconds, 4)
        return {
            "step": self.step,
            "started_at": self.started_at,
            "seconds": seconds,
            "outcome": self.outcome,
        }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class RunLog:
    """What happened during one upload, in order."""

    events: list[dict[str, Any]] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)
    account: str | None = None
    device: DeviceIdentity | None = None
    device_clock_offset_s: float | None = None
    secrets: set[str] = field(default_factory=set)
    secret_sources: list[Callable[[], str | None]] = field(default_factory=list)
    """Read when the secrets are needed: values that change during a run (session tokens)."""
    started: float = field(default_factory=time.monotonic)

    def event(self, kind: str, **fields: Any) -> None:
        self.events.append(
            {
                "time": _now(),
                "elapsed_s": round(time.monotonic() - self.started, 4),
                "event": kind,
                **fields,
            }
        )

    def secret(self, value: str | None) -> None:
        """Remember a value that must never be written anywhere (passwords, tokens)."""
        if value:
            self.secrets.add(value)

    def all_secrets(self) -> set[str]:
        """Every secret of the run so far (tokens as they are now)."""
        current = {source() for source in self.secret_sources}
        return self.secrets | {value for value in current if value}

    def step_started(self, step: Step) -> StepRecord:
        record = StepRecord(step.value, _now())
        self.steps.append(record)
        self.event("step-started", step=step.value)
        return record

    def step_finished(
        self, record: StepRecord, seconds: float, error: BaseException | None
    ) -> None:
        record.seconds = seconds
        record.outcome = "ok" if error is None else "failed"
        fields: dict[str, Any] = {"step": record.step, "seconds": round(seconds, 4)}
        if error is not None:
            fields["error"] = type(error).__name__
        self.event("step-finished" if error is None else "step-failed", **fields)

    def logged_in(self, account: str) -> None:
        self.account = account
        self.event("logged-in", account=account)

    def identified(self, identity: DeviceIdentity) -> None:
        self.device = identity
        self.event(
            "identified",
            manufacturer=identity.manufacturer,
            model=identity.model,
            serial_number=identity.serial_number,
            firmware_version=identity.firmware_version,
            device_id=identity.device_id,
            clock=identity.clock.isoformat() if identity.clock else None,
        )

    def warning(self, text: str) -> None:
        self.event("warning", message=text)

    def failed(self, error: UploaderError) -> None:
        self.event("error", **error.as_dict())

    def finished(self, status: str, summary: dict[str, Any]) -> None:
        self.event("finished", status=status, summary=summary)

    def steps_json(self) -> list[dict[str, Any]]:
        return [s.as_dict() for s in self.steps]

    def jsonl(self) -> str:
        return "".join(json.dumps(e, default=str) + "\n" for e in self.events)
