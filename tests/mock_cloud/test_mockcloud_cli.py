"""The command line: add-user and serve, including their one-line errors."""

from __future__ import annotations

import queue
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from mockcloud_helpers import PASSWORD, TOKEN_HEADER, Api, basic
from typer.testing import CliRunner

from mock_cloud import CloudSettings, create_app
from mock_cloud.cli import app as cli

runner = CliRunner()


def _db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cloud.sqlite3'}"


def test_add_user_prints_userid_and_the_account_can_log_in(tmp_path: Path) -> None:
    result = runner.invoke(cli, ["add-user", "qa@example.com", PASSWORD, "--db", _db(tmp_path)])

    assert result.exit_code == 0, result.output
    userid = result.stdout.strip()
    assert len(userid) == 36
    app = create_app(CloudSettings(db_url=_db(tmp_path)))
    api = Api(app)
    try:
        login = api.post("/auth/login", headers=basic("qa@example.com", PASSWORD))
        assert login.status_code == 200
        assert login.json()["userid"] == userid
    finally:
        api.close()
        app.state.cloud.close()


def test_add_user_duplicate_email_is_a_one_line_error(tmp_path: Path) -> None:
    runner.invoke(cli, ["add-user", "qa@example.com", PASSWORD, "--db", _db(tmp_path)])

    result = runner.invoke(cli, ["add-user", "QA@example.com", PASSWORD, "--db", _db(tmp_path)])

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.strip() == "error: an account with email qa@example.com already exists"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["add-user", "qa@example.com", "short", "--db", "sqlite://"], "8 to 72"),
        (["add-user", "not-an-email", PASSWORD, "--db", "sqlite://"], "not a valid email"),
        (["add-user", "qa@example.com", PASSWORD, "--db", "nonsense"], "invalid database URL"),
        (["add-user", "qa@example.com", PASSWORD, "--db", "foo://x"], "unsupported database URL"),
        (
            ["add-user", "qa@example.com", PASSWORD, "--db", "sqlite:////no/such/dir/x.sqlite3"],
            "cannot open database",
        ),
        (["serve", "--db", "nonsense"], "invalid database URL"),
        (["serve", "--db", "sqlite://", "--host", "no-such-host.invalid"], "cannot listen"),
    ],
)
def test_operator_errors_are_one_line(args: list[str], fragment: str) -> None:
    result = runner.invoke(cli, args)

    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert fragment in lines[0]
    assert "Traceback" not in result.output


def test_serve_refuses_a_port_in_use() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]

        result = runner.invoke(cli, ["serve", "--port", str(port), "--db", "sqlite://"])

    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "--port" in result.stderr
    assert "Traceback" not in result.output


def _first_line(stream: object, timeout: float) -> str:
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(
        target=lambda: lines.put(stream.readline()),  # type: ignore[attr-defined]
        daemon=True,
    )
    reader.start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        pytest.fail(f"serve printed nothing within {timeout} s")


@pytest.mark.parametrize("test_mode", [False, True], ids=["normal", "test-mode"])
def test_serve_prints_its_url_and_serves_the_api(tmp_path: Path, test_mode: bool) -> None:
    result = runner.invoke(cli, ["add-user", "qa@example.com", PASSWORD, "--db", _db(tmp_path)])
    assert result.exit_code == 0
    flags = ["--test-mode"] if test_mode else []
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mock_cloud.cli",
            "serve",
            "--port",
            "0",
            "--db",
            _db(tmp_path),
            *flags,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        line = _first_line(process.stdout, timeout=20)
        assert line.startswith("mock cloud serving on http://127.0.0.1:"), line
        url = line.split()[4]
        with httpx.Client(base_url=url, timeout=10) as client:
            login = client.post("/auth/login", headers=basic("qa@example.com", PASSWORD))
            assert login.status_code == 200
            me = client.get("/auth/user", headers={TOKEN_HEADER: login.headers[TOKEN_HEADER]})
            assert me.json()["username"] == "qa@example.com"
            admin = client.get("/admin/faults")
            assert admin.status_code == (200 if test_mode else 404)
            assert ("TEST MODE" in line) == test_mode
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
