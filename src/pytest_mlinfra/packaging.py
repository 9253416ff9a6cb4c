"""Build the Lambda deployment zip deterministically: same sources, same bytes, same hash.

Entries are sorted, timestamps fixed and permissions normalised, so a re-apply with unchanged
sources does not redeploy the function (Terraform compares ``source_code_hash``).
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path

from pytest_mlinfra.errors import MlinfraError

_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_EXCLUDED_DIRS = {"__pycache__", ".pytest_cache", ".hypothesis", "tests", "artifacts", ".mypy_cache"}
_EXCLUDED_SUFFIXES = {".pyc", ".pyo", ".pt", ".zip"}


def handler_sources(handler_dir: Path, include: Sequence[str] = ()) -> list[Path]:
    """Files that go into the zip: ``include`` globs, or the handler dir less tests, caches, artifacts."""
    if include:
        chosen = {path for pattern in include for path in handler_dir.glob(pattern) if path.is_file()}
        if not chosen:
            raise MlinfraError(
                f"no file in {handler_dir} matches the package globs {list(include)}",
                "fix mlinfra_package_include",
            )
        return sorted(chosen)
    files = []
    for root, dirs, names in os.walk(handler_dir):
        dirs[:] = sorted(d for d in dirs if d not in _EXCLUDED_DIRS and not d.startswith("."))
        for name in sorted(names):
            path = Path(root, name)
            if path.suffix not in _EXCLUDED_SUFFIXES and not name.startswith(".") and name != "conftest.py":
                files.append(path)
    return files


def build_zip(
    handler_dir: Path, dest: Path, include: Sequence[str] = (), packages: Path | None = None
) -> str:
    """Write the zip to ``dest`` and return its sha256 (hex). ``packages``: a directory of built
    dependencies (see :mod:`pytest_mlinfra.requirements`) added at the zip's root, as AWS's guide
    packages them; the handler's own files win a name clash."""
    handler_dir = handler_dir.resolve()
    if not handler_dir.is_dir():
        raise MlinfraError(f"handler directory {handler_dir} does not exist", "set --mlinfra-handler-dir")
    chosen = handler_sources(handler_dir, include)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in chosen:
            info = zipfile.ZipInfo(path.resolve().relative_to(handler_dir).as_posix(), _FIXED_TIME)
            info.external_attr = (0o100755 if os.access(path, os.X_OK) else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compresslevel=9)
        taken = set(archive.namelist())
        for path in sorted(packages.rglob("*")) if packages is not None else ():
            name = path.relative_to(packages).as_posix()  # type: ignore[arg-type]
            if path.is_file() and name not in taken and "__pycache__" not in path.parts:
                info = zipfile.ZipInfo(name, _FIXED_TIME)
                info.external_attr = (0o100755 if os.access(path, os.X_OK) else 0o100644) << 16
                archive.writestr(info, path.read_bytes(), compress_type=zipfile.ZIP_DEFLATED)
    os.replace(tmp, dest)
    return hashlib.sha256(dest.read_bytes()).hexdigest()
