"""Live audit against the real moto server (EmbeddedAWS), boto3 with dummy credentials.

moto keeps its state per process, so other tests' resources may be there too: assertions look only at
what this module created (names prefixed ``audit-live-``).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from pytest_mlinfra.audit import Finding, Policy, audit_live
from pytest_mlinfra.emulator import EmbeddedAWS
from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.ports import free_port

REGIONS = ["us-east-1", "eu-west-1"]
Factory = Callable[[str, str], Any]


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


def answer_500(operation: str) -> Callable[..., AWSResponse]:
    """A botocore before-send hook: the server answers 500 like an emulator's unimplemented call."""

    def hook(request: Any, **_: Any) -> AWSResponse | None:
        target = request.headers.get("X-Amz-Target", b"")
        target = target.decode() if isinstance(target, bytes) else target
        if not target.endswith(f".{operation}"):
            return None
        body = json.dumps({"__type": "InternalFailure", "message": f"{operation} is not yet implemented"})
        return AWSResponse(
            request.url, 500, {"Content-Type": "application/x-amz-json-1.1"}, _Body(body.encode())
        )

    return hook


def make_factory(endpoint: str, failing: dict[str, str] | None = None) -> Factory:
    config = Config(retries={"max_attempts": 1, "mode": "standard"}, s3={"addressing_style": "path"})

    def factory(service: str, region: str) -> Any:
        client = boto3.client(
            service,
            region_name=region,
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=config,
        )
        if failing and service in failing:
            client.meta.events.register("before-send", answer_500(failing[service]))
        return client

    return factory


@pytest.fixture(scope="module")
def aws() -> Iterator[EmbeddedAWS]:
    with EmbeddedAWS() as server:
        yield server


@pytest.fixture(scope="module")
def stack(aws: EmbeddedAWS) -> dict[str, str]:
    """A small deployed stack: some resources clean, some with planted violations. Name -> ARN."""
    factory = make_factory(aws.endpoint_url)
    good = [{"Key": "Environment", "Value": "dev"}, {"Key": "Project", "Value": "ner"}]
    arns: dict[str, str] = {}
    s3 = factory("s3", "us-east-1")
    s3.create_bucket(Bucket="audit-live-clean")
    s3.put_bucket_tagging(
        Bucket="audit-live-clean", Tagging={"TagSet": [{"Key": "Name", "Value": "audit-live-clean"}, *good]}
    )
    s3.create_bucket(Bucket="audit-live-untagged")
    arns["clean"], arns["untagged"] = "arn:aws:s3:::audit-live-clean", "arn:aws:s3:::audit-live-untagged"
    s3_eu = factory("s3", "eu-west-1")
    s3_eu.create_bucket(Bucket="audit-live-eu", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    arns["eu_bucket"] = "arn:aws:s3:::audit-live-eu"

    efs = factory("efs", "us-east-1")
    fs = efs.create_file_system(CreationToken="audit-live-fs", Tags=[{"Key": "Project", "Value": "ner"}])
    arns["fs"] = fs["FileSystemArn"]
    ap = efs.create_access_point(
        FileSystemId=fs["FileSystemId"],
        Tags=[
            {"Key": "Name", "Value": "audit-live-ap"},
            {"Key": "Environment", "Value": "qa"},
            {"Key": "Project", "Value": "ner"},
        ],
    )
    arns["ap"] = ap["AccessPointArn"]
    fs_eu = factory("efs", "eu-west-1").create_file_system(
        CreationToken="audit-live-fs-eu", Tags=[{"Key": "Name", "Value": "audit-live-fs-eu"}, *good]
    )
    arns["fs_eu"] = fs_eu["FileSystemArn"]

    role = factory("iam", "us-east-1").create_role(RoleName="audit-live-role", AssumeRolePolicyDocument="{}")
    role_arn = role["Role"]["Arn"]
    datasync = factory("datasync", "us-east-1")
    location = datasync.create_location_s3(
        S3BucketArn=arns["clean"], Subdirectory="/models", S3Config={"BucketAccessRoleArn": role_arn}
    )
    arns["location"] = location["LocationArn"]

    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    function = factory("lambda", "us-east-1").create_function(
        FunctionName="audit-live-fn",
        Runtime="python3.11",
        Role=role_arn,
        Handler="handler.handler",
        Code={"ZipFile": code.getvalue()},
        Tags={"Name": "audit-live-fn", "Environment": "prod", "Project": "ner"},
    )
    arns["function"] = function["FunctionArn"]
    return arns


def mine(findings: list[Finding], stack: dict[str, str]) -> dict[str, set[tuple[str, tuple[str, ...]]]]:
    names = {arn: name for name, arn in stack.items()}
    result: dict[str, set[tuple[str, tuple[str, ...]]]] = {}
    for finding in findings:
        if finding.address in names:
            result.setdefault(names[finding.address], set()).add((finding.kind, finding.keys))
    return result


POLICY = Policy(allowed={"Environment": ("dev", "staging", "prod")})


def test_live_audit_over_several_regions(aws: EmbeddedAWS, stack: dict[str, str]) -> None:
    findings = audit_live(make_factory(aws.endpoint_url), REGIONS, POLICY)
    assert mine(findings, stack) == {
        "untagged": {("missing", ("Name", "Environment"))},
        "eu_bucket": {("missing", ("Name", "Environment"))},
        "fs": {("missing", ("Name", "Environment"))},  # the EFS file system the tagging sweep may miss
        "ap": {("bad-value", ("Environment",))},
        "location": {("missing", ("Name", "Environment"))},  # read through datasync.list_tags_for_resource
    }
    assert {f.source for f in findings} == {"live"}
    fs_finding = next(f for f in findings if f.address == stack["fs"])
    assert fs_finding.resource_type == "elasticfilesystem:file-system"
    # each resource once, even though S3 is listed globally and two regions are swept
    assert len([f for f in findings if f.address == stack["untagged"]]) == 1


def test_tag_filter_narrows_to_one_stack(aws: EmbeddedAWS, stack: dict[str, str]) -> None:
    findings = audit_live(make_factory(aws.endpoint_url), REGIONS, POLICY, {"Project": ["ner"]})
    assert mine(findings, stack) == {
        "fs": {("missing", ("Name", "Environment"))},
        "ap": {("bad-value", ("Environment",))},
    }
    assert not [f for f in findings if f.address in (stack["untagged"], stack["location"])]
    assert (
        mine(audit_live(make_factory(aws.endpoint_url), REGIONS, POLICY, {"Project": ["nobody"]}), stack)
        == {}
    )
    # a key alone matches any value
    assert set(mine(audit_live(make_factory(aws.endpoint_url), REGIONS, POLICY, {"Project": []}), stack)) == {
        "fs",
        "ap",
    }


def test_a_tag_call_answering_500_makes_that_resource_undecidable(
    aws: EmbeddedAWS, stack: dict[str, str]
) -> None:
    factory = make_factory(aws.endpoint_url, failing={"datasync": "ListTagsForResource"})
    findings = audit_live(factory, ["us-east-1"], POLICY)
    [location] = [f for f in findings if f.address == stack["location"]]
    assert location.kind == "undecidable"
    assert "InternalFailure" in location.message and "not yet implemented" in location.message
    assert mine(findings, stack)["ap"] == {("bad-value", ("Environment",))}  # the rest is still audited


def test_a_listing_answering_500_makes_the_service_undecidable(
    aws: EmbeddedAWS, stack: dict[str, str]
) -> None:
    factory = make_factory(aws.endpoint_url, failing={"datasync": "ListLocations"})
    findings = audit_live(factory, ["us-east-1"], POLICY)
    [service] = [f for f in findings if f.address == "datasync:us-east-1"]
    assert service.kind == "undecidable" and "cannot list datasync" in service.message
    assert mine(findings, stack)["fs"] == {("missing", ("Name", "Environment"))}


def test_exemptions_by_arn_glob(aws: EmbeddedAWS, stack: dict[str, str]) -> None:
    policy = Policy(exempt=("arn:aws:s3:::audit-live-*", "arn:aws:elasticfilesystem:*"))
    found = mine(audit_live(make_factory(aws.endpoint_url), REGIONS, policy), stack)
    assert set(found) == {"location"}


def test_no_credentials_is_a_user_error(
    aws: EmbeddedAWS, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    def factory(service: str, region: str) -> Any:
        return boto3.session.Session().client(service, region_name=region, endpoint_url=aws.endpoint_url)

    with pytest.raises(MlinfraError, match="no AWS credentials"):
        audit_live(factory, ["us-east-1"], POLICY)


def test_unreachable_endpoint_is_a_user_error() -> None:
    factory = make_factory(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(MlinfraError, match="cannot reach"):
        audit_live(factory, ["us-east-1"], POLICY)
