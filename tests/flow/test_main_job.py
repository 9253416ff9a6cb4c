"""The README's main job, exactly as a user runs it: the example suite against the real PyTorch
handler on the embedded AWS, in a fresh pytest process."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def test_main_job_passes_on_the_local_target(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    command = [sys.executable, "-m", "pytest", "--mlinfra-target=local", "examples/ner"]
    command += ["-p", "no:cacheprovider", f"--junitxml={junit}"]
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert (
        "cost-tag audit (Name, Environment, Project, Owner): every resource carries its cost tags"
        in proc.stdout
    )
    assert "predictor latency (client wall time): p50" in proc.stdout
    # torch reaches the handler through PYTHONPATH on the EFS mount; the local stand-in is declared.
    assert "mlinfra: EFS packages torch (+ requirements) synced with the model" in proc.stdout
    assert re.search(r"STAND-IN torch, .* linked from the host's site-packages, not uploaded", proc.stdout)
    report = junit.read_text()
    assert 'tests="16"' in report and 'failures="0"' in report and 'errors="0"' in report
    assert '<property name="mlinfra.stage.apply_s"' in report
