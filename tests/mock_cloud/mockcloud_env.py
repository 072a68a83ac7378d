"""What the environment provides for the mock cloud tests: PostgreSQL, Chromium, artifacts.

A test that needs PostgreSQL (``DIAHIL_TEST_POSTGRES_URL``, a server the test may create
databases on) or Chromium (``/usr/bin/chromium``, or ``DIAHIL_CHROMIUM``) skips, saying
what is missing and how to get it, when it is not there. In CI (``DIAHIL_CI=1``, set by
.ci/run) it fails instead, so that CI never silently tests less. Screenshots and other
artifacts go to ``DIAHIL_ARTIFACTS`` (default ``artifacts/``, which git ignores).
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

POSTGRES_ENV = "DIAHIL_TEST_POSTGRES_URL"
CHROMIUM_ENV = "DIAHIL_CHROMIUM"
CI_ENV = "DIAHIL_CI"
ARTIFACTS_ENV = "DIAHIL_ARTIFACTS"
DEFAULT_CHROMIUM = "/usr/bin/chromium"


def in_ci() -> bool:
    """Whether missing test infrastructure must fail rather than skip."""
    return os.environ.get(CI_ENV, "") not in ("", "0")


def unavailable(reason: str) -> None:
    """Skip with ``reason``, or fail with it in CI."""
    if in_ci():
        pytest.fail(f"{reason} ({CI_ENV}=1: CI must run these tests)", pytrace=False)
    pytest.skip(reason)


def postgres_server_url() -> str:
    """The PostgreSQL server URL given to the tests (skip or fail without one)."""
    url = os.environ.get(POSTGRES_ENV, "").strip()
    if not url:
        unavailable(
            f"PostgreSQL tests need {POSTGRES_ENV}=postgresql://user@host:port/db (a server "
            "where the tests may create databases); .ci/run starts one"
        )
    return url


@contextmanager
def scratch_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the server for the duration; yields its URL."""
    import psycopg

    url = make_url(server_url).set(drivername="postgresql")
    name = f"diahil_test_{os.getpid()}_{secrets.token_hex(4)}"
    admin = url.render_as_string(hide_password=False)
    try:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as error:
        unavailable(f"cannot create a test database on {url.render_as_string()}: {error}")
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def chromium_path() -> str:
    """The Chromium executable for the browser tests (skip or fail without one)."""
    path = os.environ.get(CHROMIUM_ENV, DEFAULT_CHROMIUM)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)) and shutil.which(path) is None:
        unavailable(
            f"browser tests need Chromium at {path} (Debian: apt-get install chromium; or set "
            f"{CHROMIUM_ENV})"
        )
    return path


def artifacts_dir(*parts: str) -> Path:
    """A directory for test artifacts (created)."""
    directory = Path(os.environ.get(ARTIFACTS_ENV, "artifacts")).joinpath(*parts)
    directory.mkdir(parents=True, exist_ok=True)
    return directory
