"""The README's main job with a broken model or stack: stopped before anything is deployed.

Each runs ``pytest --mlinfra-target=local`` on a copy of examples/ner in a fresh process, as a user
does, and checks the exit code, the one line, and that no Terraform state or apply happened.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "ner"


def _example(tmp_path: Path) -> Path:
    copy = tmp_path / "ner"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    return copy


def _run(example: Path, *args: str) -> tuple[int, str, float]:
    runs = example.parent / "runs"
    command = [sys.executable, "-m", "pytest", "--mlinfra-target=local", f"--mlinfra-runs-dir={runs}", *args]
    command += ["-p", "no:cacheprovider", str(example)]
    started = time.perf_counter()
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run(command, cwd=example.parent, capture_output=True, text=True, timeout=600, env=env)
    output = proc.stdout + proc.stderr
    assert not list(runs.rglob("*.tfstate")), "nothing was deployed: no Terraform state"
    assert "terraform apply" not in output and "apply_s" not in output
    assert "Traceback" not in output and "INTERNALERROR" not in output
    return proc.returncode, output, time.perf_counter() - started


def _one(output: str, needle: str) -> str:
    lines = [line for line in output.splitlines() if needle in line]
    assert len(lines) == 1, output[-4000:]
    return lines[0]


def test_random_bytes_fail_the_examples_model_check(tmp_path: Path) -> None:
    example = _example(tmp_path)
    (example / "artifacts" / "model.pt").write_bytes(os.urandom(300_000))
    code, output, _seconds = _run(example)
    assert code == pytest.ExitCode.USAGE_ERROR, output[-4000:]
    line = _one(output, "fails its check")
    assert re.search(
        r"mlinfra: model artifact .*/artifacts/model.pt fails its check model:check_artifact: ValueError: "
        r"not a torch.save\(\) archive: 300000 bytes, starting b'.*'\. point --mlinfra-model "
        r"\(ini mlinfra_model\) at a model the function can load, or export it again",
        line,
    ), line
    assert "ModelLoadError" not in output
    assert "mlinfra: deploy failed, so the session stopped" in output
    assert "target start" not in output, "checked before the embedded AWS starts"


def test_a_zip_that_is_not_the_model_fails_the_load(tmp_path: Path) -> None:
    import zipfile

    example = _example(tmp_path)
    with zipfile.ZipFile(example / "artifacts" / "model.pt", "w") as archive:
        archive.writestr("weights.txt", "not tensors")
    code, output, _seconds = _run(example)
    assert code == pytest.ExitCode.USAGE_ERROR, output[-4000:]
    assert "fails its check model:check_artifact" in _one(output, "fails its check")


def test_an_empty_model_stops_at_start_up(tmp_path: Path) -> None:
    example = _example(tmp_path)
    (example / "artifacts" / "model.pt").write_bytes(b"")
    code, output, _seconds = _run(example)
    assert code == pytest.ExitCode.USAGE_ERROR
    assert _one(output, "is empty").startswith("ERROR: mlinfra: model artifact ")
    assert "target start" not in output


def test_a_stack_without_efs_mount_path_stops_before_deploy(tmp_path: Path) -> None:
    example = _example(tmp_path)
    stack = tmp_path / "stack"
    shutil.copytree(REPO / "fixtures_tf", stack, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    outputs = (stack / "outputs.tf").read_text()
    without = re.sub(r'output "efs_mount_path" \{.*?\n\}\n', "", outputs, flags=re.DOTALL)
    assert without != outputs
    (stack / "outputs.tf").write_text(without)
    code, output, _seconds = _run(example, f"--mlinfra-stack={stack}")
    assert code == pytest.ExitCode.USAGE_ERROR, output[-4000:]
    line = _one(output, "lacks output")
    assert (
        f"mlinfra: the stack {stack} lacks output efs_mount_path, which mlinfra_function, mlinfra_model, "
        "ner_predictor, mlinfra_efs_packages need(s). declare output efs_mount_path in the stack "
        "(see docs/contract.md)" in line
    ), line
