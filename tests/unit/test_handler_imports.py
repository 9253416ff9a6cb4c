"""Import pre-flight: the static scan of a handler and the one line for what the function lacks."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from pytest_mlinfra import handler_imports
from pytest_mlinfra.errors import MlinfraError

APP = """
from __future__ import annotations
import json, os
from typing import TYPE_CHECKING
import helpers
from pkg import sub
try:
    import ujson
except ImportError:
    ujson = None
if TYPE_CHECKING:
    import mypy_boto3_s3

def predict(event, context):
    import boto3
    import numpy
    return {}

def unused():
    import pandas
"""


def _handler(tmp_path: Path, shipped: list[str]) -> tuple[Path, Path]:
    handler = tmp_path / "handler"
    (handler / "pkg").mkdir(parents=True)
    (handler / "app.py").write_text(APP)
    (handler / "helpers.py").write_text("import yaml\n")
    (handler / "pkg" / "__init__.py").write_text("")
    (handler / "pkg" / "sub.py").write_text("from . import other\nimport requests\n")
    (handler / "pkg" / "other.py").write_text("import sklearn\n")
    zip_path = tmp_path / "lambda.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        for name in shipped:
            archive.writestr(name, "")
    return handler, zip_path


def test_scan_follows_the_zip_modules_and_skips_optional_imports(tmp_path: Path) -> None:
    handler, _ = _handler(tmp_path, [])
    outside, unshipped = handler_imports.scan(handler, "app.predict", {"app", "helpers", "pkg"})
    assert sorted({i.name for i in outside}) == [
        "boto3",
        "json",
        "numpy",
        "os",
        "requests",
        "sklearn",
        "typing",
        "yaml",
    ]
    assert unshipped == []
    assert handler_imports.Import("yaml", "helpers.py:1") in outside


def test_a_handler_module_left_out_of_the_zip_names_the_setting(tmp_path: Path) -> None:
    handler, zip_path = _handler(tmp_path, ["app.py", "pkg/__init__.py", "pkg/sub.py", "pkg/other.py"])
    with pytest.raises(MlinfraError) as raised:
        handler_imports.check(handler, "app.predict", zip_path, "python3.11", None)
    assert "imports helpers (app.py:5), which is in the handler dir but not in the Lambda zip" in str(
        raised.value
    )
    assert "mlinfra_package_include" in str(raised.value)


def test_missing_third_party_modules_are_one_line(tmp_path: Path) -> None:
    handler, zip_path = _handler(
        tmp_path, ["app.py", "helpers.py", "pkg/__init__.py", "pkg/sub.py", "pkg/other.py"]
    )
    with pytest.raises(MlinfraError) as raised:
        handler_imports.check(handler, "app.predict", zip_path, "python3.11", None, efs_names={"numpy"})
    text = str(raised.value)
    assert text.startswith("the handler imports "), text
    assert "(also " in text and "Lambda runtime python3.11 would not have" in text
    assert "mlinfra_requirements" in str(raised.value) and "mlinfra_efs_packages" in str(raised.value)


def test_everything_provided_passes_and_layers_get_no_verdict(tmp_path: Path) -> None:
    files = ["app.py", "helpers.py", "pkg/__init__.py", "pkg/sub.py", "pkg/other.py"]
    handler, zip_path = _handler(
        tmp_path, [*files, "yaml/__init__.py", "_yaml.cpython-311-x86_64-linux-gnu.so"]
    )
    handler_imports.check(
        handler, "app.predict", zip_path, "python3.11", None, efs_names={"numpy", "requests", "sklearn"}
    )
    handler_imports.check(handler, "app.predict", zip_path, "python3.11", None, has_layers=True)


def test_package_top_level_names() -> None:
    top = ["yaml", "_yaml", "PyYAML-6.0.2.dist-info", "six.py", "bin"]
    assert handler_imports.package_top_level(top) == {"yaml", "_yaml", "six"}
