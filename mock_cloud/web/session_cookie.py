"""The web UI's login: the API session token, kept in an HttpOnly, SameSite=Strict cookie.

Pages depend on ``viewer``: the caller from the cookie's token, or a redirect to the login
page (``LoginRequired``) when there is none or it has expired. The token is the same kind
the API issues (``sessions``), so logout, expiry and the fault API's "expire now" apply.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response

from mock_cloud.access import Caller, CloudDep, caller_from_token
from mock_cloud.errors import ApiError

COOKIE = "diahil_session"
PATH = "/ui"
LOGIN_PATH = "/ui/login"


class LoginRequired(Exception):
    """The page needs a logged-in viewer."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def viewer(request: Request, cloud: CloudDep) -> Caller:
    """The logged-in viewer; raises ``LoginRequired`` otherwise."""
    try:
        return caller_from_token(cloud, request.cookies.get(COOKIE))
    except ApiError:
        raise LoginRequired(request.url.path) from None


ViewerDep = Annotated[Caller, Depends(viewer)]


def set_cookie(response: Response, token: str, max_age: int) -> None:
    """Keep ``token`` in the browser."""
    response.set_cookie(COOKIE, token, max_age=max_age, path=PATH, httponly=True, samesite="strict")


def clear_cookie(response: Response) -> None:
    """Forget the login in the browser."""
    response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="strict")


async def login_redirect(_request: Request, exc: Exception) -> Response:
    """Exception handler: send the browser to the login page, then back."""
    target = exc.next_path if isinstance(exc, LoginRequired) else "/ui/"
    safe = target if target.startswith("/ui/") else "/ui/"
    return RedirectResponse(f"{LOGIN_PATH}?next={quote(safe)}", status_code=303)
