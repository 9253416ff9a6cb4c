"""``mlinfra init``: the repo it writes passes as written, run as a user runs it (a fresh directory
outside this repository, the local target, a fresh pytest process)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pytest_mlinfra import scaffold
from pytest_mlinfra.cli import main


def test_init_writes_every_file_and_refuses_to_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", str(tmp_path)]) == 0
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()) == sorted(
        scaffold.FILES
    )
    assert main(["init", str(tmp_path)]) == 2
    assert "already exist" in capsys.readouterr().err
    assert main(["init", "--force", str(tmp_path)]) == 0


@pytest.mark.slow
def test_init_repo_is_green_on_the_first_try(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "myrepo"
    assert main(["init", str(repo)]) == 0
    junit, summary = tmp_path / "junit.xml", tmp_path / "report.json"
    command = [sys.executable, "-m", "pytest", "--mlinfra-target=local", "-p", "no:cacheprovider"]
    command.append(f"--mlinfra-json={summary}")
    proc = subprocess.run(
        [*command, f"--junitxml={junit}"], cwd=repo, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stdout[-4000:]
    report = junit.read_text()
    assert 'failures="0"' in report and 'errors="0"' in report and 'tests="5"' in report
    assert "every resource carries its cost tags" in proc.stdout
    # the CI recipe's step summary (examples/ci) renders from this real report
    capsys.readouterr()  # what init printed
    assert main(["summary", str(summary)]) == 0
    markdown = capsys.readouterr().out
    assert markdown.startswith("## pytest-mlinfra: PASSED\n") and "5 passed" in markdown
    assert "| apply |" in markdown and "Latency (client wall time): p50" in markdown
    assert "every resource carries its cost tags" in markdown
