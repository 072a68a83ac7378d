"""Judging a run: its outcome against ``expect``, and the cloud against the device's ledger.

The cloud is read over HTTP by ``hil.cloud.CloudInspector`` (its own client, not the
uploader's) and compared with what the device's ledger says it must hold
(``hil.oracle`` for meters and CGMs, ``hil.pump_oracle`` for pumps). Readings the cloud was
shown before stay expected after a meter's memory wraps (``Placed.seen``).
"""

from __future__ import annotations

import json
from typing import Any

from hil.cloud import Account, CloudInspector
from hil.harness import UploadHarness
from hil.oracle import (
    OutOfRangeRule,
    compare_cbg_with_ledger,
    compare_with_ledger,
    expected_cbg,
    expected_smbg,
)
from hil.pump_oracle import compare_pump_with_ledger, expected_pump
from hil.report import note_comparison
from hil.scenarios.model import Run
from hil.scenarios.placement import Placed
from hil.scenarios.verdict import RunReport
from uploader.errors import InternalError, UploaderError


def upload_options(run: Run) -> dict[str, Any]:
    """The ``UploadHarness.upload`` options ``run`` sets (password, chunk size, set clock)."""
    options: dict[str, Any] = {}
    if run.password is not None:
        options["password"] = run.password
    if run.chunk_size is not None:
        options["chunk_size"] = run.chunk_size
    if run.set_clock:
        options["set_clock"] = True
    return options


def upload_and_judge(
    harness: UploadHarness, spec: str, options: dict[str, Any], run: Run, index: int
) -> tuple[RunReport, UploaderError | None]:
    """Upload from ``spec`` and judge what happened against ``run.expect`` (the cloud is
    judged apart, ``check_cloud``): the run's report, and the error it failed with (None
    when it did not fail)."""
    expect = run.expect
    report = RunReport(index, describe_expect(run), "")
    failure: UploaderError | None = None
    try:
        result = harness.upload(spec, **options)
        report.happened = f"{result.status}, {result.new_datums} new datums"
        outcome: str = result.status
        if expect.new_datums is not None and result.new_datums != expect.new_datums:
            report.differences.append(
                f"new datums: expected {expect.new_datums}, got {result.new_datums}"
            )
        notes = list(result.notes)
        if expect.note is not None and not any(expect.note.lower() in n.lower() for n in notes):
            report.differences.append(
                f"no note mentions {expect.note!r}; the notes were {notes or 'none'}"
            )
    except Exception as raised:
        failure = raised if isinstance(raised, UploaderError) else InternalError.wrap(raised)
        outcome = "error"
        report.happened = (
            f"{type(failure).__name__} at step {failure.step} (exit code "
            f"{int(failure.exit_code)}): {failure.user_message()}"
        )
        check_error(run, failure, report)
    if outcome != expect.outcome:
        report.differences.insert(0, f"outcome: expected {expect.outcome}, got {report.happened}")
    return report, failure


def check_error(run: Run, failure: UploaderError, report: RunReport) -> None:
    """Add to ``report`` how ``failure`` differs from the error ``run`` expects."""
    expect = run.expect
    if expect.outcome != "error":
        return
    names = [k.__name__ for k in type(failure).__mro__]
    if expect.error is not None and expect.error not in names:
        report.differences.append(f"error: expected {expect.error}, got {type(failure).__name__}")
    step = failure.step.value if failure.step else None
    if expect.step is not None and step != expect.step:
        report.differences.append(f"step: expected {expect.step}, got {step}")
    if expect.exit_code is not None and int(failure.exit_code) != expect.exit_code:
        report.differences.append(
            f"exit code: expected {expect.exit_code}, got {int(failure.exit_code)}"
        )
    text = failure.user_message()
    if expect.message is not None and expect.message.lower() not in text.lower():
        report.differences.append(f"the message does not say {expect.message!r}: {text}")


def held(
    inspector: CloudInspector, placed: Placed, account: Account, datum_type: str | None
) -> list[Any]:
    """The datums of ``placed`` (by its data sets' serial number) the cloud holds."""
    sets = inspector.data_sets(account)
    uploads = {
        str(s.get("uploadId") or s.get("id"))
        for s in sets
        if s.get("deviceSerialNumber") == placed.serial
    }
    params = {"type": datum_type} if datum_type else {}
    return [d for d in inspector.data(account, **params) if d.get("uploadId") in uploads]


def check_cloud(
    inspector: CloudInspector,
    placed: Placed,
    account: Account,
    run: Run,
    timezone: str,
    success: bool,
) -> list[str]:
    """The cloud against ``placed``'s ledger, as ``run.expect.cloud`` asks; the differences."""
    check = run.expect.cloud_check
    kind = placed.spec.kind
    name = placed.spec.id
    if kind == "ids-pump":
        datums = held(inspector, placed, account, None)
        if check == "empty":
            return (
                [f"{name}: the cloud holds {len(datums)} datums, expected none"] if datums else []
            )
        model = placed.ble_device().peripheral.model
        comparison: Any = compare_pump_with_ledger(expected_pump(model, timezone), datums)
    else:
        datum_type = "cbg" if kind == "cgm" else "smbg"
        datums = held(inspector, placed, account, datum_type)
        if check == "empty":
            return (
                [f"{name}: the cloud holds {len(datums)} datums, expected none"] if datums else []
            )
        seen = placed.seen.setdefault((account.email, timezone), {})
        now: list[Any]
        keyed: dict[tuple[str, float | None], Any]
        if kind == "cgm":
            now = expected_cbg(placed.ble_device().peripheral.model)
            keyed = {(item.device_time, None): item for item in now}
        else:
            model = (
                placed.usb.model if placed.usb is not None else placed.ble_device().peripheral.model
            )
            rule: OutOfRangeRule = "threshold" if kind == "contour-usb" else "unknown"
            now = expected_smbg(model, timezone, out_of_range=rule)
            keyed = {(item.device_time, item.value): item for item in now}
        expected = list({**seen, **keyed}.values())
        if kind == "cgm":
            comparison = compare_cbg_with_ledger(expected, datums)
        else:
            comparison = compare_with_ledger(expected, datums)
        if success and check == "exact":
            seen.update(keyed)
    note_comparison(f"{name} ({kind})", comparison, datums)  # for the run report
    if check == "exact" and not comparison.exact:
        return [f"{name}: the cloud differs from the device's ledger: {comparison}"]
    if check == "subset" and (comparison.duplicated or comparison.unexpected or comparison.wrong):
        return [f"{name}: after the error the cloud holds what it must not: {comparison}"]
    return []


def canonical(datums: list[Any]) -> list[str]:
    return sorted(json.dumps(d, sort_keys=True) for d in datums)


def describe_expect(run: Run) -> str:
    expect = run.expect
    if expect.outcome != "error":
        return f"{expect.outcome}, cloud {expect.cloud_check}"
    parts = [expect.error or "an error"]
    if expect.step:
        parts.append(f"at step {expect.step}")
    if expect.exit_code is not None:
        parts.append(f"(exit code {expect.exit_code})")
    return " ".join(parts) + f", cloud {expect.cloud_check}"
