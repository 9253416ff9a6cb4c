"""Targets: where a stack is deployed. One object per target, all behind :class:`Target`."""

from pytest_mlinfra.targets.base import Capabilities, Target

TARGET_NAMES = ("local", "localstack", "aws")

__all__ = ["TARGET_NAMES", "Capabilities", "Target"]
