"""The HTML run report: verdicts, timings, ledger versus cloud, and a plot, in one file."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from hil.report import Comparison, ReportEntry, plot_svg, render_report

RUN = """
import pytest


@pytest.mark.device("gls-meter", days=10)
def test_meter_matches(hil_device, hil_uploader, hil_ledger_check):
    hil_uploader.upload()
    hil_ledger_check().assert_exact()


@pytest.mark.device("contour-usb", days=5)
def test_reading_taken_after_the_upload(hil_device, hil_uploader, hil_ledger_check):
    hil_uploader.upload()
    hil_device.emulator.model.measure(123)  # in the meter, never uploaded
    hil_ledger_check().assert_exact()


def test_pump(make_ids_pump, ble_uploader, pump_ledger_check):
    pump = make_ids_pump(seed=4, days=2)
    ble_uploader.upload_ble(pump)
    pump_ledger_check(pump).assert_exact()


def test_not_today():
    pytest.skip("no pump on this bench today")
"""


class Page(HTMLParser):
    """The report's tests, their differences and the marks of their plots."""

    def __init__(self) -> None:
        super().__init__()
        self.tests: dict[str, dict[str, object]] = {}
        self.current: dict[str, object] = {}
        self.field = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section":
            self.current = {"outcome": a["data-outcome"], "differences": [], "svg": 0,
                            "glucose": 0, "bolus": 0, "comparisons": {}, "timings": ""}  # fmt: skip
            self.tests[str(a["data-nodeid"]).split("::")[-1]] = self.current
        elif tag == "li" and "data-kind" in a:
            self.field = "difference"
        elif tag == "td" and a.get("class") == "timings":
            self.field = "timings"
        elif tag == "div" and a.get("class") == "comparison":
            self.current["comparisons"][a["data-name"]] = a["data-exact"]  # type: ignore[index]
        elif tag == "svg":
            self.current["svg"] = int(self.current["svg"]) + 1  # type: ignore[call-overload]
        elif tag == "circle" and a.get("class") == "glucose":
            self.current["glucose"] = int(self.current["glucose"]) + 1  # type: ignore[call-overload]
        elif tag == "rect" and a.get("class") == "bolus":
            self.current["bolus"] = int(self.current["bolus"]) + 1  # type: ignore[call-overload]

    def handle_data(self, data: str) -> None:
        if self.field == "difference":
            self.current["differences"].append(data)  # type: ignore[attr-defined]
        elif self.field == "timings":
            self.current["timings"] = data
        self.field = ""


def test_the_report_shows_verdicts_differences_and_plots(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(RUN)
    report = pytester.path / "out" / "run.html"
    result = pytester.runpytest("-p", "no:cacheprovider", f"--hil-report={report}")
    result.assert_outcomes(passed=2, failed=1, skipped=1)
    html = report.read_text(encoding="utf-8")
    for external in ("src=", "href=", "<link", "@import", "url("):
        assert external not in html  # one file: inline CSS and SVG only
    page = Page()
    page.feed(html)
    tests = page.tests
    assert {name: t["outcome"] for name, t in tests.items()} == {
        "test_meter_matches": "passed",
        "test_reading_taken_after_the_upload": "failed",
        "test_pump": "passed",
        "test_not_today": "skipped",
    }
    meter = tests["test_meter_matches"]
    assert meter["comparisons"] == {"smbg": "true"} and meter["differences"] == []
    assert meter["svg"] == 1 and int(meter["glucose"]) > 10  # type: ignore[call-overload]
    assert "setup" in str(meter["timings"]) and "call" in str(meter["timings"])
    late = tests["test_reading_taken_after_the_upload"]
    assert late["comparisons"] == {"smbg": "false"}
    differences = late["differences"]
    assert isinstance(differences, list) and len(differences) == 1
    assert differences[0].startswith("missing: ")
    pump = tests["test_pump"]
    assert pump["comparisons"] == {"pump": "true"}
    assert int(pump["bolus"]) > 0  # type: ignore[call-overload]
    assert tests["test_not_today"]["svg"] == 0
    assert "no pump on this bench today" in html
    junit = report.with_suffix(".xml")  # JUnit XML beside the report
    assert "test_reading_taken_after_the_upload" in junit.read_text(encoding="utf-8")


def test_the_report_is_written_by_the_controller_under_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(RUN)
    report = pytester.path / "run.html"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:schemathesis", "-n", "2", f"--hil-report={report}"
    )
    result.assert_outcomes(passed=2, failed=1, skipped=1)
    page = Page()
    page.feed(report.read_text(encoding="utf-8"))
    assert page.tests["test_reading_taken_after_the_upload"]["differences"]
    assert int(page.tests["test_meter_matches"]["glucose"]) > 10  # type: ignore[call-overload]


def test_an_empty_plot_and_an_escaped_message(tmp_path: Path) -> None:
    assert "No glucose or insulin" in plot_svg([], [])
    entry = ReportEntry(
        "t.py::test_<x>",
        outcome="failed",
        message="<script>alert(1)</script>",
        comparisons=[Comparison("smbg", 2, 1, {"wrong": ["<b>value 5 != 6</b>"]})],
        glucose=[("2026-03-01T10:00:00Z", 100.0), ("2026-03-01T12:00:00Z", 7.0 * 18.01559)],
    )
    page = render_report([entry], "run", {"target": "emulated"})
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "wrong: &lt;b&gt;value 5 != 6&lt;/b&gt;" in page
    assert page.count('class="glucose"') == 2


def test_a_scenarios_ledger_comparison_reaches_the_report(pytester: pytest.Pytester) -> None:
    scenario = Path(__file__).resolve().parents[2] / "scenarios" / "bad-frame-recovered.yaml"
    pytester.makepyfile(
        f"""
        from pathlib import Path

        from hil.scenarios import load_scenario, run_scenario

        def test_scenario(tmp_path):
            assert run_scenario(load_scenario(Path({str(scenario)!r})), tmp_path).passed
        """
    )
    report = pytester.path / "run.html"
    pytester.runpytest(f"--hil-report={report}").assert_outcomes(passed=1)
    page = Page()
    page.feed(report.read_text(encoding="utf-8"))
    scenario_entry = page.tests["test_scenario"]
    assert scenario_entry["comparisons"] == {"meter (contour-usb)": "true"}
    assert int(scenario_entry["glucose"]) > 10  # type: ignore[call-overload]
