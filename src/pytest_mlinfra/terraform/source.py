"""Checks on a stack folder that need neither Terraform nor an HCL parser (cheap enough for every
pytest session's start-up)."""

from __future__ import annotations

from pathlib import Path

from pytest_mlinfra.errors import MlinfraError


def check_stack_dir(stack_dir: Path) -> None:
    """Fail early, in one line, for a path that cannot be a Terraform stack."""
    if not stack_dir.is_dir():
        raise MlinfraError(f"stack directory {stack_dir} does not exist", "pass --mlinfra-stack=DIR")
    if not any(stack_dir.glob("*.tf")) and not any(stack_dir.glob("*.tf.json")):
        raise MlinfraError(
            f"stack directory {stack_dir} has no .tf files",
            "point --mlinfra-stack at the folder holding your Terraform root module",
        )
