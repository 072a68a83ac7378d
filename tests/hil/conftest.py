"""Plugin tests run pytest inside pytest (pytester): keep those inner runs lean."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _lean_inner_runs(request: pytest.FixtureRequest) -> None:
    """Inner runs skip schemathesis's plugin (seconds per start) and the cache."""
    if "pytester" in request.fixturenames:
        pytester: pytest.Pytester = request.getfixturevalue("pytester")
        pytester.makeini("[pytest]\naddopts = -p no:schemathesis -p no:cacheprovider\n")
