"""S3 default encryption and AWS-managed IAM policies through boto3, as an AWS account has them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .conftest import unique

SSE_S3 = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}
VPC_ACCESS = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"


def test_new_bucket_has_sse_s3_and_objects_report_it(client: Callable[[str], Any]) -> None:
    s3 = client("s3")
    bucket = unique("enc")
    s3.create_bucket(Bucket=bucket)
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules == [SSE_S3]
    s3.put_object(Bucket=bucket, Key="model.pt", Body=b"weights")
    assert s3.head_object(Bucket=bucket, Key="model.pt")["ServerSideEncryption"] == "AES256"


def test_deleting_bucket_encryption_falls_back_to_sse_s3(client: Callable[[str], Any]) -> None:
    s3 = client("s3")
    bucket = unique("enc")
    s3.create_bucket(Bucket=bucket)
    kms = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}, "BucketKeyEnabled": True}
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [kms]})
    assert s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"] == [kms]
    s3.delete_bucket_encryption(Bucket=bucket)
    assert s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"] == [SSE_S3]


def test_aws_managed_policy_by_arn_and_attach(client: Callable[[str], Any]) -> None:
    iam = client("iam")
    policy = iam.get_policy(PolicyArn=VPC_ACCESS)["Policy"]
    assert (policy["PolicyName"], policy["Path"], policy["IsAttachable"]) == (
        "AWSLambdaVPCAccessExecutionRole",
        "/service-role/",
        True,
    )
    document = iam.get_policy_version(PolicyArn=VPC_ACCESS, VersionId=policy["DefaultVersionId"])
    actions = json.dumps(document["PolicyVersion"]["Document"])
    assert "ec2:CreateNetworkInterface" in actions
    role = unique("vpc-fn")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument="{}")
    iam.attach_role_policy(RoleName=role, PolicyArn=VPC_ACCESS)
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert attached == [{"PolicyName": "AWSLambdaVPCAccessExecutionRole", "PolicyArn": VPC_ACCESS}]


def test_unknown_aws_policy_is_still_not_found(client: Callable[[str], Any]) -> None:
    iam = client("iam")
    try:
        iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/NoSuchPolicyAnywhere")
    except iam.exceptions.NoSuchEntityException:
        return
    raise AssertionError("an unknown managed policy must be NoSuchEntity")
