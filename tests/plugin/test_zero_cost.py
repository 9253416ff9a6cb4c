"""Installing the plugin costs nothing until a test asks for an mlinfra fixture."""

from __future__ import annotations

from pathlib import Path

import pytest

USES_TARGET = "def test_it(mlinfra_target):\n    assert mlinfra_target.name\n"

# Runs inside the pytester session: records every process started and, at the end, which heavy
# modules got imported.
SPY = """
import subprocess, sys

spawned = []
_init = subprocess.Popen.__init__


def _record(self, *args, **kwargs):
    spawned.append(args[0] if args else kwargs.get("args"))
    _init(self, *args, **kwargs)


subprocess.Popen.__init__ = _record


def pytest_terminal_summary(terminalreporter):
    heavy = [m for m in ("hypothesis", "tftest", "boto3", "botocore", "hcl2", "moto") if m in sys.modules]
    terminalreporter.write_line(f"SPY heavy={heavy} spawned={spawned}")
"""


def test_unrelated_session_imports_spawns_and_writes_nothing(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("MLINFRA_CACHE_DIR", str(cache))
    pytester.makeconftest(SPY)
    pytester.makepyfile("def test_unrelated():\n    assert 1 + 1 == 2\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["SPY heavy=[] spawned=[]"])
    assert not cache.exists()


def test_unwritable_cache_dir_is_one_line_only_when_a_fixture_needs_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLINFRA_CACHE_DIR", "/proc/mlinfra-cannot-be-created")
    pytester.makepyfile(unrelated="def test_unrelated():\n    pass\n", uses_target=USES_TARGET)
    pytester.runpytest("unrelated.py").assert_outcomes(passed=1)
    result = pytester.runpytest("uses_target.py")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines(
        ["*mlinfra: cannot create the run folder /proc/mlinfra-cannot-be-created/runs/r* (*). point "
         "MLINFRA_CACHE_DIR at a writable folder*"]
    )  # fmt: skip
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
