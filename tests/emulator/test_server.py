"""The server itself: standalone mode, fail-fast on unimplemented calls, EFS storage lifecycle."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from pytest_mlinfra.emulator import EmbeddedAWS, mounts
from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.ports import free_port

from .conftest import unique


def test_standalone_prints_url_and_stops_on_sigint(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest_mlinfra.emulator", "--port", str(port), "--state-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url == f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=5) as response:
            assert response.status == 200
        taken = subprocess.run(
            [sys.executable, "-m", "pytest_mlinfra.emulator", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert taken.returncode == 2
        assert len(taken.stderr.strip().splitlines()) == 1 and "already taken" in taken.stderr
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_unimplemented_call_fails_fast_without_retries(client: Callable[[str], Any]) -> None:
    with pytest.raises(ClientError) as info:
        client("datasync").describe_agent(AgentArn="arn:aws:datasync:us-east-1:123456789012:agent/agent-0")
    error = info.value.response
    assert error["Error"]["Code"] == "NotImplemented"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert error["ResponseMetadata"]["RetryAttempts"] == 0


def test_efs_storage_lives_and_dies_with_the_file_system(
    aws: EmbeddedAWS, client: Callable[[str], Any]
) -> None:
    efs = client("efs")
    fs = efs.create_file_system(CreationToken=unique("fs"))["FileSystemId"]
    storage = aws.efs_storage(fs)
    assert storage.is_dir() and storage.is_relative_to(aws.state_dir)
    efs.create_access_point(
        FileSystemId=fs,
        RootDirectory={"Path": "/a/b", "CreationInfo": {"OwnerUid": 0, "OwnerGid": 0, "Permissions": "700"}},
    )
    assert oct((storage / "a" / "b").stat().st_mode & 0o777) == "0o700"
    (storage / "a" / "b" / "data").write_bytes(b"x")
    efs.delete_file_system(FileSystemId=fs)
    assert not storage.exists()
    with pytest.raises(MlinfraError, match="does not exist"):
        aws.efs_storage(fs)
    with pytest.raises(ClientError, match="FileSystemNotFound"):
        efs.create_access_point(FileSystemId=fs)


def test_mount_fallback_rewrites_env_and_warns_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(mounts, "namespaces_available", lambda: False)
    monkeypatch.setattr(mounts, "_warned", False)
    env = {"MODEL_DIR": "/mnt/shared-storage/models", "OTHER": "/mnt/shared-storagex", "PATH": "/bin"}
    argv = ["python", "-m", "awslambdaric", "h.f"]
    with pytest.warns(RuntimeWarning, match="rewriting environment variables"):
        assert mounts.wrap(argv, [mounts.Mount(tmp_path, "/mnt/shared-storage")], env) == argv
    assert env == {"MODEL_DIR": f"{tmp_path}/models", "OTHER": "/mnt/shared-storagex", "PATH": "/bin"}


def test_mount_path_must_be_under_mnt() -> None:
    with pytest.raises(MlinfraError, match="/mnt/<name>"):
        mounts.check_mount_path("/var/task")


def test_port_taken_is_one_clear_error(aws: EmbeddedAWS) -> None:
    with pytest.raises(MlinfraError, match="already taken"):
        EmbeddedAWS(port=aws.port).start()
    assert os.path.isdir(aws.state_dir)
