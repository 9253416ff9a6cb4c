"""Which folders a stack reaches, and the run dir copy that keeps their relative layout.

A root module in a monorepo (``infra/live/test``) calls local modules by relative path
(``source = "../../modules/x"``). Copying only the stack folder breaks those paths, and running in
place would write the override, variables and lock files into the user's folders. So the run dir
gets the smallest tree that holds the stack and every local module it reaches (``module`` sources
followed recursively, ``..`` included), laid out as in the user's repo:

    infra/live/test  + infra/modules/vpc  ->  <run>/stack/live/test + <run>/stack/modules/vpc

Each reached module folder is copied with its subfolders (templates, policies read with
``path.module``); sibling folders nothing reaches are not copied. Skipped: VCS and Terraform working
data, state files, caches, and files over :data:`MAX_FILE_BYTES`.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.terraform.hcl import parse_file

MAX_FILE_BYTES = 50 * 1024 * 1024  # Lambda's direct-upload limit: nothing bigger belongs in a stack folder
SKIPPED_NAMES = frozenset(
    {".git", ".hg", ".svn", ".terraform", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
)
SKIPPED_SUFFIXES = (".tfstate", ".tfstate.backup", "_override.tf", "_override.tf.json")
SKIPPED_FILES = frozenset({".terraform.lock.hcl", ".terraform.tfstate.lock.info"})


def module_sources(folder: Path) -> list[str]:
    """The ``source`` of every ``module`` block in ``folder``'s ``*.tf`` and ``*.tf.json`` files.

    Files that do not parse are skipped: ``terraform init``/``validate`` report them with file:line.
    """
    sources: list[str] = []
    for tf_file in sorted(folder.glob("*.tf")) + sorted(folder.glob("*.tf.json")):
        try:
            parsed: dict[str, Any] = (
                json.loads(tf_file.read_text()) if tf_file.suffix == ".json" else parse_file(tf_file)
            )
        except Exception:
            continue
        modules = parsed.get("module", [])
        for block in modules if isinstance(modules, list) else [modules]:
            for body in block.values() if isinstance(block, dict) else []:
                source = body.get("source") if isinstance(body, dict) else None
                if isinstance(source, str):
                    sources.append(source.strip('"'))
    return sources


def is_local_source(source: str) -> bool:
    """Terraform treats only ``./`` and ``../`` prefixes as local paths (not ``/abs`` or ``x/y``)."""
    return source.startswith(("./", "../", ".\\", "..\\"))


@dataclass
class StackLayout:
    """The stack folder, every local module folder it reaches, and the folder holding them all."""

    stack: Path
    modules: list[Path] = field(default_factory=list)

    @classmethod
    def discover(cls, stack: Path) -> StackLayout:
        stack = stack.resolve()
        seen: dict[Path, None] = {stack: None}
        pending = [stack]
        while pending:
            folder = pending.pop()
            for source in module_sources(folder):
                if not is_local_source(source):
                    continue
                target = Path(os.path.normpath(folder / source))
                if not target.is_dir():
                    raise MlinfraError(
                        f"module source {source!r} in {folder} points at {target}, which is not a folder",
                        "fix the module's source path (it is relative to the folder that calls it)",
                    )
                if target not in seen:
                    seen[target] = None
                    pending.append(target)
        return cls(stack, [p for p in seen if p != stack])

    @property
    def folders(self) -> list[Path]:
        return [self.stack, *self.modules]

    @property
    def root(self) -> Path:
        """The deepest folder holding the stack and every module it reaches."""
        return Path(os.path.commonpath([str(p) for p in self.folders]))

    @property
    def stack_in_root(self) -> Path:
        """Where the stack sits inside the copied tree (``.`` when it calls no module outside itself)."""
        return self.stack.relative_to(self.root)

    def copy_to(self, dest: Path) -> list[Path]:
        """Copy the reached folders under ``dest`` with their layout; return the files skipped for size."""
        too_big: list[Path] = []
        # A runs dir inside the stack folder (--mlinfra-runs-dir=runs next to main.tf) holds the copy
        # itself: copying it would recurse without end. The folders on the way to ``dest`` stay out.
        inside = {dest.resolve(), *dest.resolve().parents}

        def ignore(directory: str, names: list[str]) -> set[str]:
            skipped = set()
            for name in names:
                path = Path(directory) / name
                generated = name in SKIPPED_NAMES or name in SKIPPED_FILES or name.endswith(SKIPPED_SUFFIXES)
                if generated or path.resolve() in inside:
                    skipped.add(name)
                elif path.is_file() and path.stat().st_size > MAX_FILE_BYTES:
                    too_big.append(path)
                    skipped.add(name)
            return skipped

        # A module inside an already copied folder comes with it: copy only the outermost folders.
        outermost = [f for f in self.folders if not any(o != f and o in f.parents for o in self.folders)]
        for folder in sorted(set(outermost)):
            shutil.copytree(folder, dest / folder.relative_to(self.root), ignore=ignore, dirs_exist_ok=True)
        return too_big
