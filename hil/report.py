"""The HTML run report: one self-contained file (inline CSS and SVG, no external assets).

Per test (or scenario): the verdict, the time each phase took, the device it ran on, the
device's ledger against the cloud (every difference the oracle found, by kind), and a plot
of the glucose and insulin the cloud holds. ``render_report`` builds the page from plain
data (``ReportEntry``), so the pytest hooks (``hil.report_plugin``) only collect.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Any

MG_DL_PER_MMOL_L = 18.01559
MAX_POINTS = 2000
"""Points per series in a plot; longer series are thinned evenly (the page stays small)."""

DIFFERENCE_KINDS = ("missing", "duplicated", "unexpected", "wrong")


@dataclass
class Comparison:
    """One oracle comparison of the cloud with a device's ledger."""

    name: str
    expected: int
    matched: int
    differences: dict[str, list[str]] = field(default_factory=dict)

    @property
    def exact(self) -> bool:
        return not any(self.differences.get(kind) for kind in DIFFERENCE_KINDS)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "expected": self.expected,
            "matched": self.matched,
            "differences": self.differences,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Comparison:
        return cls(data["name"], data["expected"], data["matched"], dict(data["differences"]))


@dataclass
class ReportEntry:
    nodeid: str
    outcome: str = "passed"
    """passed, failed, skipped (or error: a setup or teardown failed)."""
    durations: dict[str, float] = field(default_factory=dict)
    message: str = ""
    device: dict[str, str] = field(default_factory=dict)
    comparisons: list[Comparison] = field(default_factory=list)
    glucose: list[tuple[str, float]] = field(default_factory=list)
    """(UTC ISO time, mg/dL) of every glucose datum the cloud held at the comparison."""
    insulin: list[tuple[str, float]] = field(default_factory=list)
    """(UTC ISO time, units) of every bolus the cloud held."""


ComparisonSink = Callable[[str, Any, Sequence[dict[str, Any]]], None]
_sink: list[ComparisonSink] = []


def note_comparison(name: str, comparison: Any, cloud: Sequence[dict[str, Any]]) -> None:
    """Library code that judges the cloud by a ledger (the scenario runner) hands its
    comparison (``LedgerComparison``-like: expected, matched, missing...) and the datums it
    judged to the run report here; outside a reporting test run nothing happens."""
    if _sink:
        _sink[-1](name, comparison, cloud)


@contextmanager
def comparison_sink(sink: ComparisonSink) -> Iterator[None]:
    """Send ``note_comparison`` calls made while the block runs to ``sink``."""
    _sink.append(sink)
    try:
        yield
    finally:
        _sink.remove(sink)


def glucose_points(datums: Sequence[dict[str, Any]]) -> list[tuple[str, float]]:
    """The glucose (smbg, cbg) of Tidepool datums, in mg/dL."""
    points = []
    for datum in datums:
        value = datum.get("value")
        if datum.get("type") not in ("smbg", "cbg") or not isinstance(value, int | float):
            continue
        if str(datum.get("units", "")).lower().startswith("mmol"):
            value = value * MG_DL_PER_MMOL_L
        points.append((str(datum.get("time")), float(value)))
    return sorted(points)


def insulin_points(datums: Sequence[dict[str, Any]]) -> list[tuple[str, float]]:
    """The bolus insulin (normal plus extended parts, delivered) of Tidepool datums."""
    points = []
    for datum in datums:
        if datum.get("type") != "bolus":
            continue
        units = sum(
            float(datum[part])
            for part in ("normal", "extended")
            if isinstance(datum.get(part), int | float)
        )
        points.append((str(datum.get("time")), units))
    return sorted(points)


def _thin(points: list[tuple[datetime, float]]) -> list[tuple[datetime, float]]:
    if len(points) <= MAX_POINTS:
        return points
    step = len(points) / MAX_POINTS
    return [points[int(i * step)] for i in range(MAX_POINTS)]


def _parse(points: list[tuple[str, float]]) -> list[tuple[datetime, float]]:
    parsed = []
    for when, value in points:
        try:
            parsed.append((datetime.fromisoformat(when.replace("Z", "+00:00")), value))
        except ValueError:
            continue
    return _thin(parsed)


def plot_svg(glucose: list[tuple[str, float]], insulin: list[tuple[str, float]]) -> str:
    """An inline SVG: glucose as dots (mg/dL, left axis), boluses as bars (U, right axis)."""
    width, height, left, right, top, bottom = 760, 220, 48, 40, 12, 28
    sugar, doses = _parse(glucose), _parse(insulin)
    moments = [when for when, _ in (*sugar, *doses)]
    if not moments:
        return '<p class="no-plot">No glucose or insulin in the cloud for this test.</p>'
    start, end = min(moments), max(moments)
    span = max((end - start).total_seconds(), 1.0)
    g_top = max([400.0, *(value for _, value in sugar)])
    u_top = max([1.0, *(value for _, value in doses)])
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(when: datetime) -> float:
        return left + plot_w * (when - start).total_seconds() / span

    def y(value: float, top_value: float) -> float:
        return top + plot_h * (1 - value / top_value)

    parts = [
        f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="glucose and insulin">',
        f'<rect x="{left}" y="{y(180, g_top):.1f}" width="{plot_w}" '
        f'height="{y(70, g_top) - y(180, g_top):.1f}" class="range"/>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        f'class="axis"/>',
        f'<text x="4" y="{top + 10}" class="label">{g_top:.0f} mg/dL</text>',
        f'<text x="{width - right + 4}" y="{top + 10}" class="label">{u_top:g} U</text>'
        if doses
        else "",
        f'<text x="{left}" y="{height - 8}" class="label">{start:%Y-%m-%d %H:%M}Z</text>',
        f'<text x="{left + plot_w}" y="{height - 8}" text-anchor="end" class="label">'
        f"{end:%Y-%m-%d %H:%M}Z</text>",
    ]
    bottom_y = top + plot_h
    for when, units in doses:
        bar_top = y(units, u_top)
        parts.append(
            f'<rect class="bolus" x="{x(when) - 1.5:.1f}" y="{bar_top:.1f}" width="3" '
            f'height="{bottom_y - bar_top:.1f}"><title>{units:g} U</title></rect>'
        )
    parts.extend(
        f'<circle class="glucose" cx="{x(when):.1f}" cy="{y(value, g_top):.1f}" r="2"/>'
        for when, value in sugar
    )
    parts.append("</svg>")
    return "".join(parts)


CSS = """
body { font: 14px system-ui, sans-serif; margin: 24px; color: #1d2330; }
h1 { font-size: 20px; }
h2 { font-size: 15px; margin: 0 0 6px; font-family: monospace; overflow-wrap: anywhere; }
.legend { margin: 8px 0 0; } .legend .dot { color: #1565c0; } .legend .bar { color: #ef6c00; }
.summary span { margin-right: 16px; font-weight: 600; }
section.test { border: 1px solid #d5d9e0; border-left-width: 6px; padding: 10px 14px;
  margin: 12px 0; border-radius: 4px; }
section.passed { border-left-color: #2e8540; } section.failed, section.error
{ border-left-color: #c62828; } section.skipped { border-left-color: #a0a4ab; }
.verdict { font-weight: 700; text-transform: uppercase; }
table { border-collapse: collapse; } td, th { padding: 2px 10px 2px 0; text-align: left; }
.differences li { font-family: monospace; } .exact { color: #2e8540; } .inexact { color: #c62828; }
pre.message { background: #f5f6f8; padding: 6px; white-space: pre-wrap; }
svg .glucose { fill: #1565c0; } svg .bolus { fill: #ef6c00; opacity: 0.8; }
svg .range { fill: #e8f5e9; } svg .axis { stroke: #888; }
svg .label { font-size: 11px; fill: #555; }
"""


def _entry_html(entry: ReportEntry) -> str:
    out = [
        f'<section class="test {escape(entry.outcome)}" data-nodeid="{escape(entry.nodeid)}" '
        f'data-outcome="{escape(entry.outcome)}">',
        f"<h2>{escape(entry.nodeid)}</h2>",
        '<table class="facts">',
        f'<tr><th>verdict</th><td class="verdict">{escape(entry.outcome)}</td></tr>',
    ]
    timings = ", ".join(f"{phase} {seconds:.2f} s" for phase, seconds in entry.durations.items())
    out.append(f'<tr><th>timings</th><td class="timings">{escape(timings)}</td></tr>')
    if entry.device:
        device = ", ".join(
            f"{key.removeprefix('device_')}: {value}" for key, value in entry.device.items()
        )
        out.append(f'<tr><th>device</th><td class="device">{escape(device)}</td></tr>')
    out.append("</table>")
    if entry.message:
        out.append(f'<pre class="message">{escape(entry.message)}</pre>')
    for comparison in entry.comparisons:
        verdict = "exact" if comparison.exact else "differs"
        name = escape(comparison.name)
        out.append(
            f'<div class="comparison" data-name="{name}" data-exact='
            f'"{str(comparison.exact).lower()}"><p>Ledger versus cloud ({name}): '
            f'<span class="{"exact" if comparison.exact else "inexact"}">{comparison.matched}/'
            f"{comparison.expected} matched, {verdict}</span></p>"
        )
        if not comparison.exact:
            out.append('<ul class="differences">')
            for kind in DIFFERENCE_KINDS:
                out.extend(
                    f'<li data-kind="{kind}">{kind}: {escape(item)}</li>'
                    for item in comparison.differences.get(kind, [])
                )
            out.append("</ul>")
        out.append("</div>")
    if entry.glucose or entry.insulin:
        out.append(
            f'<p class="legend">Uploaded: <span class="dot">&#9679;</span> glucose '
            f'({len(entry.glucose)}, mg/dL, 70-180 shaded) <span class="bar">&#9646;</span> '
            f"boluses ({len(entry.insulin)}, U)</p>"
        )
        out.append(plot_svg(entry.glucose, entry.insulin))
    out.append("</section>")
    return "\n".join(out)


def render_report(entries: Sequence[ReportEntry], title: str, facts: dict[str, str]) -> str:
    """The whole page: a summary, then every test in the order it finished."""
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry.outcome] = counts.get(entry.outcome, 0) + 1
    summary = "".join(
        f'<span class="count" data-outcome="{escape(o)}">{n} {escape(o)}</span>'
        for o, n in sorted(counts.items())
    )
    fact_rows = "".join(
        f"<tr><th>{escape(key)}</th><td>{escape(value)}</td></tr>" for key, value in facts.items()
    )
    body = "\n".join(_entry_html(entry) for entry in entries)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f'<h1>{escape(title)}</h1><table class="run">{fact_rows}</table>'
        f'<p class="summary">{summary}</p>\n{body}\n</body></html>\n'
    )
