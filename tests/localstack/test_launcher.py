"""The launcher and the target against a real LocalStack: plugin services, edition, clear failures,
nothing left running."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.localstack_ext.launcher import LocalStack, health, worker_pids
from pytest_mlinfra.targets.localstack import LocalStackTarget


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"


def test_the_plugin_adds_efs_and_datasync(localstack_plugin: LocalStack) -> None:
    services = health(localstack_plugin.endpoint_url)["services"]
    assert {services["efs"], services["datasync"]} <= {"available", "running"}
    target = LocalStackTarget("us-east-1", localstack_plugin.endpoint_url)
    target.start()
    assert target.capabilities.model_on_efs
    assert "model from EFS via DataSync" in target.describe()


def test_without_the_plugin_efs_is_missing_and_the_model_comes_from_s3(
    localstack_community: LocalStack,
) -> None:
    services = health(localstack_community.endpoint_url)["services"]
    assert "efs" not in services and "datasync" not in services
    target = LocalStackTarget("us-east-1", localstack_community.endpoint_url)
    target.start()
    assert not target.capabilities.model_on_efs
    assert "model from S3 at cold start (no EFS/DataSync)" in target.describe()


def test_a_localstack_without_lambda_is_one_clear_line(localstack_venv: Path, tmp_path: Path) -> None:
    limited = LocalStack(localstack_venv, services=("s3", "iam", "sts", "logs"), workdir=tmp_path)
    with limited as ls, pytest.raises(MlinfraError) as caught:
        LocalStackTarget("us-east-1", ls.endpoint_url).start()
    assert str(caught.value).startswith(
        f"LocalStack at {ls.endpoint_url} lacks services the flow needs: lambda."
    )


def test_stop_leaves_no_process_and_is_idempotent(localstack_venv: Path, tmp_path: Path) -> None:
    ls = LocalStack(localstack_venv, plugin=True, workdir=tmp_path).start()
    assert ls.proc is not None
    pid = ls.proc.pid
    ls.stop()
    ls.stop()
    assert not _alive(pid)
    assert [p for p in Path("/proc").iterdir() if p.name.isdigit() and _in_group(int(p.name), pid)] == []
    with pytest.raises(OSError):
        health(ls.endpoint_url, timeout=1)


def test_stop_runs_when_the_body_fails(localstack_venv: Path, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), LocalStack(localstack_venv, workdir=tmp_path) as ls:
        assert ls.proc is not None
        pid = ls.proc.pid
        raise RuntimeError("a test failed")
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid)
    assert worker_pids(tmp_path) == []


def test_a_missing_venv_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(MlinfraError, match=r"no LocalStack virtualenv at .*create one"):
        LocalStack(tmp_path / "nowhere")


def _in_group(pid: int, group: int) -> bool:
    try:
        return os.getpgid(pid) == group
    except (ProcessLookupError, OSError):
        return False
