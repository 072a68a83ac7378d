"""Support bundles (``--support-bundle FILE.zip``): everything needed to understand a run.

A zip with, for one upload (successful or not):

- ``README.txt``: what happened, what is inside, how to reproduce the run;
- ``log.jsonl``: the run's structured log (``uploader.runlog``): every step with its start,
  duration and outcome, the device identity, warnings, the error;
- ``outcome.json``: the result (as ``--json`` prints it) or the error, with the exit code;
- ``device.json``: the device's identity and clock, and its offset from this computer's;
- ``versions.json``: diahil, Python, the operating system and the key libraries;
- ``settings.json``: the options of the run, secrets redacted;
- ``sync-state.json``: this account's and device's cursor, count of verified records and
  recent runs, from the state database;
- ``capture.jsonl`` (with ``--capture FILE``): the raw exchange with the device
  (``uploader.capture``), and the capture file itself (``capture/FILE``: usbmon pcap/pcapng,
  btsnoop, a GATT-level ``.gatt.pcapng``...), as written, for Wireshark and ``diahil replay``.

Secrets never reach the zip: the password, session tokens and passkeys the run used are
registered in its log and every file's text is scrubbed of them; fields named like secrets
(password, token, authorization, passkey) are replaced whatever their value.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import sys
import zipfile
from dataclasses import fields
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from uploader.capture import ExchangeCapture
from uploader.errors import UploaderError
from uploader.runlog import RunLog
from uploader.session import UploadOptions, UploadResult, client_version
from uploader.state import SyncState, default_state_path

REDACTED = "[redacted]"
SECRET_NAMES = re.compile(r"pass(word|key|phrase)?|token|secret|authori[sz]ation|cookie", re.I)
LIBRARIES = ("pyusb", "libusb-package", "bleak", "bumble", "httpx", "typer", "rich")
BUNDLE_FILES = (
    "README.txt",
    "log.jsonl",
    "outcome.json",
    "device.json",
    "versions.json",
    "settings.json",
    "sync-state.json",
)


class BundleError(UploaderError):
    """The support bundle could not be written (the upload's own outcome is unaffected)."""

    default_hint = "Give --support-bundle a file in a folder you can write to."


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def versions() -> dict[str, Any]:
    return {
        "diahil": client_version(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "os": platform.platform(),
        "machine": platform.machine(),
        "libraries": {name: _version(name) for name in LIBRARIES},
    }


def _url_without_credentials(url: str) -> str:
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{REDACTED}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _mask_email(email: str) -> str:
    local, at, domain = email.partition("@")
    return f"{local[:2]}***{at}{domain}" if at else f"{email[:2]}***"


def settings(options: UploadOptions) -> dict[str, Any]:
    """The options of a run as plain values; secrets redacted, objects named by type."""
    out: dict[str, Any] = {}
    for spec in fields(options):
        name = spec.name
        value = getattr(options, name)
        if name == "run_log":
            continue
        if SECRET_NAMES.search(name):
            out[name] = None if value is None else REDACTED
        elif name == "email":
            out[name] = _mask_email(str(value))
        elif name == "cloud_url":
            out[name] = _url_without_credentials(str(value))
        elif value is None or isinstance(value, str | int | float | bool):
            out[name] = value
        elif isinstance(value, Path):
            out[name] = str(value)
        else:
            out[name] = f"<{type(value).__name__}>"
    return out


def redact_fields(value: Any) -> Any:
    """``value`` with every field named like a secret replaced."""
    if isinstance(value, dict):
        return {
            k: (REDACTED if SECRET_NAMES.search(str(k)) and v is not None else redact_fields(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact_fields(v) for v in value]
    return value


def sync_state(state_path: Path, log: RunLog, cloud_url: str) -> dict[str, Any]:
    """Cursor, verified records and recent runs of this account and device."""
    if not state_path.exists():
        return {"state_file": str(state_path), "exists": False}
    state = SyncState(state_path)
    try:
        out: dict[str, Any] = {"state_file": str(state_path), "exists": True}
        account = log.account
        device_id = log.device.device_id if log.device else None
        out["account"] = account
        out["device_id"] = device_id
        if account and device_id:
            out["cursor"] = state.cursor(account, device_id)
            out["verified_records"] = state.verified_count(account, device_id)
            out["recent_runs"] = state.recent_runs(account, device_id)
        else:
            out["note"] = (
                "The run stopped before the account and the device were both known; these are "
                "the latest runs with this cloud."
            )
            runs = state.recent_runs(limit=50)
            prefix = cloud_url.rstrip("/") + "#"
            out["recent_runs"] = [r for r in runs if r["account"].startswith(prefix)][:10]
        return out
    finally:
        state.close()


def device_facts(log: RunLog, result: UploadResult | None) -> dict[str, Any]:
    identified = next((e for e in log.events if e["event"] == "identified"), None)
    if identified is None:
        return {"identified": False, "note": "The run stopped before the device identified."}
    facts = {k: v for k, v in identified.items() if k not in ("event", "elapsed_s")}
    facts["identified"] = True
    facts["computer_time_utc_at_identify"] = facts.pop("time")
    facts["clock_offset_s"] = result.device_clock_offset_s if result else None
    facts["clock_check"] = result.as_dict().get("clock") if result else None
    return facts


def readme(
    options: UploadOptions, log: RunLog, outcome: dict[str, Any], captured: bool, made_at: str
) -> str:
    device = log.device
    what = (
        f"{device.model}, serial {device.serial_number}, firmware {device.firmware_version}"
        if device
        else f"not identified (DEVICE argument {options.device!r})"
    )
    if outcome.get("status") == "error":
        step = outcome.get("step") or "?"
        happened = f"FAILED at step {step}: {outcome.get('error')}: {outcome.get('message')}"
    else:
        happened = f"{outcome.get('status')}: {outcome.get('new_datums', 0)} new datums"
    command = (
        f"diahil upload {options.device} --cloud {_url_without_credentials(options.cloud_url)} "
        f"--timezone {options.timezone} --email <the user's email> "
        f"--device-timeout-ms {options.device_timeout_ms} --json"
    )
    if options.ble_transport is not None and isinstance(options.ble_transport, str):
        command += f" --ble-transport {options.ble_transport}"
    capture_line = (
        "capture.jsonl    the raw exchange with the device, in order, with times (s)"
        if captured
        else "(no capture.jsonl: run with --capture FILE to record the exchange with the device)"
    )
    if captured:
        capture_line += (
            "\n  capture/         the capture file (usbmon .pcap/.pcapng for USB, HCI .btsnoop/"
            "\n                   .pcapng for Bluetooth: open it in Wireshark, or replay it"
            "\n                   with `diahil replay capture/FILE`; a .gatt.pcapng is a"
            "\n                   Bluetooth GATT log, for Wireshark only)"
        )
    return f"""diahil support bundle
=====================

Made {made_at} by diahil {client_version()}.
Run: {happened} (exit code {outcome.get("exit_code")}).
Device: {what}.

Files
  log.jsonl        every step with start, duration and outcome; warnings; the error
  outcome.json     the result, or the error with the step, what was kept and the hint
  device.json      the device's identity and clock, and its offset from the computer's
  versions.json    diahil, Python, operating system, libraries
  settings.json    the options of the run (secrets redacted)
  sync-state.json  cursor, verified records and recent runs for this account and device
  {capture_line}

Secrets (password, session tokens, passkeys) were removed from every file.

Reproducing the run
  1. Same versions (versions.json) and the same options (settings.json):
       {command}
     with the password in DIAHIL_PASSWORD. The state database named in sync-state.json
     decides what is sent again; a copy of it is not in the bundle (ask for it if needed).
  2. Without the user's device: `diahil reproduce THIS-BUNDLE.zip` rebuilds it (the capture
     replayed, or the model, serial, firmware and clock of device.json), runs the same
     upload against a fresh mock cloud and says whether it ends the same way
     (docs/support.md, "Reproducing a support bundle").
  3. capture.jsonl, when present, shows byte for byte what the device answered, for
     comparing with the emulator's exchange.
"""


def write_bundle(
    path: Path,
    *,
    options: UploadOptions,
    log: RunLog,
    result: UploadResult | None = None,
    error: UploaderError | None = None,
    capture: ExchangeCapture | None = None,
    capture_files: list[Path] | None = None,
) -> Path:
    """Write the bundle of one run to ``path`` (atomically); ``BundleError`` if it cannot."""
    made_at = datetime.now(UTC).isoformat(timespec="seconds")
    if error is not None:
        outcome: dict[str, Any] = {"status": "error", **error.as_dict()}
    elif result is not None:
        outcome = {**result.as_dict(), "exit_code": 0}
    else:
        outcome = {"status": "unknown", "exit_code": None}
    outcome["steps"] = log.steps_json()
    state_path = options.state_path or default_state_path()
    try:
        state = sync_state(state_path, log, options.cloud_url)
    except UploaderError as exc:
        state = {"state_file": str(state_path), "error": exc.message}
    files: dict[str, str] = {
        "README.txt": readme(options, log, outcome, capture is not None, made_at),
        "log.jsonl": "".join(
            json.dumps(redact_fields(event), default=str) + "\n" for event in log.events
        ),
        "outcome.json": _json(outcome),
        "device.json": _json(device_facts(log, result)),
        "versions.json": _json(versions()),
        "settings.json": _json(settings(options)),
        "sync-state.json": _json(state),
    }
    if capture is not None:
        files["capture.jsonl"] = capture.jsonl()
    secrets = sorted(log.all_secrets(), key=len, reverse=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
            for name, text in files.items():
                bundle.writestr(name, scrub(text, secrets))
            for capture_file in capture_files or []:  # device traffic: binary, no secrets
                bundle.write(capture_file, f"capture/{capture_file.name}")
        temporary.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        raise BundleError(f"The support bundle {path} could not be written ({exc}).") from exc
    return path


def scrub(text: str, secrets: list[str]) -> str:
    """``text`` without ``secrets``, as written or as JSON escapes them (quotes, non-ASCII)."""
    for secret in secrets:
        for form in dict.fromkeys((secret, json.dumps(secret)[1:-1])):
            text = text.replace(form, REDACTED)
    return text


def _json(value: Any) -> str:
    return json.dumps(redact_fields(value), indent=2, default=str) + "\n"
