"""Concurrent invocations through boto3: parallel execution environments up to the limit, each with
its own cold start, then AWS's 429 throttle; idle environments reaped; workers die with their function."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from pytest_mlinfra.emulator import EmbeddedAWS

from .conftest import unique

STORM = 32
RESERVED = 4


def _lambda(endpoint: str) -> Any:
    config = botocore.config.Config(max_pool_connections=STORM, retries={"max_attempts": 1})
    return boto3.client(
        "lambda",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    )


def _storm(lam: Any, name: str, count: int, seconds: float) -> list[dict[str, Any]]:
    """``count`` invocations released at once; each result: payload + log, or the error."""
    gate = threading.Barrier(count)

    def one(_: int) -> dict[str, Any]:
        gate.wait()
        try:
            response = lam.invoke(FunctionName=name, Payload=json.dumps({"seconds": seconds}), LogType="Tail")
        except ClientError as exc:
            return {
                "error": exc.response["Error"],
                "status": exc.response["ResponseMetadata"]["HTTPStatusCode"],
                "body": exc.response,
            }
        return {
            "payload": json.loads(response["Payload"].read()),
            "log": base64.b64decode(response["LogResult"]).decode(),
        }

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def test_storm_runs_in_parallel_up_to_reserved_concurrency_then_throttles(
    aws: EmbeddedAWS, client: Callable[[str], Any], make_function: Callable[..., str]
) -> None:
    name = make_function("span", Timeout=30)
    lam = _lambda(aws.endpoint_url)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=RESERVED)

    results = _storm(lam, name, STORM, seconds=3.0)

    done = [r for r in results if "payload" in r]
    throttled = [r for r in results if "error" in r]
    assert len(done) == RESERVED and len(throttled) == STORM - RESERVED
    for result in throttled:
        assert result["status"] == 429
        assert result["error"]["Code"] == "TooManyRequestsException"
        assert result["error"]["Message"] == "Rate Exceeded."
        assert result["body"]["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    spans = [r["payload"] for r in done]
    assert len({s["pid"] for s in spans}) == RESERVED  # one execution environment each
    assert max(s["started"] for s in spans) < min(s["ended"] for s in spans)  # all overlapped
    assert all("Init Duration: " in r["log"] for r in done)  # each its own cold start

    # The environments stay warm: the next wave reuses them (no Init Duration, same processes).
    again = _storm(lam, name, RESERVED, seconds=0.1)
    assert all("payload" in r and "Init Duration" not in r["log"] for r in again)
    assert {r["payload"]["pid"] for r in again} == {s["pid"] for s in spans}


def test_unreserved_functions_share_the_emulator_limit_idle_ones_are_reaped(
    tmp_path: Path, probe_zip: bytes
) -> None:
    with EmbeddedAWS(state_dir=tmp_path, lambda_concurrency=2, keep_warm_s=1.0) as aws:
        lam = _lambda(aws.endpoint_url)
        iam = boto3.client(
            "iam",
            endpoint_url=aws.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="t",
            aws_secret_access_key="t",
        )
        role = iam.create_role(RoleName=unique("conc"), AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        name = unique("span")
        lam.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=role,
            Handler="probe.span",
            Code={"ZipFile": probe_zip},
            Timeout=30,
        )
        results = _storm(lam, name, 3, seconds=2.0)
        throttled = [r for r in results if "error" in r]
        assert len(throttled) == 1
        assert throttled[0]["body"]["Reason"] == "ConcurrentInvocationLimitExceeded"
        assert len(aws.worker_pids()) == 2
        deadline = time.monotonic() + 10
        while aws.worker_pids() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert aws.worker_pids() == []  # reaped after the keep-warm time


def test_workers_die_with_their_function(
    aws: EmbeddedAWS, client: Callable[[str], Any], make_function: Callable[..., str]
) -> None:
    name = make_function("echo")
    lam = client("lambda")
    lam.invoke(FunctionName=name, Payload=b"{}")
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    pids = [w.pid for w in aws.lambda_pool.environments(arn)]
    assert len(pids) == 1
    lam.delete_function(FunctionName=name)
    assert aws.lambda_pool.environments(arn) == []
    with pytest.raises(ProcessLookupError):
        import os

        os.kill(pids[0], 0)


def test_update_kills_the_old_environments(
    aws: EmbeddedAWS, client: Callable[[str], Any], make_function: Callable[..., str]
) -> None:
    name = make_function("info")
    lam = client("lambda")
    first = json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read())
    lam.update_function_configuration(FunctionName=name, MemorySize=320)
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    assert aws.lambda_pool.environments(arn) == []
    second = json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read())
    assert second["pid"] != first["pid"] and second["memory_limit_in_mb"] == 320
