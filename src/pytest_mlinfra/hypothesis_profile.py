"""Hypothesis settings for properties of a deployed function (any model).

A remote call's jitter is not a bug, so deadlines are off and the slow-data health checks are
suppressed; the example count comes from ``--mlinfra-examples`` / ``--mlinfra-profile``. The plugin
applies :func:`remote_settings` to every ``@given`` test that uses the deployed function (unless the
test carries its own ``@settings``), so property tests read like ordinary Hypothesis tests.
Shrinking and the example database stay on. Imported only once such a test exists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis.errors import InvalidArgument

from pytest_mlinfra.settings import PROFILE_EXAMPLES, Settings

PROFILE = "mlinfra"


def register_profile(run_settings: Settings) -> None:
    """Register the ``mlinfra`` profile from the run's settings (examples, or the profile's count)."""
    examples = run_settings.examples or PROFILE_EXAMPLES[run_settings.profile]
    settings.register_profile(PROFILE, max_examples=examples)


def remote_settings(**overrides: Any) -> settings:
    """The ``mlinfra`` profile (the quick count when the plugin has not registered it), no deadline."""
    try:
        parent = settings.get_profile(PROFILE)
    except InvalidArgument:  # not registered: used without the plugin
        parent = settings(max_examples=PROFILE_EXAMPLES["quick"])
    base = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large]}
    return settings(parent, **{**base, **overrides})


def apply_remote_settings(test: Callable[..., Any]) -> bool:
    """Give a ``@given`` test the remote settings; False where it has its own ``@settings``."""
    try:
        remote_settings()(test)
    except InvalidArgument:  # already decorated by the user: their choice wins
        return False
    return True
