"""The Lambda zip is deterministic: same sources, same bytes (so re-applies do not redeploy)."""

from __future__ import annotations

import os
import time
import zipfile
from pathlib import Path

import pytest

from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.packaging import build_zip


def _handler(root: Path) -> Path:
    (root / "tests").mkdir(parents=True)
    (root / "__pycache__").mkdir()
    (root / "model.py").write_text("def predict(e, c):\n    return {}\n")
    (root / "helpers.py").write_text("X = 1\n")
    (root / "tests" / "test_model.py").write_text("")
    (root / "__pycache__" / "model.cpython-311.pyc").write_bytes(b"\0")
    (root / "weights.pt").write_bytes(b"big")
    return root


def test_same_sources_same_hash_regardless_of_mtime(tmp_path: Path) -> None:
    handler = _handler(tmp_path / "h")
    first = build_zip(handler, tmp_path / "a.zip")
    later = time.time() + 3600
    for path in handler.rglob("*"):
        os.utime(path, (later, later))
    assert build_zip(handler, tmp_path / "b.zip") == first
    (handler / "helpers.py").write_text("X = 2\n")
    assert build_zip(handler, tmp_path / "c.zip") != first


def test_tests_caches_and_artifacts_stay_out(tmp_path: Path) -> None:
    handler = _handler(tmp_path / "h")
    build_zip(handler, tmp_path / "a.zip")
    assert zipfile.ZipFile(tmp_path / "a.zip").namelist() == ["helpers.py", "model.py"]


def test_include_globs_choose_the_files(tmp_path: Path) -> None:
    handler = _handler(tmp_path / "h")
    build_zip(handler, tmp_path / "a.zip", include=["model.py"])
    assert zipfile.ZipFile(tmp_path / "a.zip").namelist() == ["model.py"]
    with pytest.raises(MlinfraError, match=r"no file in .* matches the package globs"):
        build_zip(handler, tmp_path / "b.zip", include=["nothing*.py"])
