"""``diahil account`` and uploads with the current account, end to end.

The keyring is the real ``keyring`` library, configured as any installation configures it
(``PYTHON_KEYRING_BACKEND``) with a file backend (``hil.keyring_file``) so the test can see
what was stored; the device is an emulated GLS meter in its own process, the cloud a real
server. Passwords must reach the keyring and nowhere else: not the account list, not the
sync state, not the output.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import keyring.core
import pytest
from typer.testing import CliRunner, Result

from hil.cli import app
from hil.cloud import CloudInspector, CloudServer
from hil.oracle import compare_with_ledger, expected_smbg
from hil.processes import EmulatorProcess

PASSKEY = "864213"
TIMEZONE = "Asia/Tokyo"
runner = CliRunner()


@pytest.fixture
def meter() -> Iterator[EmulatorProcess]:
    process = EmulatorProcess("gls-meter", "--seed", "21", "--days", "20", "--passkey", PASSKEY)
    yield process
    process.stop()


def use_keyring(monkeypatch: pytest.MonkeyPatch, backend: str) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", backend)
    keyring.core.init_backend()  # keyring reads its configuration again


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A user's machine: its own state folder and file keyring, no DIAHIL_* credentials."""
    for name in ("DIAHIL_CLOUD", "DIAHIL_EMAIL", "DIAHIL_PASSWORD", "DIAHIL_ACCOUNT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DIAHIL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DIAHIL_KEYRING_FILE", str(tmp_path / "keyring.json"))
    use_keyring(monkeypatch, "hil.keyring_file.FileKeyring")
    yield tmp_path
    use_keyring(monkeypatch, "keyring.backends.fail.Keyring")  # never a real keyring after


def diahil(*args: str) -> Result:
    return runner.invoke(app, list(args))


def upload(meter: EmulatorProcess) -> Result:
    return diahil(
        "upload", meter.device_spec, "--ble-transport", meter.hci_client, "--passkey", PASSKEY,
        "--timezone", TIMEZONE, "--json",
    )  # fmt: skip


def said(result: Result) -> str:
    """The output as one line (the console wraps long messages)."""
    return " ".join(result.output.split())


def everything_written(home: Path, *results: Result) -> str:
    """All output, plus every file the uploader wrote, except the keyring itself."""
    files = [p for p in home.rglob("*") if p.is_file() and p.name != "keyring.json"]
    assert any(p.suffix == ".sqlite3" for p in files)  # the sync state is among them
    contents = [p.read_bytes().decode("latin-1") for p in files]
    return "\n".join([*(r.output for r in results), *contents])


def test_uploads_go_to_the_current_account_and_its_password_stays_in_the_keyring(
    home: Path, meter: EmulatorProcess, mock_cloud_server: CloudServer
) -> None:
    url = mock_cloud_server.base_url
    pat = mock_cloud_server.create_account("pat@example.test", "pat-secret-Zq81")
    sam = mock_cloud_server.create_account("sam@example.test", "sam-secret-Lk42")

    added = [
        diahil("account", "add", "pat", "--cloud", url, "--email", pat.email,
               "--password", pat.password),
        diahil("account", "add", "sam", "--cloud", url, "--email", sam.email,
               "--password", sam.password),
    ]  # fmt: skip
    assert [r.exit_code for r in added] == [0, 0], [r.output for r in added]
    listed = diahil("account", "list", "--json")
    assert json.loads(listed.stdout) == {
        "current": "pat",  # the first one added
        "accounts": [
            {"name": "pat", "cloud": url, "email": pat.email},
            {"name": "sam", "cloud": url, "email": sam.email},
        ],
    }
    kept = json.loads((home / "keyring.json").read_text())
    assert kept == {f"diahil:{url}": {pat.email: pat.password, sam.email: sam.password}}

    first = upload(meter)  # no --cloud, --email or --password: the current account
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert summary["cloud"]["user_id"] == pat.user_id
    held = CloudInspector(url).data(pat, type="smbg")
    expected = expected_smbg(meter.meter_model(), TIMEZONE, out_of_range="unknown")
    compare_with_ledger(expected, held).assert_exact()

    switched = diahil("account", "use", "sam")
    assert switched.exit_code == 0 and sam.email in said(switched)
    refused = upload(meter)  # the meter is linked to pat's account now
    assert refused.exit_code == 9, refused.output
    error = json.loads(refused.stdout)
    assert (error["error"], error["step"]) == ("DeviceLinkedElsewhere", "identify")
    assert CloudInspector(url).data(sam) == []

    written = everything_written(home, *added, listed, first, switched, refused)
    for secret in (pat.password, sam.password):
        assert secret not in written

    removed = diahil("account", "remove", "sam")
    assert removed.exit_code == 0 and "and its password" in said(removed)
    kept = json.loads((home / "keyring.json").read_text())
    assert kept == {f"diahil:{url}": {pat.email: pat.password}}
    nobody = upload(meter)  # no current account any more, and no --cloud/--email
    assert nobody.exit_code == 2
    assert "no current account" in said(nobody)


def test_without_an_os_keyring_the_environment_is_the_fallback(
    home: Path,
    meter: EmulatorProcess,
    mock_cloud_server: CloudServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_keyring(monkeypatch, "keyring.backends.fail.Keyring")  # a CI runner
    url = mock_cloud_server.base_url
    ci = mock_cloud_server.create_account("ci@example.test", "ci-secret-Pw77")

    added = diahil(
        "account", "add", "ci", "--cloud", url, "--email", ci.email, "--password", ci.password
    )
    assert added.exit_code == 0, added.output
    assert "No OS keyring here" in said(added) and "set DIAHIL_PASSWORD" in said(added)

    no_password = upload(meter)
    assert no_password.exit_code == 2
    assert "No OS keyring here" in said(no_password)
    assert "Set DIAHIL_PASSWORD" in said(no_password)

    monkeypatch.setenv("DIAHIL_PASSWORD", ci.password)
    uploaded = upload(meter)
    assert uploaded.exit_code == 0, uploaded.output
    assert json.loads(uploaded.stdout)["cloud"]["user_id"] == ci.user_id
    assert ci.password not in everything_written(home, added, no_password, uploaded)
