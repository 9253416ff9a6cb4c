"""Read top-level blocks of a stack's ``*.tf`` files (python-hcl2), for the few facts the plugin needs
before Terraform runs: declared variables and outputs, ``provider "aws"`` aliases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hcl2

from pytest_mlinfra.errors import MlinfraError


def blocks(stack_dir: Path, block_type: str, strict: bool = True) -> list[dict[str, Any]]:
    """Every ``block_type`` block of the stack, file by file in name order.

    ``strict=False`` skips files that do not parse (``terraform init`` reports those better).
    """
    found: list[dict[str, Any]] = []
    for tf_file in sorted(stack_dir.glob("*.tf")):
        try:
            parsed = hcl2.loads(tf_file.read_text())
        except Exception as exc:
            if not strict:
                continue
            raise MlinfraError(
                f"cannot parse {tf_file}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                "fix the HCL syntax (terraform validate shows where)",
            ) from None
        found.extend(parsed.get(block_type, []))
    return found


def block_names(stack_dir: Path, block_type: str) -> set[str]:
    """Labels of the stack's ``variable`` or ``output`` blocks."""
    return {name.strip('"') for block in blocks(stack_dir, block_type, strict=False) for name in block}
