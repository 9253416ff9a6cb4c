"""The ini trap: an option value taken for a path makes pytest skip the user's ini (inifile.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_mlinfra.inifile import ini_trap, spaced_values

FLAGS = {"--mlinfra-keep"}


def _repo(tmp_path: Path) -> Path:
    (tmp_path / "pytest.ini").write_text("[pytest]\nmlinfra_stack = infra\n")
    return tmp_path


def test_no_line_when_the_mlinfra_ini_was_loaded(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    assert ini_trap(repo / "pytest.ini", repo, [], FLAGS) is None


def test_one_line_names_the_spaced_value_when_no_ini_was_loaded(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    args = ["--mlinfra-keep", "--mlinfra-provider-mirror", "/srv/mirror", "-q"]
    line = ini_trap(None, repo, args, FLAGS)
    assert line is not None and "\n" not in line
    assert "read no ini file" in line and "write --mlinfra-provider-mirror=/srv/mirror" in line
    assert "-c pytest.ini" in line


def test_another_projects_mlinfra_ini_is_a_choice(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    other = tmp_path / "sub" / "pyproject.toml"
    other.parent.mkdir()
    other.write_text('[tool.pytest.ini_options]\nmlinfra_target = "local"\n')
    assert ini_trap(other, repo, ["sub"], FLAGS) is None
    plain = tmp_path / "sub" / "tox.ini"
    plain.write_text("[pytest]\naddopts = -q\n")
    assert ini_trap(plain, repo, ["sub"], FLAGS) is not None


def test_flags_take_no_value() -> None:
    assert spaced_values(["--mlinfra-keep", "tests", "--mlinfra-stack=x"], FLAGS) == []


def test_pytest_refuses_before_anything_runs(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makeini("[pytest]\nmlinfra_target = local\n")
    report = tmp_path / "elsewhere" / "r.html"
    report.parent.mkdir()
    report.write_text("")
    result = pytester.runpytest("--mlinfra-report", str(report), "--co")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*pytest read no ini file*write --mlinfra-report={report}*"])
