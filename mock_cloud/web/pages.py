"""The web UI's pages under ``/ui/`` (HTML; every page but login needs a logged-in viewer).

- ``/ui/login`` (GET form, POST credentials: the API's login rules, lockout included),
  ``/ui/logout`` (POST).
- ``/ui/``: the viewer's own data, and the patients who shared their data with them (what
  a clinician or caregiver sees).
- ``/ui/patients/{userId}/uploads``: the data sets, newest first.
- ``/ui/patients/{userId}/days/{YYYY-MM-DD}``: the daily view (``/days`` opens the latest).
- ``/ui/patients/{userId}/report?days=N``: the AGP and summary figures for 1, 7, 14, 30 or
  90 days.

Patient pages need the ``view`` permission on that patient, checked on every request.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from mock_cloud import datasets, sessions, sharing, summary
from mock_cloud.access import Caller, CloudDep, authorize, check_user_id
from mock_cloud.api.auth_routes import check_login
from mock_cloud.cloud import Cloud
from mock_cloud.errors import ApiError, bad_request
from mock_cloud.tables import UserRow
from mock_cloud.timestamps import parse_rfc3339
from mock_cloud.web import agp, charts, day_data
from mock_cloud.web.forms import read_form
from mock_cloud.web.session_cookie import COOKIE, ViewerDep, clear_cookie, set_cookie

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=str(HERE / "templates"))
NO_VALUE = "\u2013"  # an en dash


def _percent(value: float | None) -> str:
    return NO_VALUE if value is None else f"{100 * value:.1f}%"


def _number(value: float | None, digits: int = 1) -> str:
    return NO_VALUE if value is None else f"{value:.{digits}f}"


templates.env.filters["pct"] = _percent
templates.env.filters["num"] = _number
router = APIRouter(prefix="/ui", include_in_schema=False)

REPORT_DAYS = (1, 7, 14, 30, 90)


def _user(session: Session, userid: str) -> UserRow:
    user = session.get(UserRow, userid)
    if user is None:
        raise ApiError(404, f"no account {userid}")
    return user


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    return templates.TemplateResponse(request, name, context, status_code=status)


def _patient(cloud: Cloud, viewer_id: str, userid: str) -> tuple[UserRow, UserRow]:
    """(viewer, patient) after checking the viewer may see the patient's data."""
    check_user_id(userid)
    with cloud.transaction() as session:
        authorize(session, Caller(viewer_id, ""), userid, "view")
        return _user(session, viewer_id), _user(session, userid)


@router.get("", response_class=RedirectResponse)
def ui_root() -> RedirectResponse:
    """The UI's home."""
    return RedirectResponse("/ui/", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/ui/") -> Response:
    """The login form."""
    return _page(request, "login.html", {"next": next, "error": None, "email": ""})


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, cloud: CloudDep) -> Response:
    """Check the form's credentials; on success keep the session in a cookie."""
    form = await read_form(request, ("email", "password", "next"))
    target = form["next"] if form["next"].startswith("/ui/") else "/ui/"
    try:
        _user_row, token = check_login(cloud, form["email"], form["password"])
    except ApiError as error:
        context = {"next": target, "error": error.message, "email": form["email"]}
        return _page(request, "login.html", context, status=error.status)
    response = RedirectResponse(target, status_code=303)
    set_cookie(response, token, cloud.settings.token_ttl_seconds)
    return response


@router.post("/logout")
def logout(request: Request, cloud: CloudDep) -> Response:
    """End the session and forget the cookie."""
    token = request.cookies.get(COOKIE)
    if token:
        with cloud.transaction() as session:
            sessions.revoke(session, token)
    response = RedirectResponse("/ui/login", status_code=303)
    clear_cookie(response)
    return response


@router.get("/", response_class=HTMLResponse)
def home(request: Request, viewer: ViewerDep, cloud: CloudDep) -> Response:
    """Own data and the patients who shared with the viewer."""
    with cloud.transaction() as session:
        user = _user(session, viewer.userid)
        patients = sharing.shared_with(session, viewer.userid, "view")
        pending = len(sharing.received(session, user))
        has_own = day_data.latest_day(session, viewer.userid) is not None
        permissions = {
            patient.userid: sorted(sharing.permissions_of(session, patient.userid, user.userid))
            for patient in patients
        }
    return _page(
        request,
        "home.html",
        {
            "viewer": user,
            "patients": patients,
            "permissions": permissions,
            "pending": pending,
            "has_own": has_own,
        },
    )


@router.get("/patients/{userId}/uploads", response_class=HTMLResponse)
def uploads(request: Request, userId: str, viewer: ViewerDep, cloud: CloudDep) -> Response:
    """The patient's data sets, newest first."""
    me, patient = _patient(cloud, viewer.userid, userId)
    with cloud.transaction() as session:
        rows = datasets.list_data_sets(
            session, userId, device_id=None, client_name=None, page=0, size=1000
        )
        counts = datasets.datum_counts(session, [row.id for row in rows])
        items = [datasets.render(row) for row in rows]
    return _page(
        request,
        "uploads.html",
        {"viewer": me, "patient": patient, "uploads": items, "counts": counts},
    )


@router.get("/patients/{userId}/days", response_class=RedirectResponse)
def latest_day(userId: str, viewer: ViewerDep, cloud: CloudDep) -> Response:
    """The daily view of the newest day with data."""
    _patient(cloud, viewer.userid, userId)
    with cloud.transaction() as session:
        newest = day_data.latest_day(session, userId)
    if newest is None:
        raise ApiError(404, "this patient has no glucose or insulin data yet")
    return RedirectResponse(f"/ui/patients/{userId}/days/{newest.isoformat()}", status_code=303)


@router.get("/patients/{userId}/days/{day}", response_class=HTMLResponse)
def day_view(
    request: Request, userId: str, day: str, viewer: ViewerDep, cloud: CloudDep
) -> Response:
    """One day: CGM trace, meter readings, boluses and basal."""
    try:
        when = date.fromisoformat(day)
    except ValueError:
        raise bad_request(f"{day!r} is not a date such as 2024-05-01") from None
    me, patient = _patient(cloud, viewer.userid, userId)
    with cloud.transaction() as session:
        data = day_data.load_day(session, userId, when)
    total_bolus = sum(b.units for b in data.boluses)
    total_basal = sum(s.rate * (s.end - s.start) / 60 for s in data.basal)
    return _page(
        request,
        "day.html",
        {
            "viewer": me,
            "patient": patient,
            "day": data,
            "chart": charts.day_chart(data),
            "previous": (when - timedelta(days=1)).isoformat(),
            "next": (when + timedelta(days=1)).isoformat(),
            "total_bolus": total_bolus,
            "total_basal": total_basal,
        },
    )


def _summary(
    session: Session, userid: str, kind: summary.SummaryType, cloud: Cloud, days: int
) -> dict[str, Any] | None:
    try:
        result = summary.summarize(session, userid, kind, now=cloud.now(), period_days=(days,))
    except summary.NoDataError:
        return None
    period: dict[str, Any] = result["periods"][f"{days}d"]
    period["lastData"] = result["dates"]["lastData"]
    return period


@router.get("/patients/{userId}/report", response_class=HTMLResponse)
def report(
    request: Request, userId: str, viewer: ViewerDep, cloud: CloudDep, days: str = "14"
) -> Response:
    """The AGP and the summary figures for the last ``days`` days of data."""
    if not days.isdigit() or int(days) not in REPORT_DAYS:
        raise bad_request(f"days must be one of {', '.join(map(str, REPORT_DAYS))}")
    span = int(days)
    me, patient = _patient(cloud, viewer.userid, userId)
    with cloud.transaction() as session:
        cgm = _summary(session, userId, "cgm", cloud, span)
        bgm = _summary(session, userId, "bgm", cloud, span)
        insulin = _summary(session, userId, "insulin", cloud, span)
        bins: list[agp.AgpBin] = []
        if cgm is not None:
            end = parse_rfc3339(cgm["lastData"]) + timedelta(milliseconds=1)
            bins = agp.profile(
                agp.readings_between(session, userId, end - timedelta(days=span), end)
            )
    return _page(
        request,
        "report.html",
        {
            "viewer": me,
            "patient": patient,
            "days": span,
            "choices": REPORT_DAYS,
            "cgm": cgm,
            "bgm": bgm,
            "insulin": insulin,
            "chart": charts.agp_chart(bins, span) if bins else None,
            "bins": len(bins),
        },
    )
