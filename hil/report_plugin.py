"""The pytest side of the run report: ``--hil-report FILE.html`` (JUnit XML beside it).

Fixtures that judge the cloud by a device's ledger (``ledger_check``, ``pump_ledger_check``,
``hil_ledger_check``) call ``record_comparison``: the comparison and the glucose and
insulin the cloud held are kept on the test item and travel on its reports (so they reach
the controller from pytest-xdist workers). At the end of the session the controller writes
the HTML page (``hil.report``) and, unless ``--junitxml`` names another file, the JUnit XML
as FILE.xml.
"""

from __future__ import annotations

import platform
from collections.abc import Generator, Sequence
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pytest

from hil.report import (
    DIFFERENCE_KINDS,
    Comparison,
    ReportEntry,
    comparison_sink,
    glucose_points,
    insulin_points,
    render_report,
)

RECORD = pytest.StashKey[dict[str, Any]]()


def uploader_version() -> str:
    try:
        return version("diahil")
    except PackageNotFoundError:
        return "unknown"


def report_record(node: pytest.Item) -> dict[str, Any]:
    """What the report keeps about the running test (JSON-able: it crosses xdist)."""
    record = node.stash.get(RECORD, None)
    if record is None:
        record = {"comparisons": [], "glucose": [], "insulin": [], "device": {}}
        node.stash[RECORD] = record
    return record


def record_comparison(
    node: pytest.Item, name: str, comparison: Any, cloud: Sequence[dict[str, Any]]
) -> None:
    """Keep a ledger comparison (``LedgerComparison`` / ``PumpComparison``) for the report,
    with the glucose and insulin of the cloud datums it judged."""
    record = report_record(node)
    record["comparisons"].append(
        Comparison(
            name=name,
            expected=int(comparison.expected),
            matched=int(comparison.matched),
            differences={kind: list(getattr(comparison, kind)) for kind in DIFFERENCE_KINDS},
        ).as_json()
    )
    record["glucose"] = sorted({*map(tuple, record["glucose"]), *glucose_points(cloud)})
    record["insulin"] = sorted({*map(tuple, record["insulin"]), *insulin_points(cloud)})


def record_device(node: pytest.Item, identity: dict[str, str]) -> None:
    report_record(node)["device"].update(identity)


def record_emulated_device(node: pytest.Item, kind: str, model: Any) -> None:
    """Record an emulated device (its model's serial number, model name and firmware) as
    JUnit properties and for the report; a test with several records the first."""
    if any(name == "device_kind" for name, _ in node.user_properties):
        return
    values = {
        "device_kind": kind,
        "device_serial": getattr(model, "serial_number", None),
        "device_model": getattr(model, "model_name", None),
        "device_firmware": getattr(model, "firmware_version", None),
    }
    identity = {key: str(value) for key, value in values.items() if value}
    node.user_properties.extend(identity.items())
    record_device(node, identity)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("diahil").addoption(
        "--hil-report",
        metavar="FILE.html",
        default=None,
        help="write an HTML run report (one file, no external assets) and JUnit XML beside it",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    report = config.getoption("--hil-report", default=None)
    if not report:
        return
    if not getattr(config.option, "xmlpath", None):
        config.option.xmlpath = str(Path(report).with_suffix(".xml"))
    if not hasattr(config, "workerinput"):  # xdist workers only send their reports
        config.pluginmanager.register(ReportCollector(config, Path(report)), "diahil-report")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    record = item.stash.get(RECORD, None)
    if record is not None:
        report.hil_record = record  # type: ignore[attr-defined]
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """Comparisons library code notes while the test runs (``hil.report.note_comparison``,
    e.g. the scenario runner's) go to this test's record."""

    def sink(name: str, comparison: Any, cloud: Sequence[dict[str, Any]]) -> None:
        record_comparison(item, name, comparison, cloud)

    with comparison_sink(sink):
        return (yield)


class ReportCollector:
    """Collects every test's reports on the controller and writes the page at the end."""

    def __init__(self, config: pytest.Config, path: Path) -> None:
        self.config = config
        self.path = path
        self.entries: dict[str, ReportEntry] = {}
        self.started = datetime.now(UTC)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        entry = self.entries.setdefault(report.nodeid, ReportEntry(report.nodeid))
        entry.durations[report.when] = report.duration
        if report.failed:
            entry.outcome = "failed" if report.when == "call" else "error"
            entry.message = str(report.longreprtext)[-4000:]
        elif report.skipped and entry.outcome == "passed":
            entry.outcome = "skipped"
            longrepr = report.longrepr
            entry.message = str(longrepr[2]) if isinstance(longrepr, tuple) else str(longrepr)
        record = getattr(report, "hil_record", None)
        if record:
            entry.device = dict(record.get("device", {}))
            entry.comparisons = [Comparison.from_json(c) for c in record.get("comparisons", [])]
            entry.glucose = [(str(t), float(v)) for t, v in record.get("glucose", [])]
            entry.insulin = [(str(t), float(v)) for t, v in record.get("insulin", [])]

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        config = self.config
        facts = {
            "started": self.started.strftime("%Y-%m-%d %H:%M:%S UTC"),
            "target": str(config.getoption("--hil-target", default="emulated")),
            "rig": str(config.getoption("--hil-rig", default=None) or "-"),
            "uploader": uploader_version(),
            "python": platform.python_version(),
            "junit": str(getattr(config.option, "xmlpath", None) or "-"),
        }
        page = render_report(list(self.entries.values()), "diahil run report", facts)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(page, encoding="utf-8")
