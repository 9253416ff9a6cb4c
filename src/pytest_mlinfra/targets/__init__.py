"""Targets: where a stack is deployed. One class per target, all behind :class:`~.base.Target`.

The registry maps a target's name to where its class lives; a class is imported only when its
target is used, so naming a target costs nothing. To add a target, subclass ``Target`` (with
``from_settings`` and, for cheap checks before any test runs, ``preflight``) and add it here.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_mlinfra.targets.base import Target

TARGETS = {
    "local": "pytest_mlinfra.targets.local:LocalTarget",
    "localstack": "pytest_mlinfra.targets.localstack:LocalStackTarget",
    "aws": "pytest_mlinfra.targets.aws:AwsTarget",
}
TARGET_NAMES = tuple(TARGETS)


def target_class(name: str) -> type[Target]:
    """The class of the target called ``name``; one-line error for a name nobody registered."""
    from pytest_mlinfra.errors import MlinfraError

    if name not in TARGETS:
        raise MlinfraError(f"target {name!r} is unknown", f"use one of: {', '.join(TARGET_NAMES)}")
    module, _, attribute = TARGETS[name].partition(":")
    cls: type[Target] = getattr(import_module(module), attribute)
    return cls
