"""GetResources with tag filters sees every taggable resource of an ML stack, EFS and DataSync included."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .conftest import ACCOUNT, REGION, unique


def test_get_resources_tag_filters_cover_the_stack(client: Callable[[str], Any], probe_zip: bytes) -> None:
    run_id = unique("run")
    tags = [{"Key": "mlinfra:run-id", "Value": run_id}, {"Key": "Project", "Value": "ner"}]
    tag_map = {t["Key"]: t["Value"] for t in tags}
    ec2, efs, ds, lam, iam, logs, s3 = (
        client(s) for s in ("ec2", "efs", "datasync", "lambda", "iam", "logs", "s3")
    )
    spec = [{"ResourceType": kind, "Tags": tags} for kind in ("vpc", "subnet", "security-group")]
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16", TagSpecifications=[spec[0]])["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", TagSpecifications=[spec[1]])["Subnet"]
    sg = ec2.create_security_group(
        GroupName=unique("sg"), Description="d", VpcId=vpc, TagSpecifications=[spec[2]]
    )["GroupId"]
    bucket = unique("bucket")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags})
    fs = efs.create_file_system(CreationToken=unique("fs"), Tags=tags)["FileSystemId"]
    efs.create_access_point(FileSystemId=fs, Tags=tags)
    efs.create_mount_target(FileSystemId=fs, SubnetId=subnet["SubnetId"], SecurityGroups=[sg])
    role = iam.create_role(RoleName=unique("role"), AssumeRolePolicyDocument="{}", Tags=tags)["Role"]["Arn"]
    lam.create_function(
        FunctionName=unique("fn"),
        Runtime="python3.11",
        Role=role,
        Handler="probe.echo",
        Code={"ZipFile": probe_zip},
        Tags=tag_map,
    )
    logs.create_log_group(logGroupName=f"/aws/lambda/{unique('fn')}", tags=tag_map)
    src = ds.create_location_s3(
        S3BucketArn=f"arn:aws:s3:::{bucket}", S3Config={"BucketAccessRoleArn": role}, Tags=tags
    )["LocationArn"]
    dst = ds.create_location_efs(
        EfsFilesystemArn=f"arn:aws:elasticfilesystem:{REGION}:{ACCOUNT}:file-system/{fs}",
        Ec2Config={
            "SubnetArn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/{subnet['SubnetId']}",
            "SecurityGroupArns": [f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/{sg}"],
        },
        Tags=tags,
    )["LocationArn"]
    ds.create_task(SourceLocationArn=src, DestinationLocationArn=dst, Tags=tags)

    found = client("resourcegroupstaggingapi").get_resources(
        TagFilters=[{"Key": "mlinfra:run-id", "Values": [run_id]}]
    )["ResourceTagMappingList"]

    kinds = sorted({_kind(item["ResourceARN"]) for item in found})
    assert kinds == sorted(
        {
            "s3",
            "ec2:vpc",
            "ec2:subnet",
            "ec2:security-group",
            "elasticfilesystem:file-system",
            "elasticfilesystem:access-point",
            "iam:role",
            "lambda:function",
            "logs:log-group",
            "datasync:location",
            "datasync:task",
        }
    )
    assert sum(_kind(item["ResourceARN"]) == "datasync:location" for item in found) == 2
    for item in found:
        assert {t["Key"]: t["Value"] for t in item["Tags"]}["Project"] == "ner"
    other = client("resourcegroupstaggingapi").get_resources(
        TagFilters=[{"Key": "mlinfra:run-id", "Values": ["someone-else"]}]
    )
    assert other["ResourceTagMappingList"] == []


def _kind(arn: str) -> str:
    service, rest = arn.split(":")[2], arn.split(":", 5)[5]
    if service == "s3":
        return "s3"
    if service == "logs":
        return "logs:log-group"
    return f"{service}:{rest.split('/')[0].split(':')[0]}"
