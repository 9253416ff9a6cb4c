"""The whole flow on a real LocalStack, as a user runs it: ``pytest --mlinfra-target=localstack``.

With the plugin: Terraform applies the bundled stack (VPC, EFS, access point, DataSync, Lambda with
the mount), DataSync copies the model into EFS, the toy handler reads it through the mount.
Without EFS (Community): the stack is applied with ``enable_efs=false`` and the handler fetches
the model from S3. Both: every property passes, and nothing of the run stays deployed or running.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from pytest_mlinfra.localstack_ext.launcher import LocalStack, worker_pids
from pytest_mlinfra.ner.strategies import FAMOUS_NAMES

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PROPERTY_SUITE = REPO / "examples" / "ner" / "tests" / "test_properties.py"
HERE = Path(__file__).parent

SMOKE = """
def test_the_model_is_where_the_target_allows(mlinfra_model, mlinfra_target):
    assert mlinfra_model.on_efs == mlinfra_target.capabilities.model_on_efs


def test_tom_cruise_is_a_celebrity(ner_predictor):
    (entity,) = ner_predictor("Tom Cruise is overrated")
    found = (entity["text"], entity["label"], entity["start"], entity["end"])
    assert found == ("Tom Cruise", "Celebrity", 0, 10)
"""


def _user_repo(pytester: pytest.Pytester) -> None:
    handler = pytester.mkdir("handler")
    shutil.copy(REPO / "tests" / "flow" / "toy_handler.py", handler / "toy_handler.py")
    shutil.copy(HERE / "s3_handler.py", handler / "model.py")
    (handler / "model.pt").write_text(json.dumps({"names": list(FAMOUS_NAMES)}))
    tests = pytester.mkdir("tests")
    shutil.copy(PROPERTY_SUITE, tests / PROPERTY_SUITE.name)
    (tests / "test_smoke.py").write_text(SMOKE)
    pytester.makeini(
        "[pytest]\n"
        "testpaths = tests\n"
        "mlinfra_handler_dir = handler\n"
        "mlinfra_model = handler/model.pt\n"
        "mlinfra_package_include =\n    model.py\n    toy_handler.py\n"
        "mlinfra_latency_budget = p50=250 cold=30000\n"
        "mlinfra_properties = ner\n"  # the stock suite, next to the user's own property file
    )


def _deployed(ls: LocalStack) -> dict[str, list[Any]]:
    """What of any run is still deployed on this LocalStack."""

    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=ls.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    left: dict[str, list[Any]] = {
        "functions": [f["FunctionName"] for f in client("lambda").list_functions()["Functions"]],
        "buckets": [b["Name"] for b in client("s3").list_buckets()["Buckets"]],
        "roles": [
            r["RoleName"] for r in client("iam").list_roles()["Roles"] if r["RoleName"].startswith("mlinfra-")
        ],
        "vpcs": [v["VpcId"] for v in client("ec2").describe_vpcs()["Vpcs"] if not v.get("IsDefault")],
    }
    if ls.plugin:
        left["file_systems"] = [
            f["FileSystemId"] for f in client("efs").describe_file_systems()["FileSystems"]
        ]
        left["datasync_tasks"] = [t["TaskArn"] for t in client("datasync").list_tasks()["Tasks"]]
    return {kind: items for kind, items in left.items() if items}


def _run(pytester: pytest.Pytester, ls: LocalStack) -> pytest.RunResult:
    _user_repo(pytester)
    return pytester.runpytest(
        "--mlinfra-target=localstack",
        f"--mlinfra-localstack-endpoint={ls.endpoint_url}",
        "--mlinfra-examples=12",
        "-p",
        "no:cacheprovider",
    )


def _no_workers_left(ls: LocalStack) -> bool:
    deadline = time.monotonic() + 10
    while worker_pids(ls.workdir) and time.monotonic() < deadline:
        time.sleep(0.2)
    return worker_pids(ls.workdir) == []


def test_efs_path_with_the_plugin(pytester: pytest.Pytester, localstack_plugin: LocalStack) -> None:
    result = _run(pytester, localstack_plugin)
    result.stdout.fnmatch_lines(["mlinfra: target localstack (*model from EFS via DataSync)*"])
    result.stdout.fnmatch_lines(["cost-tag audit (*): every resource carries its cost tags"])
    result.assert_outcomes(passed=13)  # 8 stock properties, the user file, 2 smoke, 2 checks
    assert _deployed(localstack_plugin) == {}
    assert _no_workers_left(localstack_plugin)


def test_s3_path_without_efs(pytester: pytest.Pytester, localstack_community: LocalStack) -> None:
    result = _run(pytester, localstack_community)
    result.stdout.fnmatch_lines(["mlinfra: target localstack (*model from S3 at cold start*"])
    result.assert_outcomes(passed=13)  # 8 stock properties, the user file, 2 smoke, 2 checks
    assert _deployed(localstack_community) == {}
    assert _no_workers_left(localstack_community)
