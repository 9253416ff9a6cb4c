"""The one HCL loader (python-hcl2), and the top-level blocks of a stack's ``*.tf`` files.

The plugin reads the few facts it needs before Terraform runs (declared variables and outputs,
``provider "aws"`` aliases); the tag audit (:mod:`pytest_mlinfra.audit.static`) reads whole stacks.
Both parse through :func:`load_hcl_file`, so they agree on what a file says.

python-hcl2 is slow (~0.8 s to build its grammar, then ~25 ms per file), so each file's parse is
kept by content hash, in memory and as JSON under the user cache: an unchanged stack is read
without loading the parser at all (this is what keeps pre-flight under 0.5 s).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from pytest_mlinfra.errors import MlinfraError

_PARSED: dict[str, dict[str, Any]] = {}


def _cache_dir() -> Path:
    from pytest_mlinfra.terraform.toolchain import cache_root

    return cache_root() / "hcl-parsed"


def parse_file(tf_file: Path) -> dict[str, Any]:
    """:func:`load_hcl_file`, from the cache when this content was parsed before."""
    try:
        key = hashlib.sha256(tf_file.read_bytes()).hexdigest()
    except OSError:
        return load_hcl_file(tf_file)  # says what is wrong in one line
    if key in _PARSED:
        return _PARSED[key]
    cached = _cache_dir() / f"{key}.json"
    try:
        parsed: dict[str, Any] = json.loads(cached.read_text())
    except (OSError, ValueError):
        parsed = load_hcl_file(tf_file)
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(json.dumps(parsed))
            os.replace(tmp, cached)
        except (OSError, TypeError, ValueError):
            pass  # a cache we cannot write only costs time
    _PARSED[key] = parsed
    return parsed


def load_hcl_file(path: Path) -> dict[str, Any]:
    """One HCL file as python-hcl2 reads it; unreadable or unparsable files raise MlinfraError."""
    import hcl2

    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MlinfraError(f"cannot read {path} ({exc})", "check the path and file permissions") from None
    try:
        try:
            from hcl2 import SerializationOptions

            data = hcl2.loads(text, serialization_options=SerializationOptions(with_comments=False))
        except ImportError:  # python-hcl2 < 8
            data = hcl2.loads(text)
    except Exception as exc:  # lark raises many types; all mean "not valid HCL"
        detail = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise MlinfraError(
            f"cannot parse {path} as HCL ({detail})", "fix the syntax; `terraform validate` shows the spot"
        ) from None
    if not isinstance(data, dict):
        raise MlinfraError(f"cannot parse {path} as HCL (not a body of blocks)", "fix the syntax")
    return dict(data)


def blocks(stack_dir: Path, block_type: str, strict: bool = True) -> list[dict[str, Any]]:
    """Every ``block_type`` block of the stack, file by file in name order.

    ``strict=False`` skips files that do not parse (``terraform init`` reports those better).
    """
    found: list[dict[str, Any]] = []
    for tf_file in sorted(stack_dir.glob("*.tf")):
        try:
            parsed = parse_file(tf_file)
        except MlinfraError:
            if not strict:
                continue
            raise
        found.extend(parsed.get(block_type, []))
    return found


def block_names(stack_dir: Path, block_type: str) -> set[str]:
    """Labels of the stack's ``variable`` or ``output`` blocks."""
    return {name.strip('"') for block in blocks(stack_dir, block_type, strict=False) for name in block}
