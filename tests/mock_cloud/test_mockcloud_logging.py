"""No secrets in logs: the whole log of logins, a sign-up, the web login and an upload,
under uvicorn at DEBUG level, holds no password, token or Authorization header."""

from __future__ import annotations

import base64
import logging

import httpx
import pytest
from mockcloud_helpers import PASSWORD, TOKEN_HEADER, data_set_body, smbg
from mockcloud_server import serve

from mock_cloud import CloudSettings, create_app

SIGN_UP_PASSWORD = "sign-up-secret-42"


def test_logs_hold_no_secrets(caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(CloudSettings(db_url="sqlite://", test_mode=True))
    userid = app.state.cloud.create_user("qa@example.com", PASSWORD)
    caplog.set_level(logging.DEBUG)
    quiet = [logging.getLogger(name) for name in ("uvicorn.access", "uvicorn.error", "uvicorn")]
    for logger in quiet:
        logger.addHandler(caplog.handler)
    secrets: list[str] = [PASSWORD, SIGN_UP_PASSWORD, "wrong-password-1"]
    try:
        with serve(app, log_level="debug") as url, httpx.Client(base_url=url) as http:
            wrong = http.post("/auth/login", auth=("qa@example.com", "wrong-password-1"))
            assert wrong.status_code == 401
            login = http.post("/auth/login", auth=("qa@example.com", PASSWORD))
            token = login.headers[TOKEN_HEADER]
            headers = {TOKEN_HEADER: token}
            signed_up = http.post(
                "/auth/user",
                json={
                    "username": "new@example.com",
                    "emails": ["new@example.com"],
                    "password": SIGN_UP_PASSWORD,
                },
            )
            secrets += [token, signed_up.headers[TOKEN_HEADER]]
            data_set_id = http.post(
                f"/v1/users/{userid}/data_sets", json=data_set_body(), headers=headers
            ).json()["id"]
            assert (
                http.post(
                    f"/v1/datasets/{data_set_id}/data", json=[smbg()], headers=headers
                ).status_code
                == 200
            )
            http.put(f"/v1/datasets/{data_set_id}", json={"state": "closed"}, headers=headers)
            http.get(f"/data/{userid}", headers=headers)
            http.get("/auth/user", headers={TOKEN_HEADER: token + "-tampered"})
            web = http.post(
                "/ui/login",
                data={"email": "qa@example.com", "password": PASSWORD, "next": "/ui/"},
            )
            assert web.status_code == 303
            secrets.append(http.cookies["diahil_session"])
            http.get(
                "/ui/",
            )
    finally:
        for logger in quiet:
            logger.removeHandler(caplog.handler)
        app.state.cloud.close()

    basic = base64.b64encode(f"qa@example.com:{PASSWORD}".encode()).decode()
    secrets.append(basic)
    # httpx and httpcore are this test's own client (they log headers at DEBUG); the rest is
    # the server: mock_cloud, uvicorn, starlette, sqlalchemy, alembic, asyncio...
    server_records = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    text = "\n".join(
        f"{record.name} {record.getMessage()} {record.exc_text or ''}" for record in server_records
    )
    assert "POST /v1/datasets/" in text  # the log is really being captured
    assert "POST /auth/login" in text
    leaked = [secret for secret in secrets if secret in text]
    assert not leaked, f"secrets in the log: {leaked}"
    assert "Authorization" not in text
    assert TOKEN_HEADER not in text
