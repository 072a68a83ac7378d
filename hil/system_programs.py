"""Programs from Debian packages that some tests need (tshark, umockdev-run, dbus-daemon...).

``needs_program`` is the suite's one rule for them: a test that needs a missing program is
skipped locally, with the Debian package to install in the reason, and fails in CI
(``DIAHIL_CI`` set, as ``.ci/run`` does), where ``.ci/run`` installs them: CI never quietly
tests less.
"""

from __future__ import annotations

import os
import shutil

import pytest


class MissingProgram(RuntimeError):
    """CI lacks a program its tests need (``.ci/run`` should have installed it)."""


def in_ci() -> bool:
    return bool(os.environ.get("DIAHIL_CI"))


def needs_program(program: str, debian_package: str) -> pytest.MarkDecorator:
    """A ``skipif`` mark for tests that run ``program``; in CI a missing one is an error."""
    missing = shutil.which(program) is None
    if missing and in_ci():
        raise MissingProgram(
            f"CI must run the tests that need {program}: install the Debian package "
            f"{debian_package} (.ci/run does)"
        )
    return pytest.mark.skipif(
        missing, reason=f"{program} is not installed (Debian package {debian_package})"
    )
