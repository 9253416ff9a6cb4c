"""Stock property suites a user switches on from the ini (``mlinfra_properties = ner``).

Each name maps to a module of ordinary pytest tests inside this package; the plugin collects it
next to the user's own tests. A suite is found without being imported (start-up stays free).
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from pytest_mlinfra.errors import MlinfraError

SUITES = {"ner": "pytest_mlinfra.ner.suite"}


def suite_path(name: str) -> Path:
    if name not in SUITES:
        raise MlinfraError(f"property suite {name!r} is unknown", f"use one of: {', '.join(SUITES)}")
    spec = find_spec(SUITES[name])
    if spec is None or spec.origin is None:
        raise MlinfraError(f"property suite {name!r} is not installed", "reinstall pytest-mlinfra")
    return Path(spec.origin)
