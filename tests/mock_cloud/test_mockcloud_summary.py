"""Summaries: time in ranges, mean, GMI, CV, wear time and insulin totals, on known data."""

from __future__ import annotations

import math
import statistics
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mockcloud_helpers import Account, Api, Helpers

from mock_cloud.datatypes.glucose import MGDL_PER_MMOL
from mock_cloud.summary import gmi, ranges_of

DAY_START = datetime(2024, 5, 1, tzinfo=UTC)
END = "2024-05-02T00:00:00Z"
# 288 five-minute readings: 20 very low, 30 low, 200 in range, 28 high, 10 very high.
PLAN = [(50, 20), (60, 30), (120, 200), (200, 28), (300, 10)]


def _at(minutes: float) -> str:
    return (DAY_START + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _day_of_cbg(h: Helpers) -> list[dict[str, Any]]:
    values = [value for value, count in PLAN for _ in range(count)]
    return [h.cbg(value=v, time=_at(5 * i)) for i, v in enumerate(values)]


def _summary(api: Api, account: Account, kind: str, **params: str) -> dict[str, Any]:
    response = api.get(
        f"/v1/summaries/{kind}/{account.userid}", params=params, headers=account.headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_cgm_figures_for_one_day(api: Api, h: Helpers, alice: Account) -> None:
    h.store(alice, _day_of_cbg(h), deviceTags=["cgm"])

    summary = _summary(api, alice, "cgm", endDate=END)
    day = summary["periods"]["1d"]

    values = [value for value, count in PLAN for _ in range(count)]
    mean = statistics.fmean(values)
    assert day["total"]["records"] == 288
    assert day["timeCGMUsePercent"] == pytest.approx(1.0)
    assert day["inTarget"]["percent"] == pytest.approx(200 / 288)
    assert day["inAnyLow"]["percent"] == pytest.approx(50 / 288)
    assert day["inVeryLow"]["percent"] == pytest.approx(20 / 288)
    assert day["inAnyHigh"]["percent"] == pytest.approx(38 / 288)
    assert day["inVeryHigh"]["percent"] == pytest.approx(10 / 288)
    assert day["averageGlucoseMgdl"] == pytest.approx(mean)
    assert day["averageGlucoseMmol"] == pytest.approx(mean / MGDL_PER_MMOL)
    assert day["glucoseManagementIndicator"] == pytest.approx(3.31 + 0.02392 * mean)
    assert day["coefficientOfVariation"] == pytest.approx(statistics.pstdev(values) / mean)
    assert day["standardDeviation"] == pytest.approx(statistics.pstdev(values) / MGDL_PER_MMOL)
    assert day["minMgdl"] == 50
    assert day["maxMgdl"] == 300
    assert day["hoursWithData"] == 24
    assert day["daysWithData"] == 1
    assert summary["type"] == "cgm"
    assert summary["dates"]["lastData"] == "2024-05-01T23:55:00.000Z"
    assert summary["config"]["lowGlucoseThreshold"] == pytest.approx(70 / MGDL_PER_MMOL)


def test_longer_periods_count_wear_and_drop_gmi(api: Api, h: Helpers, alice: Account) -> None:
    h.store(alice, _day_of_cbg(h), deviceTags=["cgm"])
    periods = _summary(api, alice, "cgm", endDate=END)["periods"]
    assert list(periods) == ["1d", "7d", "14d", "30d", "90d"]
    week = periods["7d"]
    assert week["timeCGMUsePercent"] == pytest.approx(1 / 7)
    assert "glucoseManagementIndicator" not in week  # needs more than 70% wear
    assert week["inTarget"]["percent"] == pytest.approx(200 / 288)
    assert week["averageDailyRecords"] == pytest.approx(288 / 7)


def test_periods_end_at_the_last_reading_by_default(api: Api, h: Helpers, alice: Account) -> None:
    h.store(alice, _day_of_cbg(h)[:12], deviceTags=["cgm"])  # one hour
    day = _summary(api, alice, "cgm")["periods"]["1d"]
    assert day["total"]["records"] == 12
    assert day["timeCGMUsePercent"] == pytest.approx(12 / 288)


def test_mmol_readings_are_converted(api: Api, h: Helpers, alice: Account) -> None:
    h.store(alice, [h.cbg(units="mmol/L", value=5.5, time=_at(0))])
    day = _summary(api, alice, "cgm", endDate=END)["periods"]["1d"]
    assert day["averageGlucoseMgdl"] == pytest.approx(5.5 * MGDL_PER_MMOL)


def test_bgm_summary_uses_meter_readings_only(api: Api, h: Helpers, alice: Account) -> None:
    h.store(
        alice,
        [h.smbg(value=v, time=_at(60 * i)) for i, v in enumerate([65, 110, 150, 260])],
    )
    day = _summary(api, alice, "bgm", endDate=END)["periods"]["1d"]
    assert day["total"]["records"] == 4
    assert day["inTarget"]["percent"] == pytest.approx(0.5)
    assert day["inAnyLow"]["percent"] == pytest.approx(0.25)
    assert day["averageGlucoseMgdl"] == pytest.approx(146.25)
    for cgm_only in ("glucoseManagementIndicator", "coefficientOfVariation", "timeCGMUsePercent"):
        assert cgm_only not in day


def test_insulin_totals_with_basal_bolus_split(api: Api, h: Helpers, alice: Account) -> None:
    basal = [h.basal(rate=1.0, time=_at(60 * hour)) for hour in range(24) if hour != 3]
    basal.append(h.basal(time=_at(180), deliveryType="suspend", rate=None))
    boluses = [h.bolus(normal=4.0, time=_at(60 * hour)) for hour in (7, 12, 19)]
    boluses.append(
        h.bolus(
            normal=1.0, time=_at(20 * 60), subType="dual/square", extended=2.0, duration=3600000
        )
    )
    h.store(alice, basal + boluses, deviceTags=["insulin-pump"])

    day = _summary(api, alice, "insulin", endDate=END)["periods"]["1d"]

    assert day["basal"] == pytest.approx(23.0)
    assert day["bolus"] == pytest.approx(15.0)
    assert day["totalDailyDose"] == pytest.approx(38.0)
    assert day["basalPercent"] == pytest.approx(23 / 38)
    assert day["bolusPercent"] == pytest.approx(15 / 38)
    week = _summary(api, alice, "insulin", endDate=END)["periods"]["7d"]
    assert week["daysWithData"] == 1
    assert week["totalDailyDose"] == pytest.approx(38.0)  # per day with data


def test_basal_is_clipped_to_the_period(api: Api, h: Helpers, alice: Account) -> None:
    h.store(alice, [h.basal(rate=2.0, time="2024-04-30T22:00:00Z", duration=4 * 3600000)])
    day = _summary(api, alice, "insulin", endDate=END)["periods"]["1d"]
    assert day["basal"] == pytest.approx(4.0)  # 00:00 to 02:00 at 2 U/h


@pytest.mark.parametrize(
    ("kind", "params", "status", "fragment"),
    [
        ("con", {}, 400, "not supported"),
        ("glucose", {}, 400, "use cgm, bgm or insulin"),
        ("cgm", {"endDate": "tomorrow"}, 400, "endDate"),
        ("cgm", {"startDate": END}, 400, "unknown query parameter"),
        ("cgm", {}, 404, "no cgm data"),
    ],
)
def test_bad_summary_requests(
    api: Api,
    h: Helpers,
    alice: Account,
    kind: str,
    params: dict[str, str],
    status: int,
    fragment: str,
) -> None:
    h.store(alice, [h.smbg()])
    response = api.get(f"/v1/summaries/{kind}/{alice.userid}", params=params, headers=alice.headers)
    assert response.status_code == status
    assert fragment in response.json()["message"]


@pytest.mark.parametrize(
    ("mgdl", "ranges"),
    [
        (53, ["inVeryLow", "inAnyLow"]),
        (54, ["inLow", "inAnyLow"]),
        (69, ["inLow", "inAnyLow"]),
        (70, ["inTarget"]),
        (180, ["inTarget"]),
        (181, ["inHigh", "inAnyHigh"]),
        (250, ["inHigh", "inAnyHigh"]),
        (251, ["inVeryHigh", "inAnyHigh"]),
        (350, ["inVeryHigh", "inExtremeHigh", "inAnyHigh"]),
    ],
)
def test_range_boundaries(mgdl: float, ranges: list[str]) -> None:
    assert ranges_of(mgdl) == ranges


def test_gmi_formula() -> None:
    assert gmi(154) == pytest.approx(6.99368)
    assert math.isclose(gmi(100), 5.702)
