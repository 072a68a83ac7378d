"""Inline SVG charts: the daily view and the ambulatory glucose profile.

Pure functions from computed data (``day_data.Day``, ``agp.AgpBin``) to SVG markup, with
classes and ``data-`` attributes that say what each mark is (``cbg``, ``smbg``, ``bolus``,
``basal``, ``agp-outer``, ``agp-inner``, ``agp-median``, ``target-range``), so that people
can read the chart and browser tests can check it. Glucose is in mg/dL on a 0-400 scale
(higher values are drawn at the top edge); the target range 70-180 is shaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

from mock_cloud.web.agp import BIN_MINUTES, AgpBin
from mock_cloud.web.day_data import Day

WIDTH = 960
LEFT, RIGHT = 48, 16
GLUCOSE_TOP, GLUCOSE_HEIGHT = 16, 280
INSULIN_TOP, INSULIN_HEIGHT = 320, 110
MAX_MGDL = 400.0
TARGET = (70, 180)
MINUTES = 24 * 60


def _x(minute: float) -> float:
    return LEFT + (WIDTH - LEFT - RIGHT) * min(max(minute, 0.0), MINUTES) / MINUTES


def _y(mgdl: float) -> float:
    return GLUCOSE_TOP + GLUCOSE_HEIGHT * (1 - min(max(mgdl, 0.0), MAX_MGDL) / MAX_MGDL)


def _fmt(value: float) -> str:
    return f"{value:.1f}"


def _glucose_axes() -> list[str]:
    parts = [
        f'<rect class="target-range" x="{LEFT}" y="{_fmt(_y(TARGET[1]))}" '
        f'width="{WIDTH - LEFT - RIGHT}" height="{_fmt(_y(TARGET[0]) - _y(TARGET[1]))}"/>'
    ]
    for mgdl in (40, 70, 180, 250, 400):
        y = _fmt(_y(mgdl))
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y}" y2="{y}"/>'
            f'<text class="axis" x="{LEFT - 6}" y="{y}" text-anchor="end" '
            f'dominant-baseline="middle">{mgdl}</text>'
        )
    for hour in range(0, 25, 3):
        x = _fmt(_x(hour * 60))
        parts.append(
            f'<line class="grid" x1="{x}" x2="{x}" y1="{GLUCOSE_TOP}" '
            f'y2="{GLUCOSE_TOP + GLUCOSE_HEIGHT}"/>'
            f'<text class="axis" x="{x}" y="{GLUCOSE_TOP + GLUCOSE_HEIGHT + 14}" '
            f'text-anchor="middle">{hour:02d}:00</text>'
        )
    return parts


def _clock(minute: float) -> str:
    whole = int(minute)
    return f"{whole // 60:02d}:{whole % 60:02d}"


def day_chart(day: Day) -> Markup:
    """The daily view: CGM dots, meter readings, boluses and basal for one day."""
    height = INSULIN_TOP + INSULIN_HEIGHT + 24
    parts = [
        f'<svg class="day-chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="Glucose and insulin on {day.day.isoformat()}" '
        f'xmlns="http://www.w3.org/2000/svg">',
        *_glucose_axes(),
        f'<g class="cgm" data-count="{len(day.cbg)}">',
    ]
    for reading in day.cbg:
        parts.append(
            f'<circle class="cbg" cx="{_fmt(_x(reading.minute))}" cy="{_fmt(_y(reading.mgdl))}" '
            f'r="2.2" data-value="{reading.mgdl:g}"><title>{_clock(reading.minute)} '
            f"CGM {reading.mgdl:.0f} mg/dL</title></circle>"
        )
    parts.append(f'</g><g class="meter" data-count="{len(day.smbg)}">')
    for reading in day.smbg:
        parts.append(
            f'<circle class="smbg" cx="{_fmt(_x(reading.minute))}" cy="{_fmt(_y(reading.mgdl))}" '
            f'r="6" data-value="{reading.mgdl:g}"><title>{_clock(reading.minute)} meter '
            f"{reading.mgdl:.0f} mg/dL</title></circle>"
        )
    parts.append("</g>")
    parts += _insulin(day)
    parts.append("</svg>")
    return Markup("".join(parts))


def _insulin(day: Day) -> list[str]:
    baseline = INSULIN_TOP + INSULIN_HEIGHT
    max_rate = max([2.0, *(segment.rate for segment in day.basal)])
    max_bolus = max([5.0, *(bolus.units for bolus in day.boluses)])
    parts = [
        f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{baseline}" y2="{baseline}"/>',
        f'<text class="axis" x="{LEFT - 6}" y="{INSULIN_TOP + 8}" text-anchor="end">U</text>',
        f'<g class="basal-delivery" data-count="{len(day.basal)}">',
    ]
    for segment in day.basal:
        top = baseline - INSULIN_HEIGHT * 0.45 * segment.rate / max_rate
        kind = escape(segment.delivery_type)
        parts.append(
            f'<rect class="basal {kind}" x="{_fmt(_x(segment.start))}" y="{_fmt(top)}" '
            f'width="{_fmt(max(_x(segment.end) - _x(segment.start), 0.5))}" '
            f'height="{_fmt(baseline - top)}" data-rate="{segment.rate:g}">'
            f"<title>{_clock(segment.start)}-{_clock(segment.end)} {kind} basal "
            f"{segment.rate:g} U/h</title></rect>"
        )
    parts.append(f'</g><g class="boluses" data-count="{len(day.boluses)}">')
    for bolus in day.boluses:
        top = baseline - INSULIN_HEIGHT * 0.95 * bolus.units / max_bolus
        width = max(_x(bolus.minute + bolus.duration_minutes) - _x(bolus.minute), 4.0)
        parts.append(
            f'<rect class="bolus" x="{_fmt(_x(bolus.minute) - 2)}" y="{_fmt(top)}" '
            f'width="{_fmt(width)}" height="{_fmt(baseline - top)}" '
            f'data-units="{bolus.units:g}"><title>{_clock(bolus.minute)} '
            f"{escape(bolus.sub_type)} bolus {bolus.units:g} U</title></rect>"
        )
    parts.append("</g>")
    return parts


def _runs(bins: Sequence[AgpBin]) -> list[list[AgpBin]]:
    runs: list[list[AgpBin]] = []
    for item in bins:
        if runs and item.minute - runs[-1][-1].minute == BIN_MINUTES:
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


def _band(run: list[AgpBin], low: str, high: str, step: int) -> str:
    upper = [(_x(b.minute + step / 2), _y(getattr(b, high))) for b in run]
    lower = [(_x(b.minute + step / 2), _y(getattr(b, low))) for b in reversed(run)]
    return "M" + " L".join(f"{_fmt(x)},{_fmt(y)}" for x, y in upper + lower) + " Z"


def agp_chart(bins: Sequence[AgpBin], days: int) -> Markup:
    """The AGP: 5-95% and 25-75% bands and the median over 24 hours."""
    height = GLUCOSE_TOP + GLUCOSE_HEIGHT + 24
    step = BIN_MINUTES
    parts = [
        f'<svg class="agp-chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="Ambulatory glucose profile, {days} days" data-bins="{len(bins)}" '
        f'xmlns="http://www.w3.org/2000/svg">',
        *_glucose_axes(),
    ]
    for found in _runs(bins):
        run = found if len(found) > 1 else [found[0], found[0]]
        parts.append(f'<path class="agp-outer" d="{_band(run, "p5", "p95", step)}"/>')
        parts.append(f'<path class="agp-inner" d="{_band(run, "p25", "p75", step)}"/>')
        points = " ".join(f"{_fmt(_x(b.minute + step / 2))},{_fmt(_y(b.p50))}" for b in run)
        parts.append(f'<polyline class="agp-median" points="{points}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))
