"""Shared helpers for the plugin's own tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_mlinfra.terraform.toolchain import CACHE_ENV, cache_root

# pytester points HOME at each test's own tmp dir, so without this every pytester test that deploys
# would build its own provider mirror and plugin cache. One cache (the user's, or MLINFRA_CACHE_DIR)
# serves the whole test session; tests that need a private one set MLINFRA_CACHE_DIR themselves.
os.environ.setdefault(CACHE_ENV, str(cache_root()))

STACKS = Path(__file__).parent / "stacks"


@pytest.fixture
def small_stack() -> Path:
    return STACKS / "small"


@pytest.fixture
def broken_apply_stack() -> Path:
    return STACKS / "broken_apply"
