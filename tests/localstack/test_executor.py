"""LocalStack's Lambda through our provider and executor, called with boto3 as any client would:
FileSystemConfigs kept and checked, the mount seen by the handler, errors and timeouts as AWS has them,
workers gone with the function."""

from __future__ import annotations

import contextlib
import io
import json
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from pytest_mlinfra.localstack_ext.launcher import LocalStack, worker_pids

HANDLER = """
import os, sys, time

def version(event, context):
    return {"version": list(sys.version_info[:2]), "executable": sys.executable}

def ok(event, context):
    path = os.environ.get("DATA_DIR")
    return {"files": sorted(os.listdir(path)) if path else None, "uid": os.getuid(),
            "arn": context.invoked_function_arn}

def boom(event, context):
    raise ValueError("bad input")

def slow(event, context):
    time.sleep(5)
"""


@pytest.fixture
def aws(localstack_plugin: LocalStack) -> Any:
    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=localstack_plugin.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 1}, read_timeout=60),
        )

    return client


@pytest.fixture
def make_function(aws: Any) -> Iterator[Any]:
    role = aws("iam").create_role(RoleName=f"exec-test-{time.monotonic_ns()}", AssumeRolePolicyDocument="{}")
    created: list[str] = []
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("handler.py", HANDLER)

    def make(
        name: str, handler: str, timeout: int = 3, runtime: str = "python3.11", **extra: Any
    ) -> dict[str, Any]:
        function: dict[str, Any] = aws("lambda").create_function(
            FunctionName=name,
            Runtime=runtime,
            Role=role["Role"]["Arn"],
            Handler=f"handler.{handler}",
            Code={"ZipFile": archive.getvalue()},
            Timeout=timeout,
            **extra,
        )
        created.append(name)
        aws("lambda").get_waiter("function_active_v2").wait(FunctionName=name)
        return function

    yield make
    for name in created:
        with contextlib.suppress(aws("lambda").exceptions.ResourceNotFoundException):
            aws("lambda").delete_function(FunctionName=name)
    aws("iam").delete_role(RoleName=role["Role"]["RoleName"])


def _invoke(aws: Any, name: str) -> tuple[dict[str, Any], Any]:
    response = aws("lambda").invoke(FunctionName=name, Payload=b"{}")
    return response, json.loads(response["Payload"].read() or b"null")


def test_the_access_point_is_mounted_and_kept_in_the_configuration(aws: Any, make_function: Any) -> None:
    efs = aws("efs")
    fs = efs.create_file_system(CreationToken=f"exec-{time.monotonic_ns()}")
    point = efs.create_access_point(
        FileSystemId=fs["FileSystemId"],
        PosixUser={"Uid": 1000, "Gid": 1000},
        RootDirectory={
            "Path": "/data",
            "CreationInfo": {"OwnerUid": 1000, "OwnerGid": 1000, "Permissions": "755"},
        },
    )
    mount = [{"Arn": point["AccessPointArn"], "LocalMountPath": "/mnt/data"}]
    try:
        created = make_function(
            "exec-mount", "ok", FileSystemConfigs=mount, Environment={"Variables": {"DATA_DIR": "/mnt/data"}}
        )
        assert created["FileSystemConfigs"] == mount
        assert (
            aws("lambda").get_function(FunctionName="exec-mount")["Configuration"]["FileSystemConfigs"]
            == mount
        )
        assert (
            aws("lambda").get_function_configuration(FunctionName="exec-mount")["FileSystemConfigs"] == mount
        )
        response, body = _invoke(aws, "exec-mount")
        assert "FunctionError" not in response
        assert body["files"] == [] and body["uid"] == 1000
        assert body["arn"].endswith(":function:exec-mount")
    finally:
        aws("lambda").delete_function(FunctionName="exec-mount")
        efs.delete_access_point(AccessPointId=point["AccessPointId"])
        efs.delete_file_system(FileSystemId=fs["FileSystemId"])


def test_a_mount_path_lambda_refuses_is_refused(aws: Any, make_function: Any) -> None:
    with pytest.raises(aws("lambda").exceptions.InvalidParameterValueException, match="LocalMountPath"):
        make_function(
            "exec-badmount",
            "ok",
            FileSystemConfigs=[
                {
                    "Arn": "arn:aws:elasticfilesystem:us-east-1:000000000000:access-point/fsap-1",
                    "LocalMountPath": "/tmp",
                }
            ],
        )


def test_an_error_comes_back_as_aws_returns_it(aws: Any, make_function: Any) -> None:
    make_function("exec-boom", "boom")
    response, body = _invoke(aws, "exec-boom")
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "ValueError" and body["errorMessage"] == "bad input"


def test_a_timeout_kills_the_worker_and_says_so(
    aws: Any, make_function: Any, localstack_plugin: LocalStack
) -> None:
    make_function("exec-slow", "slow", timeout=1)
    started = time.monotonic()
    response, body = _invoke(aws, "exec-slow")
    assert time.monotonic() - started < 4.5
    assert response["FunctionError"] == "Unhandled"
    assert "Task timed out after 1.00 seconds" in body["errorMessage"]


def test_workers_end_with_their_function(aws: Any, make_function: Any, localstack_plugin: LocalStack) -> None:
    make_function("exec-ok", "ok")
    _invoke(aws, "exec-ok")
    assert worker_pids(localstack_plugin.workdir)
    aws("lambda").delete_function(FunctionName="exec-ok")
    deadline = time.monotonic() + 10
    while worker_pids(localstack_plugin.workdir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert worker_pids(localstack_plugin.workdir) == []


def test_the_declared_runtime_runs_the_handler(aws: Any, make_function: Any) -> None:
    """As on the local target: a python3.12 function runs on a CPython 3.12 (LocalStack's own Python
    is 3.11), with the runtime client built for it."""
    from pytest_mlinfra.emulator import lambda_pythons
    from pytest_mlinfra.terraform.toolchain import cache_root

    if lambda_pythons.find_python("python3.12") is None:
        pytest.skip("no interpreter for python3.12 on this machine")
    # Built here first: a pip build inside the executor's start would race LocalStack's start timeout.
    lambda_pythons.resolve("python3.12", "x86_64", cache_root() / "lambda-runtimes")
    make_function("exec-version", "version", timeout=30, runtime="python3.12")
    response, body = _invoke(aws, "exec-version")
    assert "FunctionError" not in response, body
    assert body["version"] == [3, 12], body
