"""Runtime notices (AWS's wording and dates), the Python mismatch line, and the EFS packages plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.packages import PackageSync, packages_line, resolve
from pytest_mlinfra.runtimes import python_mismatch, refusal, runtime_notice
from pytest_mlinfra.settings import Settings


def test_refused_runtime_names_aws_text() -> None:
    notice = runtime_notice("python3.8", today="2026-12-01")
    assert notice is not None and refusal("python3.8") in notice
    assert refusal("python3.8").startswith("The runtime parameter of python3.8 is no longer supported")


def test_deprecated_but_accepted_and_current_runtimes() -> None:
    assert "deprecated since 2025-12-15" in (runtime_notice("python3.9", today="2026-12-01") or "")
    assert runtime_notice("python3.12", today="2026-12-01") is None


def test_python_mismatch_is_one_line_only_when_it_differs() -> None:
    assert python_mismatch("python3.11", (3, 11, 7)) is None
    line = python_mismatch("python3.8", (3, 11, 7))
    assert line is not None and "python3.8 declared" in line and "3.11.7" in line and "\n" not in line


def test_error_mode_refuses_before_anything_runs(tmp_path: Path) -> None:
    with pytest.raises(MlinfraError, match="no longer supported"):
        Settings(runtime="python3.8", runtime_check="error").validate()


def test_requirements_are_followed_and_the_runtime_is_never_shipped() -> None:
    names = {d.name.lower() for d in resolve(["boto3", "iniconfig"])}
    assert names == {"iniconfig"}  # boto3 and its requirements come with the managed runtime


def test_stand_in_covers_requirements_and_must_be_among_the_packages() -> None:
    sync = PackageSync(("iniconfig",), ("iniconfig",))
    assert sync.all_provided() and sync.report(stand_in=True).provided == ["iniconfig"]
    with pytest.raises(MlinfraError, match="not among the EFS packages"):
        PackageSync(("iniconfig",), ("pluggy",))


def test_header_line_names_the_stand_in_per_target() -> None:
    local = packages_line(Settings(efs_packages=("torch",), lambda_provided=("torch",)))
    assert "STAND-IN: torch linked from the host's site-packages, not uploaded" in local
    aws = packages_line(Settings(target="aws", efs_packages=("torch",), lambda_provided=("torch",)))
    assert "ignored: uploaded on aws" in aws
