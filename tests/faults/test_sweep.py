"""The tag sweep against a VPC function whose network interfaces outlive it (the embedded AWS with a
Lambda ENI release delay): security groups and subnets are retried with progress lines until the
ENIs are released, and past the sweep's limit it says what remains and what to do.

The emulator's ENI clock is driven by the test (released when the sweep says it waits), so nothing
here depends on how fast the machine is.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from pytest_mlinfra.emulator import EmbeddedAWS, lambda_eni
from pytest_mlinfra.settings import RUN_ID_TAG
from pytest_mlinfra.sweep import Sweep, _EndpointTarget

DELAY_S = 1800.0


class Clock:
    now = 5000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(lambda_eni, "_now", fake)
    return fake


@pytest.fixture
def aws(tmp_path: Path, clock: Clock) -> Iterator[EmbeddedAWS]:
    with EmbeddedAWS(state_dir=tmp_path / "aws", lambda_eni_release_s=DELAY_S) as emulator:
        yield emulator


def _zip() -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


def _deploy(aws: EmbeddedAWS, run_id: str) -> dict[str, Any]:
    """What a VPC stack of run ``run_id`` leaves when its state is lost: all tagged with the run id."""
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing")

    def client(service: str) -> Any:
        return session.client(service, endpoint_url=aws.endpoint_url, region_name="us-east-1")

    tags = [{"Key": RUN_ID_TAG, "Value": run_id}, {"Key": "Name", "Value": run_id}]

    def spec(kind: str) -> list[dict[str, Any]]:
        return [{"ResourceType": kind, "Tags": tags}]

    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.60.0.0/16", TagSpecifications=spec("vpc"))["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.60.1.0/24", TagSpecifications=spec("subnet"))
    group = ec2.create_security_group(
        GroupName=f"{run_id}-fn", Description="fn", VpcId=vpc, TagSpecifications=spec("security-group")
    )["GroupId"]
    role = client("iam").create_role(RoleName=f"{run_id}-fn", AssumeRolePolicyDocument="{}", Tags=tags)
    client("lambda").create_function(
        FunctionName=f"{run_id}-fn",
        Runtime="python3.11",
        Role=role["Role"]["Arn"],
        Handler="app.handler",
        Code={"ZipFile": _zip()},
        VpcConfig={"SubnetIds": [subnet["Subnet"]["SubnetId"]], "SecurityGroupIds": [group]},
        Tags={RUN_ID_TAG: run_id},
    )
    return {"group": group, "subnet": subnet["Subnet"]["SubnetId"], "vpc": vpc}


def test_sweep_waits_for_the_enis_with_progress_lines(aws: EmbeddedAWS, clock: Clock) -> None:
    made = _deploy(aws, "rsweep01")
    lines: list[str] = []

    def log(line: str) -> None:
        lines.append(line)
        if "waiting for" in line:  # AWS releases the ENIs while the sweep waits
            clock.now += DELAY_S + lambda_eni.AVAILABLE_S

    target = _EndpointTarget("local", aws.endpoint_url, "us-east-1")
    sweep = Sweep(target, "rsweep01", log=log, retry_s=0.05)
    deleted = sweep.run()
    assert [r.kind for r in deleted] == ["lambda-function", "security-group", "subnet", "vpc", "iam-role"]
    waiting = [line for line in lines if "waiting for" in line]
    assert len(waiting) == 1, lines
    assert f"security-group {made['group']}" in waiting[0] and "DependencyViolation" in waiting[0]
    assert "of 2700 s" in waiting[0], "the documented limit: 45 min"
    assert sweep.find() == []


def test_sweep_past_its_limit_says_what_remains(aws: EmbeddedAWS) -> None:
    made = _deploy(aws, "rsweep02")
    lines: list[str] = []
    target = _EndpointTarget("local", aws.endpoint_url, "us-east-1")
    sweep = Sweep(target, "rsweep02", log=lines.append, timeout_s=0.3, progress_s=0.1, retry_s=0.05)
    deleted = sweep.run()
    assert [r.kind for r in deleted] == ["lambda-function", "iam-role"]
    gave_up = [line for line in lines if "still in use after" in line]
    assert [line.split()[1] for line in gave_up] == [made["group"], made["subnet"], made["vpc"]], lines
    assert all(
        "DependencyViolation" in line and "run mlinfra reap rsweep02 again later" in line for line in gave_up
    )
    assert len([line for line in lines if "waiting for" in line]) >= 3, "progress while it waits"
    assert sorted(r.kind for r in sweep.find()) == ["security-group", "subnet", "vpc"]


def _clients(aws: EmbeddedAWS) -> Any:
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing")
    return lambda service: session.client(service, endpoint_url=aws.endpoint_url, region_name="us-east-1")


def test_sweep_finds_untagged_efs_children_through_the_file_system(aws: EmbeddedAWS) -> None:
    """The file system's tag is the only link: mount targets (AWS cannot tag them) and an access
    point created without tags are found by FileSystemId and deleted before the file system,
    then the subnets and the group their network interfaces held."""
    client = _clients(aws)
    ec2, efs = client("ec2"), client("efs")
    tags = [{"Key": RUN_ID_TAG, "Value": "rsweep03"}]
    vpc = ec2.create_vpc(CidrBlock="10.61.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": tags}])
    vpc_id = vpc["Vpc"]["VpcId"]
    group = ec2.create_security_group(
        GroupName="rsweep03",
        Description="efs",
        VpcId=vpc_id,
        TagSpecifications=[{"ResourceType": "security-group", "Tags": tags}],
    )["GroupId"]
    fs_id = efs.create_file_system(CreationToken="rsweep03", Tags=tags)["FileSystemId"]
    subnets = []
    for index in range(2):
        subnet = ec2.create_subnet(
            VpcId=vpc_id,
            CidrBlock=f"10.61.{index}.0/24",
            AvailabilityZone=f"us-east-1{'ab'[index]}",
            TagSpecifications=[{"ResourceType": "subnet", "Tags": tags}],
        )["Subnet"]["SubnetId"]
        subnets.append(subnet)
        efs.create_mount_target(FileSystemId=fs_id, SubnetId=subnet, SecurityGroups=[group])
    point = efs.create_access_point(FileSystemId=fs_id, RootDirectory={"Path": "/lambda"})["AccessPointId"]

    target = _EndpointTarget("local", aws.endpoint_url, "us-east-1")
    sweep = Sweep(target, "rsweep03", log=lambda _l: None, timeout_s=5, retry_s=0.05)
    found = [(r.kind, r.ident) for r in sweep.find()]
    assert ("efs-access-point", point) in found
    assert [kind for kind, _ in found if kind == "efs-mount-target"] == ["efs-mount-target"] * 2
    kinds = [kind for kind, _ in found]
    assert kinds.index("efs-mount-target") < kinds.index("efs-file-system") < kinds.index("subnet")
    deleted = [r.kind for r in sweep.run()]
    assert sorted(deleted) == sorted(kinds)
    assert efs.describe_file_systems()["FileSystems"] == []
    assert efs.describe_access_points()["AccessPoints"] == []
    assert not {s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]} & set(subnets)
    assert sweep.find() == []


def test_sweep_unlinks_groups_and_route_tables_and_finds_http_apis(aws: EmbeddedAWS) -> None:
    """A group another group's rule names, and a route table still associated with a subnet,
    cannot be deleted on AWS (DependencyViolation, however long one waits); an HTTP API is found by
    its own tags."""
    client = _clients(aws)
    ec2 = client("ec2")
    tags = [{"Key": RUN_ID_TAG, "Value": "rsweep04"}]

    def spec(kind: str) -> list[dict[str, Any]]:
        return [{"ResourceType": kind, "Tags": tags}]

    vpc = ec2.create_vpc(CidrBlock="10.62.0.0/16", TagSpecifications=spec("vpc"))["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.62.1.0/24", TagSpecifications=spec("subnet"))
    table = ec2.create_route_table(VpcId=vpc, TagSpecifications=spec("route-table"))["RouteTable"]
    ec2.associate_route_table(RouteTableId=table["RouteTableId"], SubnetId=subnet["Subnet"]["SubnetId"])
    # Named so that the referenced group sorts first: deleted first, it would be refused.
    source = ec2.create_security_group(
        GroupName="a-fn", Description="fn", VpcId=vpc, TagSpecifications=spec("security-group")
    )["GroupId"]
    sink = ec2.create_security_group(
        GroupName="b-efs", Description="efs", VpcId=vpc, TagSpecifications=spec("security-group")
    )["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=sink,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 2049, "ToPort": 2049, "UserIdGroupPairs": [{"GroupId": source}]}
        ],
    )
    with pytest.raises(ec2.exceptions.ClientError, match="DependencyViolation"):
        ec2.delete_security_group(GroupId=source)  # as AWS: referenced by the other group's rule
    api = client("apigatewayv2").create_api(
        Name="rsweep04", ProtocolType="HTTP", Tags={RUN_ID_TAG: "rsweep04"}
    )

    target = _EndpointTarget("local", aws.endpoint_url, "us-east-1")
    sweep = Sweep(target, "rsweep04", log=lambda _l: None, timeout_s=2, retry_s=0.05)
    assert ("http-api", api["ApiId"]) in [(r.kind, r.ident) for r in sweep.find()]
    deleted = sweep.run()
    assert sorted(r.kind for r in deleted) == [
        "http-api",
        "route-table",
        "security-group",
        "security-group",
        "subnet",
        "vpc",
    ]
    assert sweep.find() == []


def test_sweep_finds_a_bucket_killed_before_its_tags_by_the_run_prefix(aws: EmbeddedAWS) -> None:
    """CreateBucket takes no tags (PutBucketTagging follows): a run killed between the two leaves an
    untagged bucket, found by the run's name prefix; another run's bucket is left alone."""
    s3 = _clients(aws)("s3")
    s3.create_bucket(Bucket="mlinfra-rsweep05-models")
    s3.put_object(Bucket="mlinfra-rsweep05-models", Key="model.pt", Body=b"x")
    s3.create_bucket(Bucket="mlinfra-rsweep055-models")
    target = _EndpointTarget("local", aws.endpoint_url, "us-east-1")
    sweep = Sweep(target, "rsweep05", log=lambda _l: None)
    assert [(r.kind, r.ident) for r in sweep.run()] == [("s3-bucket", "mlinfra-rsweep05-models")]
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["mlinfra-rsweep055-models"]
