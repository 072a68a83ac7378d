"""The web UI in headless Chromium (Debian's, driven by Playwright): log in, open a day and
the report, check what is drawn; a clinician sees who shared. Screenshots are saved under
``DIAHIL_ARTIFACTS`` (default ``artifacts/``)/browser.

Needs /usr/bin/chromium (skipped without it, failed in CI: ``mockcloud_env``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from mockcloud_env import artifacts_dir, chromium_path
from mockcloud_helpers import PASSWORD, TOKEN_HEADER, data_set_body
from mockcloud_server import serve
from playwright.sync_api import Browser, Page, sync_playwright

from mock_cloud import CloudSettings, create_app

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DAYS = 7
OFFSET_MIN = 60  # the person lives at UTC+1
FIRST_DAY = datetime(2024, 5, 1)  # local
LAST_DAY = FIRST_DAY + timedelta(days=DAYS - 1)
SMBG_PER_DAY = 4
BOLUSES_PER_DAY = 3
BASAL_SEGMENTS_PER_DAY = 6


@dataclass(frozen=True)
class Site:
    """The running cloud and its people."""

    url: str
    patient_id: str
    clinician_id: str


def _utc(local: datetime) -> str:
    return (
        (local - timedelta(minutes=OFFSET_MIN)).replace(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    )


def _common(local: datetime, device: str) -> dict[str, Any]:
    return {"time": _utc(local), "deviceId": device, "timezoneOffset": OFFSET_MIN}


def _week_of_data() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    cgm, meter, pump = [], [], []
    for day in range(DAYS):
        midnight = FIRST_DAY + timedelta(days=day)
        for slot in range(288):
            local = midnight + timedelta(minutes=5 * slot)
            value = round(140 + 80 * math.sin(2 * math.pi * (slot / 288 + day / 11)))
            cgm.append({"type": "cbg", "units": "mg/dL", "value": value, **_common(local, "CGM-1")})
        for hour in (7, 12, 18, 22)[:SMBG_PER_DAY]:
            meter.append(
                {
                    "type": "smbg",
                    "units": "mg/dL",
                    "value": 100 + 10 * hour,
                    **_common(midnight + timedelta(hours=hour), "METER-1"),
                }
            )
        for hour in (7, 12, 18)[:BOLUSES_PER_DAY]:
            pump.append(
                {
                    "type": "bolus",
                    "subType": "normal",
                    "normal": 3.5,
                    **_common(midnight + timedelta(hours=hour, minutes=5), "PUMP-1"),
                }
            )
        for segment in range(BASAL_SEGMENTS_PER_DAY):
            pump.append(
                {
                    "type": "basal",
                    "deliveryType": "scheduled",
                    "rate": 0.6 + 0.1 * segment,
                    "duration": 4 * 3_600_000,
                    **_common(midnight + timedelta(hours=4 * segment), "PUMP-1"),
                }
            )
    return cgm, meter, pump


def _upload(http: httpx.Client, userid: str, token: str, kind: str, datums: list[Any]) -> None:
    headers = {TOKEN_HEADER: token}
    body = data_set_body(
        deviceId=datums[0]["deviceId"],
        deviceSerialNumber=datums[0]["deviceId"],
        deviceTags=[kind],
        deviceModel=f"Test {kind}",
    )
    data_set_id = http.post(f"/v1/users/{userid}/data_sets", json=body, headers=headers).json()[
        "id"
    ]
    for start in range(0, len(datums), 1000):
        chunk = datums[start : start + 1000]
        response = http.post(f"/v1/datasets/{data_set_id}/data", json=chunk, headers=headers)
        assert response.status_code == 200, response.text
    http.put(f"/v1/datasets/{data_set_id}", json={"state": "closed"}, headers=headers)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    chromium_path()  # skip (or fail in CI) before building anything
    db = tmp_path_factory.mktemp("browser") / "cloud.sqlite3"
    app = create_app(CloudSettings(db_url=f"sqlite:///{db}"))
    cloud = app.state.cloud
    patient = cloud.create_user("pat@example.com", PASSWORD)
    clinician = cloud.create_user("dr@clinic.example", PASSWORD, roles=("clinic",))
    cloud.create_user("stranger@example.com", PASSWORD)
    try:
        with serve(app) as url, httpx.Client(base_url=url) as http:
            token = http.post("/auth/login", auth=("pat@example.com", PASSWORD)).headers[
                TOKEN_HEADER
            ]
            cgm, meter, pump = _week_of_data()
            _upload(http, patient, token, "cgm", cgm)
            _upload(http, patient, token, "bgm", meter)
            _upload(http, patient, token, "insulin-pump", pump)
            invitation = http.post(
                f"/v1/users/{patient}/invitations",
                json={"email": "dr@clinic.example", "permissions": {"view": {}}},
                headers={TOKEN_HEADER: token},
            ).json()
            dr_token = http.post("/auth/login", auth=("dr@clinic.example", PASSWORD)).headers[
                TOKEN_HEADER
            ]
            accepted = http.post(
                f"/v1/invitations/{invitation['id']}/accept", headers={TOKEN_HEADER: dr_token}
            )
            assert accepted.status_code == 200
            yield Site(url, patient, clinician)
    finally:
        cloud.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = chromium_path()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    opened = context.new_page()
    yield opened
    context.close()


def _shot(page: Page, name: str) -> Path:
    path = artifacts_dir("browser") / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def _log_in(page: Page, site: Site, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{site.url}/ui/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_patient_logs_in_and_sees_a_day(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/ui/patients/{site.patient_id}/uploads")
    assert "/ui/login" in page.url  # not logged in: sent to the login page
    page.fill("input[name=email]", "pat@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    assert page.url.endswith(f"/ui/patients/{site.patient_id}/uploads")  # and back
    assert page.locator("[data-testid=viewer]").inner_text() == "pat@example.com"
    rows = page.locator("table.uploads tbody tr")
    assert rows.count() == 3
    counts = sorted(int(c) for c in page.locator("table.uploads td.count").all_inner_texts())
    assert counts == sorted([DAYS * 288, DAYS * SMBG_PER_DAY, DAYS * (3 + 6)])
    _shot(page, "uploads")

    page.click("nav.patient-nav >> text=Daily view")
    assert page.url.endswith(f"/days/{LAST_DAY.date().isoformat()}")
    page.click("a[rel=prev]")
    day = (LAST_DAY - timedelta(days=1)).date().isoformat()
    assert page.locator("[data-testid=day]").inner_text() == day
    chart = page.locator("svg.day-chart")
    assert chart.locator("circle.cbg").count() == 288
    assert chart.locator("circle.smbg").count() == SMBG_PER_DAY
    assert chart.locator("rect.bolus").count() == BOLUSES_PER_DAY
    assert chart.locator("rect.basal").count() == BASAL_SEGMENTS_PER_DAY
    assert chart.locator("rect.target-range").count() == 1
    assert [
        float(v)
        for v in chart.locator("rect.bolus").evaluate_all("els => els.map(e => e.dataset.units)")
    ] == [3.5] * BOLUSES_PER_DAY
    # The meter reading at 12:00 local (220 mg/dL) is drawn where the chart puts 220.
    noon = chart.locator("circle.smbg[data-value='220']")
    assert noon.count() == 1
    # Six 4-hour segments at 0.6 ... 1.1 U/h.
    assert page.locator("[data-testid=basal-total]").inner_text() == "20.40 U"
    assert _shot(page, "day").stat().st_size > 10_000


def test_report_shows_the_profile_and_the_figures(page: Page, site: Site) -> None:
    _log_in(page, site, "pat@example.com")
    page.goto(f"{site.url}/ui/patients/{site.patient_id}/report?days=7")
    agp = page.locator("svg.agp-chart")
    assert agp.get_attribute("data-bins") == "96"
    assert agp.locator("path.agp-outer").count() == 1
    assert agp.locator("path.agp-inner").count() == 1
    median = agp.locator("polyline.agp-median").get_attribute("points") or ""
    assert len(median.split()) == 96
    with httpx.Client(base_url=site.url) as http:
        token = http.post("/auth/login", auth=("pat@example.com", PASSWORD)).headers[TOKEN_HEADER]
        summary = http.get(
            f"/v1/summaries/cgm/{site.patient_id}", headers={TOKEN_HEADER: token}
        ).json()["periods"]["7d"]
    expected_tir = f"{100 * summary['inTarget']['percent']:.1f}%"
    assert page.locator("[data-testid=tir]").inner_text() == expected_tir
    assert page.locator("[data-testid=wear]").inner_text() == "100.0%"
    assert page.locator("[data-testid=gmi]").inner_text().endswith("%")
    # The 7 days end at the last datum, the 20:00 basal of the last day: they hold all 21
    # boluses (73.5 U) and all basal but that segment's 4 h at 1.1 U/h (142.8 - 4.4 U).
    assert page.locator("[data-testid=tdd]").inner_text() == "30.3 U/day"
    assert _shot(page, "report").stat().st_size > 10_000


def test_clinician_sees_who_shared_and_a_stranger_sees_nothing(
    page: Page, site: Site, browser: Browser
) -> None:
    _log_in(page, site, "dr@clinic.example")
    patients = page.locator("table.patients tbody tr")
    assert patients.count() == 1
    assert "pat@example.com" in patients.inner_text()
    patients.locator("text=Report").click()
    assert page.locator("svg.agp-chart").count() == 1
    _shot(page, "clinician-report")

    stranger = browser.new_context().new_page()
    _log_in(stranger, site, "stranger@example.com")
    assert "Nobody has shared" in stranger.content()
    response = stranger.goto(f"{site.url}/ui/patients/{site.patient_id}/report")
    assert response is not None and response.status == 403
    assert "not shared with you" in stranger.locator("p.message").inner_text()
    stranger.context.close()


def test_wrong_password_is_explained_and_logout_works(page: Page, site: Site) -> None:
    _log_in(page, site, "stranger@example.com", "not-the-password")
    assert "wrong email or password" in page.locator("[data-testid=login-error]").inner_text()
    _log_in(page, site, "stranger@example.com")
    page.click("form.logout button")
    assert "/ui/login" in page.url
    page.goto(f"{site.url}/ui/")
    assert "/ui/login" in page.url
