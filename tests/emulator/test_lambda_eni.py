"""VPC Lambda network interfaces through boto3, as AWS has them: created with the function, shared per
subnet and security groups, in use for the release delay after the last function using them is
gone (subnet and security group deletion refused meanwhile, in AWS's words), then released.

The emulator's ENI clock is advanced by the tests instead of sleeping through the delay.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from pytest_mlinfra.emulator import EmbeddedAWS, lambda_eni

from .conftest import REGION, unique

DELAY_S = 600.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="module")
def clock() -> Iterator[Clock]:
    fake = Clock()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lambda_eni, "_now", fake)
        yield fake


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory, clock: Clock) -> Iterator[EmbeddedAWS]:
    with EmbeddedAWS(state_dir=tmp_path_factory.mktemp("aws"), lambda_eni_release_s=DELAY_S) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def ec2(client: Callable[[str], Any]) -> Any:
    return client("ec2")


@pytest.fixture
def network(ec2: Any) -> dict[str, Any]:
    vpc = ec2.create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.50.{i}.0/24")["Subnet"]["SubnetId"] for i in range(3)
    ]
    group = ec2.create_security_group(GroupName=unique("fn"), Description="fn", VpcId=vpc)["GroupId"]
    return {"vpc": vpc, "subnets": subnets, "group": group}


@pytest.fixture(scope="module")
def vpc_function(client: Callable[[str], Any], probe_zip: bytes, role_arn: str) -> Callable[..., str]:
    def make(subnets: list[str], groups: list[str]) -> str:
        name = unique("vpc-fn")
        client("lambda").create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=role_arn,
            Handler="probe.handler",
            Code={"ZipFile": probe_zip},
            VpcConfig={"SubnetIds": subnets, "SecurityGroupIds": groups},
        )
        return name

    return make


def lambda_enis(ec2: Any, **filters: str) -> list[dict[str, Any]]:
    """What the AWS provider asks for before deleting a subnet or security group."""
    wanted = [{"Name": "description", "Values": ["AWS Lambda VPC ENI*"]}]
    wanted += [{"Name": key.replace("_", "-"), "Values": [value]} for key, value in filters.items()]
    return list(ec2.describe_network_interfaces(Filters=wanted)["NetworkInterfaces"])


def error_of(call: Callable[[], Any]) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


def test_a_vpc_function_gets_a_hyperplane_eni_per_subnet(
    client: Callable[[str], Any], ec2: Any, network: dict[str, Any], vpc_function: Callable[..., str]
) -> None:
    subnets, group = network["subnets"][:2], network["group"]
    name = vpc_function(subnets, [group])
    enis = lambda_enis(ec2, group_id=group)
    assert sorted(eni["SubnetId"] for eni in enis) == sorted(subnets)
    for eni in enis:
        assert eni["Description"].startswith(f"AWS Lambda VPC ENI-{name}-")
        assert (eni["InterfaceType"], eni["Status"], eni["RequesterManaged"]) == ("lambda", "in-use", False)
        assert [g["GroupId"] for g in eni["Groups"]] == [group]
        assert eni["VpcId"] == network["vpc"]
        attachment = eni["Attachment"]
        assert attachment["InstanceOwnerId"] == "amazon-aws" and attachment["Status"] == "attached"
        assert attachment["AttachmentId"].startswith("ela-attach-") and "InstanceId" not in attachment
    by_type = ec2.describe_network_interfaces(Filters=[{"Name": "interface-type", "Values": ["lambda"]}])
    assert {e["NetworkInterfaceId"] for e in enis} <= {
        e["NetworkInterfaceId"] for e in by_type["NetworkInterfaces"]
    }
    config = client("lambda").get_function_configuration(FunctionName=name)["VpcConfig"]
    assert config["VpcId"] == network["vpc"], "the subnets' VPC, not moto's fixed vpc-123abc"


def test_deleted_function_holds_subnet_and_group_until_its_enis_are_released(
    client: Callable[[str], Any],
    ec2: Any,
    clock: Clock,
    network: dict[str, Any],
    vpc_function: Callable[..., str],
) -> None:
    subnet, group = network["subnets"][0], network["group"]
    name = vpc_function([subnet], [group])
    [eni] = lambda_enis(ec2, subnet_id=subnet)
    client("lambda").delete_function(FunctionName=name)

    clock.advance(DELAY_S - 1)
    assert error_of(lambda: ec2.delete_subnet(SubnetId=subnet)) == (
        400,
        "DependencyViolation",
        f"The subnet '{subnet}' has dependencies and cannot be deleted.",
    )
    assert error_of(lambda: ec2.delete_security_group(GroupId=group)) == (
        400,
        "DependencyViolation",
        f"resource {group} has a dependent object",
    )
    attachment = eni["Attachment"]["AttachmentId"]
    assert error_of(lambda: ec2.detach_network_interface(AttachmentId=attachment))[1:] == (
        "OperationNotPermitted",
        "You are not allowed to manage 'ela-attach' attachments.",
    )
    eni_id = eni["NetworkInterfaceId"]
    assert error_of(lambda: ec2.delete_network_interface(NetworkInterfaceId=eni_id))[1] == (
        "InvalidNetworkInterface.InUse"
    )
    [still] = lambda_enis(ec2, subnet_id=subnet)
    assert still["Status"] == "in-use"

    clock.advance(1)
    [released] = lambda_enis(ec2, subnet_id=subnet)
    assert released["Status"] == "available" and "Attachment" not in released
    clock.advance(lambda_eni.AVAILABLE_S)
    assert lambda_enis(ec2, subnet_id=subnet) == [], "Lambda deletes the released ENI"
    ec2.delete_security_group(GroupId=group)
    ec2.delete_subnet(SubnetId=subnet)


def test_enis_are_shared_and_released_after_the_last_function(
    client: Callable[[str], Any],
    ec2: Any,
    clock: Clock,
    network: dict[str, Any],
    vpc_function: Callable[..., str],
) -> None:
    subnet, group = network["subnets"][0], network["group"]
    first = vpc_function([subnet], [group])
    second = vpc_function([subnet], [group])
    assert len(lambda_enis(ec2, subnet_id=subnet)) == 1, "same subnet and groups: one ENI"
    client("lambda").delete_function(FunctionName=first)
    clock.advance(DELAY_S + lambda_eni.AVAILABLE_S + 1)
    assert [e["Status"] for e in lambda_enis(ec2, subnet_id=subnet)] == ["in-use"], "the second still uses it"
    client("lambda").delete_function(FunctionName=second)
    clock.advance(DELAY_S + lambda_eni.AVAILABLE_S)
    assert lambda_enis(ec2, subnet_id=subnet) == []
    ec2.delete_subnet(SubnetId=subnet)


def test_moving_a_function_releases_the_enis_it_left(
    client: Callable[[str], Any],
    ec2: Any,
    clock: Clock,
    network: dict[str, Any],
    vpc_function: Callable[..., str],
) -> None:
    old, new = network["subnets"][1], network["subnets"][2]
    name = vpc_function([old], [network["group"]])
    client("lambda").update_function_configuration(
        FunctionName=name, VpcConfig={"SubnetIds": [new], "SecurityGroupIds": [network["group"]]}
    )
    assert [e["Status"] for e in lambda_enis(ec2, subnet_id=new)] == ["in-use"]
    assert error_of(lambda: ec2.delete_subnet(SubnetId=old))[1] == "DependencyViolation"
    clock.advance(DELAY_S + lambda_eni.AVAILABLE_S)
    ec2.delete_subnet(SubnetId=old)
    assert [e["Status"] for e in lambda_enis(ec2, subnet_id=new)] == ["in-use"]


@pytest.mark.parametrize("missing", ["subnet", "group"])
def test_unknown_subnet_or_group_is_refused_as_aws_does(
    client: Callable[[str], Any],
    network: dict[str, Any],
    probe_zip: bytes,
    role_arn: str,
    missing: str,
) -> None:
    subnets = ["subnet-0123456789abcdef0"] if missing == "subnet" else network["subnets"][:1]
    groups = ["sg-0123456789abcdef0"] if missing == "group" else [network["group"]]
    status, code, message = error_of(
        lambda: client("lambda").create_function(
            FunctionName=unique("bad-vpc"),
            Runtime="python3.11",
            Role=role_arn,
            Handler="probe.handler",
            Code={"ZipFile": probe_zip},
            VpcConfig={"SubnetIds": subnets, "SecurityGroupIds": groups},
        )
    )
    assert (status, code) == (400, "InvalidParameterValueException")
    wanted = "InvalidSubnetID.NotFound" if missing == "subnet" else "InvalidGroup.NotFound"
    assert wanted in message and (subnets[0] if missing == "subnet" else groups[0]) in message


def test_any_network_interface_holds_its_subnet_and_groups(ec2: Any, network: dict[str, Any]) -> None:
    subnet, group = network["subnets"][1], network["group"]
    eni = ec2.create_network_interface(SubnetId=subnet, Groups=[group])["NetworkInterface"]
    assert error_of(lambda: ec2.delete_subnet(SubnetId=subnet))[1] == "DependencyViolation"
    assert error_of(lambda: ec2.delete_security_group(GroupId=group))[1] == "DependencyViolation"
    ec2.delete_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"])
    ec2.delete_security_group(GroupId=group)
    ec2.delete_subnet(SubnetId=subnet)


def test_off_by_default_no_enis_and_nothing_held(
    aws: EmbeddedAWS, tmp_path_factory: pytest.TempPathFactory, probe_zip: bytes
) -> None:
    with EmbeddedAWS(state_dir=tmp_path_factory.mktemp("off")) as off:
        assert off.config.lambda_eni_release_s == 0
        session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing")
        ec2 = session.client("ec2", endpoint_url=off.endpoint_url, region_name=REGION)
        lam = session.client("lambda", endpoint_url=off.endpoint_url, region_name=REGION)
        iam = session.client("iam", endpoint_url=off.endpoint_url, region_name=REGION)
        vpc = ec2.create_vpc(CidrBlock="10.51.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.51.1.0/24")["Subnet"]["SubnetId"]
        group = ec2.create_security_group(GroupName=unique("off"), Description="off", VpcId=vpc)["GroupId"]
        role = iam.create_role(RoleName=unique("off"), AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        name = unique("off-fn")
        lam.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=role,
            Handler="probe.handler",
            Code={"ZipFile": probe_zip},
            VpcConfig={"SubnetIds": [subnet], "SecurityGroupIds": [group]},
        )
        assert lambda_enis(ec2, subnet_id=subnet) == []
        lam.delete_function(FunctionName=name)
        ec2.delete_security_group(GroupId=group)
        ec2.delete_subnet(SubnetId=subnet)


def test_a_bad_delay_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_mlinfra.errors import MlinfraError

    monkeypatch.setenv("MLINFRA_LAMBDA_ENI_RELEASE_S", "soon")
    with pytest.raises(MlinfraError, match="MLINFRA_LAMBDA_ENI_RELEASE_S=soon is not a number"):
        EmbeddedAWS()
    monkeypatch.delenv("MLINFRA_LAMBDA_ENI_RELEASE_S")
    with pytest.raises(MlinfraError, match="is not a number of seconds"):
        EmbeddedAWS(lambda_eni_release_s=-1)
