"""DataSync through boto3: EFS locations, tags, and executions that really copy S3 -> EFS storage."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from pytest_mlinfra.emulator import EmbeddedAWS

from .conftest import ACCOUNT, REGION, unique

ROLE = f"arn:aws:iam::{ACCOUNT}:role/datasync"
EC2_CONFIG: dict[str, Any] = {}  # filled by the network fixture: a real subnet and security group


@pytest.fixture(scope="module", autouse=True)
def network(client: Callable[[str], Any]) -> dict[str, Any]:
    """A VPC, a subnet (the one DataSync locations use) and a security group, once per module."""
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24", AvailabilityZone=f"{REGION}a")["Subnet"]
    other = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.2.0/24", AvailabilityZone=f"{REGION}b")["Subnet"]
    sg = ec2.create_security_group(GroupName=unique("sg"), Description="efs", VpcId=vpc)["GroupId"]
    EC2_CONFIG.update(
        SubnetArn=f"arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/{subnet['SubnetId']}",
        SecurityGroupArns=[f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/{sg}"],
    )
    return {"subnet_id": subnet["SubnetId"], "other_subnet_id": other["SubnetId"], "sg": sg}


def _bucket(client: Callable[[str], Any]) -> str:
    name = unique("models")
    client("s3").create_bucket(Bucket=name)
    return name


def _file_system(client: Callable[[str], Any], mount_target: bool = True) -> str:
    """A file system with a mount target in the locations' subnet (DataSync needs one in its zone)."""
    efs = client("efs")
    fs = str(efs.create_file_system(CreationToken=unique("fs"))["FileSystemId"])
    if mount_target:
        subnet = EC2_CONFIG["SubnetArn"].rsplit("/", 1)[-1]
        sg = EC2_CONFIG["SecurityGroupArns"][0].rsplit("/", 1)[-1]
        efs.create_mount_target(FileSystemId=fs, SubnetId=subnet, SecurityGroups=[sg])
    return fs


def _task(client: Callable[[str], Any], bucket: str, fs: str, src_sub: str, dst_sub: str, **kw: Any) -> str:
    ds = client("datasync")
    src = ds.create_location_s3(
        S3BucketArn=f"arn:aws:s3:::{bucket}", Subdirectory=src_sub, S3Config={"BucketAccessRoleArn": ROLE}
    )["LocationArn"]
    dst = ds.create_location_efs(
        EfsFilesystemArn=f"arn:aws:elasticfilesystem:{REGION}:{ACCOUNT}:file-system/{fs}",
        Ec2Config=EC2_CONFIG,
        Subdirectory=dst_sub,
    )["LocationArn"]
    return str(ds.create_task(SourceLocationArn=src, DestinationLocationArn=dst, **kw)["TaskArn"])


def _run(client: Callable[[str], Any], task_arn: str, **kw: Any) -> tuple[dict[str, Any], list[str]]:
    ds = client("datasync")
    arn = ds.start_task_execution(TaskArn=task_arn, **kw)["TaskExecutionArn"]
    seen: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        described = ds.describe_task_execution(TaskExecutionArn=arn)
        if not seen or seen[-1] != described["Status"]:
            seen.append(described["Status"])
        if described["Status"] in ("SUCCESS", "ERROR"):
            return described, seen
        time.sleep(0.02)
    raise AssertionError(f"execution did not finish: {seen}")


def test_copies_10mb_into_efs_storage_with_matching_sha256(
    aws: EmbeddedAWS, client: Callable[[str], Any]
) -> None:
    bucket, fs = _bucket(client), _file_system(client)
    data = os.urandom(10 * 1024 * 1024)
    client("s3").put_object(Bucket=bucket, Key="ner/v1/model.pt", Body=data)
    task = _task(client, bucket, fs, "/ner/v1", "/")

    described, seen = _run(client, task)

    assert described["Status"] == "SUCCESS", described.get("Result")
    copied = aws.efs_storage(fs) / "model.pt"
    assert hashlib.sha256(copied.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()
    assert described["BytesTransferred"] == described["EstimatedBytesToTransfer"] == len(data)
    assert described["FilesTransferred"] == described["EstimatedFilesToTransfer"] == 1
    assert described["FilesVerified"] == 1
    assert described["Result"]["VerifyStatus"] == "SUCCESS"
    # the status moved through the phases over time, not in one step
    assert seen[0] in ("QUEUED", "LAUNCHING") and len(seen) >= 3
    assert client("datasync").describe_task(TaskArn=task)["Status"] == "AVAILABLE"


def test_respects_both_subdirectories(aws: EmbeddedAWS, client: Callable[[str], Any]) -> None:
    bucket, fs = _bucket(client), _file_system(client)
    s3 = client("s3")
    s3.put_object(Bucket=bucket, Key="models/ner/model.pt", Body=b"weights")
    s3.put_object(Bucket=bucket, Key="models/ner/vocab/words.txt", Body=b"a\nb\n")
    s3.put_object(Bucket=bucket, Key="other/skip.txt", Body=b"not me")
    task = _task(client, bucket, fs, "models/ner/", "/shared/ner", Options={"VerifyMode": "NONE"})

    described, _ = _run(client, task)

    root = aws.efs_storage(fs)
    assert described["Status"] == "SUCCESS"
    assert (root / "shared/ner/model.pt").read_bytes() == b"weights"
    assert (root / "shared/ner/vocab/words.txt").read_bytes() == b"a\nb\n"
    assert not list(root.rglob("skip.txt"))
    assert described["FilesTransferred"] == 2 and described["FilesVerified"] == 0  # VerifyMode NONE
    assert described["Options"]["VerifyMode"] == "NONE"


@pytest.mark.parametrize("missing", ["prefix", "bucket"])
def test_missing_source_ends_in_error_with_reason(client: Callable[[str], Any], missing: str) -> None:
    bucket, fs = _bucket(client), _file_system(client)
    client("s3").put_object(Bucket=bucket, Key="elsewhere/x", Body=b"x")
    task = _task(client, bucket, fs, "/models", "/")
    if missing == "bucket":
        client("s3").delete_object(Bucket=bucket, Key="elsewhere/x")
        client("s3").delete_bucket(Bucket=bucket)

    described, _ = _run(client, task)

    assert described["Status"] == "ERROR"
    assert described["Result"]["ErrorCode"] == (
        "SourceNotFound" if missing == "prefix" else "S3BucketNotFound"
    )
    assert bucket in described["Result"]["ErrorDetail"]


def test_tags_on_locations_and_tasks(client: Callable[[str], Any]) -> None:
    bucket, fs = _bucket(client), _file_system(client)
    ds = client("datasync")
    efs_location = ds.create_location_efs(
        EfsFilesystemArn=f"arn:aws:elasticfilesystem:{REGION}:{ACCOUNT}:file-system/{fs}",
        Ec2Config=EC2_CONFIG,
        Tags=[{"Key": "Project", "Value": "ner"}],
    )["LocationArn"]
    task = _task(client, bucket, fs, "/", "/", Tags=[{"Key": "Owner", "Value": "ml"}])
    s3_location = ds.describe_task(TaskArn=task)["SourceLocationArn"]

    assert f":{ACCOUNT}:" in efs_location and f":{ACCOUNT}:" in task  # the caller's account
    assert ds.list_tags_for_resource(ResourceArn=efs_location)["Tags"] == [{"Key": "Project", "Value": "ner"}]
    assert ds.list_tags_for_resource(ResourceArn=task)["Tags"] == [{"Key": "Owner", "Value": "ml"}]
    for arn in (s3_location, task):
        ds.tag_resource(ResourceArn=arn, Tags=[{"Key": "Environment", "Value": "test"}])
    ds.untag_resource(ResourceArn=task, Keys=["Owner"])
    assert ds.list_tags_for_resource(ResourceArn=task)["Tags"] == [{"Key": "Environment", "Value": "test"}]
    assert ds.list_tags_for_resource(ResourceArn=s3_location)["Tags"] == [
        {"Key": "Environment", "Value": "test"}
    ]
    with pytest.raises(ClientError, match="InvalidRequestException"):
        ds.list_tags_for_resource(ResourceArn=efs_location + "0")


def test_efs_location_round_trip_and_task_defaults(client: Callable[[str], Any]) -> None:
    fs = _file_system(client)
    ds = client("datasync")
    arn = ds.create_location_efs(
        EfsFilesystemArn=f"arn:aws:elasticfilesystem:{REGION}:{ACCOUNT}:file-system/{fs}",
        Ec2Config=EC2_CONFIG,
        Subdirectory="data",
    )["LocationArn"]
    described = ds.describe_location_efs(LocationArn=arn)
    assert described["LocationUri"] == f"efs://{REGION}.{fs}/data/"
    assert described["Ec2Config"] == EC2_CONFIG
    assert arn in [loc["LocationArn"] for loc in ds.list_locations()["Locations"]]
    with pytest.raises(ClientError, match="InvalidRequestException"):
        ds.create_location_efs(
            EfsFilesystemArn=f"arn:aws:elasticfilesystem:{REGION}:{ACCOUNT}:file-system/fs-00000000",
            Ec2Config=EC2_CONFIG,
        )
    ds.delete_location(LocationArn=arn)
    assert arn not in [loc["LocationArn"] for loc in ds.list_locations()["Locations"]]


def test_describe_task_returns_what_terraform_reads(client: Callable[[str], Any]) -> None:
    task = _task(client, _bucket(client), _file_system(client), "/", "/", Name="sync")
    described = client("datasync").describe_task(TaskArn=task)
    assert described["Options"]["VerifyMode"] == "POINT_IN_TIME_CONSISTENT"
    assert described["Options"]["BytesPerSecond"] == -1
    assert described["Name"] == "sync" and described["Status"] == "AVAILABLE"
    client("datasync").update_task(TaskArn=task, Options={"VerifyMode": "ONLY_FILES_TRANSFERRED"})
    described = client("datasync").describe_task(TaskArn=task)
    assert described["Options"]["VerifyMode"] == "ONLY_FILES_TRANSFERRED" and described["Name"] == "sync"


def test_include_and_exclude_filters_select_what_is_copied(
    aws: EmbeddedAWS, client: Callable[[str], Any]
) -> None:
    bucket, fs = _bucket(client), _file_system(client)
    s3 = client("s3")
    for key in ("m/model.pt", "m/vocab/words.txt", "m/vocab/words.tmp", "m/logs/run.txt", "m/README"):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    task = _task(
        client,
        bucket,
        fs,
        "/m",
        "/",
        Includes=[{"FilterType": "SIMPLE_PATTERN", "Value": "/vocab/|*.pt|/logs"}],
        Excludes=[{"FilterType": "SIMPLE_PATTERN", "Value": "*.tmp|/logs"}],
    )
    assert client("datasync").describe_task(TaskArn=task)["Includes"][0]["Value"] == "/vocab/|*.pt|/logs"

    described, _ = _run(client, task)

    root = aws.efs_storage(fs)
    copied = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert described["Status"] == "SUCCESS", described.get("Result")
    assert copied == ["model.pt", "vocab/words.txt"]  # exclude wins over include; README not included
    assert described["FilesTransferred"] == 2 and described["Excludes"][0]["Value"] == "*.tmp|/logs"

    # filters given to StartTaskExecution replace the task's for that run
    described, _ = _run(client, task, Includes=[{"FilterType": "SIMPLE_PATTERN", "Value": "/README"}])
    assert described["FilesTransferred"] == 1 and (root / "README").read_bytes() == b"m/README"


def test_transfer_mode_changed_skips_unchanged_files(aws: EmbeddedAWS, client: Callable[[str], Any]) -> None:
    bucket, fs = _bucket(client), _file_system(client)
    s3 = client("s3")
    s3.put_object(Bucket=bucket, Key="m/model.pt", Body=b"weights-v1")
    s3.put_object(Bucket=bucket, Key="m/labels.txt", Body=b"Celebrity")
    task = _task(client, bucket, fs, "/m", "/")

    first, _ = _run(client, task)
    second, _ = _run(client, task)
    s3.put_object(Bucket=bucket, Key="m/model.pt", Body=b"weights-v2!")
    third, _ = _run(client, task)
    everything, _ = _run(client, task, OverrideOptions={"TransferMode": "ALL"})

    assert [r["FilesTransferred"] for r in (first, second, third, everything)] == [2, 0, 1, 2]
    assert second["Status"] == "SUCCESS" and second["EstimatedBytesToTransfer"] == 0
    assert second["FilesVerified"] == 2  # POINT_IN_TIME_CONSISTENT verifies the whole selection
    assert (aws.efs_storage(fs) / "model.pt").read_bytes() == b"weights-v2!"


def test_efs_location_needs_a_mount_target_in_the_subnets_zone(
    client: Callable[[str], Any], network: dict[str, Any]
) -> None:
    ds, efs = client("datasync"), client("efs")
    fs = _file_system(client, mount_target=False)
    arn = f"arn:aws:elasticfilesystem:{REGION}:{ACCOUNT}:file-system/{fs}"
    with pytest.raises(ClientError) as caught:
        ds.create_location_efs(EfsFilesystemArn=arn, Ec2Config=EC2_CONFIG)
    error = caught.value.response["Error"]
    assert error["Code"] == "InvalidRequestException"
    assert f"{fs} has no mount target in Availability Zone {REGION}a" in error["Message"]

    # a mount target in another zone does not help; one in the subnet's zone does
    efs.create_mount_target(FileSystemId=fs, SubnetId=network["other_subnet_id"])
    with pytest.raises(ClientError, match="no mount target"):
        ds.create_location_efs(EfsFilesystemArn=arn, Ec2Config=EC2_CONFIG)
    efs.create_mount_target(FileSystemId=fs, SubnetId=network["subnet_id"])
    assert ds.create_location_efs(EfsFilesystemArn=arn, Ec2Config=EC2_CONFIG)["LocationArn"]


def test_efs_size_in_bytes_meters_what_is_stored(aws: EmbeddedAWS, client: Callable[[str], Any]) -> None:
    efs = client("efs")
    fs = _file_system(client, mount_target=False)
    assert efs.describe_file_systems(FileSystemId=fs)["FileSystems"][0]["SizeInBytes"]["Value"] == 0
    root = aws.efs_storage(fs)
    (root / "models").mkdir()
    (root / "models" / "model.pt").write_bytes(b"x" * 10_000)  # 3 blocks of 4 KiB
    size = efs.describe_file_systems(FileSystemId=fs)["FileSystems"][0]["SizeInBytes"]
    assert size["Value"] == size["ValueInStandard"] == 4096 + 3 * 4096
