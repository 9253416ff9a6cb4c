"""Shared helpers for the plugin's own tests."""

from __future__ import annotations

from pathlib import Path

import pytest

STACKS = Path(__file__).parent / "stacks"


@pytest.fixture
def small_stack() -> Path:
    return STACKS / "small"


@pytest.fixture
def broken_apply_stack() -> Path:
    return STACKS / "broken_apply"
