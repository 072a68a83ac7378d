"""Support bundles keep secrets out even when something echoes them (a server message that
quotes the password, a URL with credentials, a field named like a token)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from uploader.cloud import RetryPolicy
from uploader.errors import AuthenticationFailed, Step, UploaderError
from uploader.runlog import RunLog
from uploader.session import UploadOptions, run_upload
from uploader.support_bundle import REDACTED, BundleError, write_bundle


def test_secrets_echoed_anywhere_are_removed(tmp_path: Path) -> None:
    password, token = "hunter2-correct-horse", "tok-9f8e7d6c5b4a"
    options = UploadOptions(
        cloud_url="https://support:basic-auth-pw@cloud.example.test/",
        email="pat@example.test",
        password=password,
        timezone="Europe/Berlin",
        state_path=tmp_path / "state.sqlite3",
    )
    log = options.run_log
    log.secret(password)
    log.secret(token)
    log.event("http", note=f"server said: bad password {password}", authorization="Basic abc")
    log.event("relogin", session_token=token)
    error = AuthenticationFailed(f"Login refused for {password!r}", step=Step.LOGIN)
    log.failed(error)
    path = write_bundle(tmp_path / "b.zip", options=options, log=log, error=error)

    with zipfile.ZipFile(path) as bundle:
        texts = {name: bundle.read(name).decode() for name in bundle.namelist()}
    for name, text in texts.items():
        for secret in (password, token, "basic-auth-pw", "Basic abc"):
            assert secret not in text, (secret, name)
    assert REDACTED in texts["log.jsonl"] and REDACTED in texts["outcome.json"]
    assert "cloud.example.test" in texts["settings.json"]
    assert "pa***@example.test" in texts["settings.json"]
    assert "no capture.jsonl" in texts["README.txt"]
    assert '"exists": false' in texts["sync-state.json"]


def test_a_bundle_that_cannot_be_written_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    options = UploadOptions("http://c.test", "a@b.test", "pw-123456", "UTC")
    with pytest.raises(BundleError, match="could not be written") as caught:
        write_bundle(blocker / "b.zip", options=options, log=RunLog())
    assert "--support-bundle" in caught.value.user_message()


def test_secrets_are_removed_as_json_escapes_them_too(tmp_path: Path) -> None:
    password = 'pässwört"\\1'  # non-ASCII, a quote and a backslash: JSON writes them escaped
    options = UploadOptions(
        cloud_url="http://c.test", email="a@b.test", password=password, timezone="UTC"
    )
    options.state_path = tmp_path / "state.sqlite3"
    log = options.run_log
    log.secret(password)
    error = AuthenticationFailed(f"Login refused for {password}", step=Step.LOGIN)
    log.failed(error)
    path = write_bundle(tmp_path / "b.zip", options=options, log=log, error=error)

    with zipfile.ZipFile(path) as bundle:
        texts = {name: bundle.read(name).decode() for name in bundle.namelist()}
    escaped = json.dumps(password)[1:-1]
    for name, text in texts.items():
        assert password not in text and escaped not in text, name
        assert "w\\u00f6rt" not in text and 'rt\\"' not in text, name
    assert REDACTED in texts["outcome.json"]


def test_a_cloud_url_password_is_a_secret_of_the_run(tmp_path: Path) -> None:
    """Login fails (nothing listens), yet the URL's password is out of every file."""
    options = UploadOptions(
        cloud_url="http://support:url-secret-77@127.0.0.1:9/",
        email="a@b.test",
        password="pw-123456",
        timezone="UTC",
        state_path=tmp_path / "state.sqlite3",
        retry=RetryPolicy(attempts=1, budget_s=1),
    )
    with pytest.raises(UploaderError) as caught:
        run_upload(options)
    assert "url-secret-77" in caught.value.message  # the error names the URL it tried
    path = write_bundle(
        tmp_path / "b.zip", options=options, log=options.run_log, error=caught.value
    )
    with zipfile.ZipFile(path) as bundle:
        for name in bundle.namelist():
            assert "url-secret-77" not in bundle.read(name).decode(), name
