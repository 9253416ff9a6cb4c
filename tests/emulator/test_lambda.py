"""Lambda through boto3: the real handler run by awslambdaric in a warm worker, as AWS reports it."""

from __future__ import annotations

import base64
import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_mlinfra.emulator import EmbeddedAWS, mounts

from .conftest import unique

REPORT = re.compile(
    r"REPORT RequestId: (?P<id>\S+)\s+Duration: (?P<duration>[\d.]+) ms\s+Billed Duration: \d+ ms\s+"
    r"Memory Size: (?P<memory>\d+) MB\s+Max Memory Used: \d+ MB(?:\s+Init Duration: (?P<init>[\d.]+) ms)?"
)


def _invoke(client: Callable[[str], Any], name: str, event: Any = None, **kw: Any) -> dict[str, Any]:
    response = client("lambda").invoke(FunctionName=name, Payload=json.dumps(event or {}), **kw)
    response["body"] = response["Payload"].read()
    if "LogResult" in response:
        response["log"] = base64.b64decode(response["LogResult"]).decode()
    return response


def test_handler_reads_file_from_its_efs_mount_path(
    aws: EmbeddedAWS,
    client: Callable[[str], Any],
    make_function: Callable[..., str],
    access_point: dict[str, Any],
) -> None:
    root = aws.efs_storage(access_point["file_system_id"]) / "lambda"
    (root / "greeting.txt").write_text("hello from efs")
    name = make_function("read_file", mount=True)

    response = _invoke(client, name, {"name": "greeting.txt"})

    assert "FunctionError" not in response, response["body"]
    body = json.loads(response["body"])
    assert {k: body[k] for k in ("size", "text", "root")} == {
        "size": 14,
        "text": "hello from efs",
        "root": "/mnt/shared-storage",
    }
    if mounts.namespaces_available():
        assert body["uid"] == 1000  # runs as the access point's PosixUser


def test_access_point_root_follows_creation_info(aws: EmbeddedAWS, access_point: dict[str, Any]) -> None:
    root = aws.efs_storage(access_point["file_system_id"]) / "lambda"
    assert root.is_dir() and oct(root.stat().st_mode & 0o777) == "0o750"


def test_cold_then_warm_with_init_duration_only_first(
    client: Callable[[str], Any], make_function: Callable[..., str]
) -> None:
    name = make_function("info", MemorySize=512)

    first = _invoke(client, name, {"n": 1}, LogType="Tail")
    second = _invoke(client, name, {"n": 2}, LogType="Tail")

    one, two = json.loads(first["body"]), json.loads(second["body"])
    assert one["pid"] == two["pid"] and one["loaded_at"] == two["loaded_at"]  # same warm worker
    cold, warm = REPORT.search(first["log"]), REPORT.search(second["log"])
    assert cold is not None and warm is not None
    assert cold["init"] is not None and warm["init"] is None
    assert cold["memory"] == "512" and one["memory_limit_in_mb"] == 512
    assert two["env"]["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512"
    assert two["env"]["AWS_LAMBDA_FUNCTION_NAME"] == name and two["function_name"] == name


def test_configuration_change_means_cold_start(
    client: Callable[[str], Any], make_function: Callable[..., str]
) -> None:
    name = make_function("info")
    before = json.loads(_invoke(client, name)["body"])
    client("lambda").update_function_configuration(
        FunctionName=name, Environment={"Variables": {"MLINFRA_X": "1"}}
    )

    after = _invoke(client, name, LogType="Tail")

    body = json.loads(after["body"])
    assert body["pid"] != before["pid"] and body["env"]["MLINFRA_X"] == "1"
    match = REPORT.search(after["log"])
    assert match is not None and match["init"] is not None


def test_log_tail_has_start_end_report(
    client: Callable[[str], Any], make_function: Callable[..., str]
) -> None:
    name = make_function("info")
    response = _invoke(client, name, LogType="Tail")
    request_id = json.loads(response["body"])["request_id"]
    log = response["log"]
    assert log.startswith(f"START RequestId: {request_id} Version: $LATEST\n")
    assert "info called\n" in log
    assert f"END RequestId: {request_id}\n" in log
    match = REPORT.search(log)
    assert match is not None and match["id"] == request_id
    assert "LogResult" not in client("lambda").invoke(FunctionName=name, Payload=b"{}")  # only when asked


def test_timeout_kills_worker_and_reports_like_aws(
    client: Callable[[str], Any], make_function: Callable[..., str]
) -> None:
    name = make_function("sleepy", Timeout=1)
    started = time.monotonic()

    response = _invoke(client, name, {"seconds": 30}, LogType="Tail")

    assert time.monotonic() - started < 5
    assert response["FunctionError"] == "Unhandled"
    body = json.loads(response["body"])
    assert "Task timed out after 1.00 seconds" in body["errorMessage"]
    assert "Task timed out after 1.00 seconds" in response["log"]
    # the next call gets a fresh worker and works
    quick = _invoke(client, name, {"seconds": 0}, LogType="Tail")
    assert json.loads(quick["body"]) == {"slept": True}
    match = REPORT.search(quick["log"])
    assert match is not None and match["init"] is not None


def test_timeout_counts_from_the_event_not_from_the_cold_start(
    client: Callable[[str], Any], make_function: Callable[..., str]
) -> None:
    name = make_function("sleepy", Timeout=1, Environment={"Variables": {"PROBE_IMPORT_DELAY_S": "1.2"}})
    response = _invoke(client, name, {"seconds": 0.1}, LogType="Tail")
    assert "FunctionError" not in response, response["body"]
    match = REPORT.search(response["log"])
    assert match is not None and float(match["init"]) >= 1200


def test_unhandled_error_as_aws_returns_it(
    client: Callable[[str], Any], make_function: Callable[..., str]
) -> None:
    name = make_function("boom")
    response = _invoke(client, name, {"why": "bad input"})
    assert response["StatusCode"] == 200 and response["FunctionError"] == "Unhandled"
    body = json.loads(response["body"])
    assert body["errorType"] == "ValueError" and body["errorMessage"] == "boom: bad input"
    assert isinstance(body["stackTrace"], list) and body["stackTrace"]


def test_import_error_is_reported(client: Callable[[str], Any], make_function: Callable[..., str]) -> None:
    name = make_function("does_not_exist")
    response = _invoke(client, name)
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(response["body"])["errorType"].startswith("Runtime.")


def test_async_invoke_runs_in_background(
    aws: EmbeddedAWS,
    client: Callable[[str], Any],
    make_function: Callable[..., str],
    access_point: dict[str, Any],
) -> None:
    # The handler has a private /tmp, like on AWS: it leaves its marker on the EFS mount instead.
    name = make_function(
        "write_marker", mount=True, Environment={"Variables": {"MODEL_DIR": "/mnt/shared-storage"}}
    )
    marker = aws.efs_storage(access_point["file_system_id"]) / "lambda" / f"{name}.marker"
    response = client("lambda").invoke(
        FunctionName=name, InvocationType="Event", Payload=json.dumps({"name": marker.name})
    )
    assert response["StatusCode"] == 202
    deadline = time.monotonic() + 10
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marker.exists()


def test_dry_run(client: Callable[[str], Any], make_function: Callable[..., str]) -> None:
    name = make_function("echo")
    assert client("lambda").invoke(FunctionName=name, InvocationType="DryRun")["StatusCode"] == 204


def test_file_system_configs_round_trip(
    client: Callable[[str], Any], make_function: Callable[..., str], access_point: dict[str, Any]
) -> None:
    name = make_function("echo", mount=True)
    expected = [{"Arn": access_point["AccessPointArn"], "LocalMountPath": "/mnt/shared-storage"}]
    lam = client("lambda")
    assert lam.get_function(FunctionName=name)["Configuration"]["FileSystemConfigs"] == expected
    assert lam.get_function_configuration(FunctionName=name)["FileSystemConfigs"] == expected
    lam.update_function_configuration(FunctionName=name, FileSystemConfigs=[])
    assert "FileSystemConfigs" not in lam.get_function_configuration(FunctionName=name)
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.update_function_configuration(
            FunctionName=name, FileSystemConfigs=[{**expected[0], "LocalMountPath": "/var/task"}]
        )


def test_no_worker_left_after_stop(tmp_path: Path, probe_zip: bytes) -> None:
    import boto3

    with EmbeddedAWS(state_dir=tmp_path) as aws:
        lam = boto3.client(
            "lambda",
            endpoint_url=aws.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="t",
            aws_secret_access_key="t",
        )
        iam = boto3.client(
            "iam",
            endpoint_url=aws.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="t",
            aws_secret_access_key="t",
        )
        role = iam.create_role(RoleName=unique("leak-check"), AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        names = [unique("leak"), unique("leak")]
        for index in range(2):
            lam.create_function(
                FunctionName=names[index],
                Runtime="python3.11",
                Role=role,
                Handler="probe.echo",
                Code={"ZipFile": probe_zip},
            )
            lam.invoke(FunctionName=names[index], Payload=b"{}")
        pids = aws.worker_pids()
        assert len(pids) == 2
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
