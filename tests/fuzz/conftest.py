"""Hypothesis settings for the fuzz property tests (issue 10).

Profile ``ci`` (the default): derandomized, so every run tries the same inputs, and a small
example budget, so the whole fuzz set stays within seconds. Profile ``long`` (set
``HYPOTHESIS_PROFILE=long``) for a longer, random local run.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "long",
    max_examples=20_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
