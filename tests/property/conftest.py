"""Hypothesis settings for the property suite: reproducible in CI (derandomized, no example
database written into the work tree) and a modest example budget so the suite stays fast."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "bridge",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("bridge")
