"""Fixtures for the emulator tests: one embedded AWS per module, boto3 clients, the probe handler zip."""

from __future__ import annotations

import io
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from pytest_mlinfra.emulator import EmbeddedAWS

HANDLERS = Path(__file__).parent / "handlers"
ACCOUNT = "123456789012"
REGION = "us-east-1"


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedAWS]:
    with EmbeddedAWS(state_dir=tmp_path_factory.mktemp("aws")) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def client(aws: EmbeddedAWS) -> Callable[[str], Any]:
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing")

    def make(service: str) -> Any:
        return session.client(service, endpoint_url=aws.endpoint_url, region_name=REGION)

    return make


@pytest.fixture(scope="module")
def probe_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(HANDLERS / "probe.py", "probe.py")
    return buffer.getvalue()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def role_arn(client: Callable[[str], Any]) -> str:
    role = client("iam").create_role(RoleName=unique("lambda-role"), AssumeRolePolicyDocument="{}")
    return str(role["Role"]["Arn"])


@pytest.fixture(scope="module")
def access_point(client: Callable[[str], Any]) -> dict[str, Any]:
    efs = client("efs")
    file_system_id = efs.create_file_system(CreationToken=unique("fs"))["FileSystemId"]
    access_point = efs.create_access_point(
        FileSystemId=file_system_id,
        PosixUser={"Uid": 1000, "Gid": 1000},
        RootDirectory={
            "Path": "/lambda",
            "CreationInfo": {"OwnerUid": 1000, "OwnerGid": 1000, "Permissions": "750"},
        },
    )
    return {"file_system_id": file_system_id, **access_point}


@pytest.fixture(scope="module")
def make_function(
    client: Callable[[str], Any], probe_zip: bytes, role_arn: str, access_point: dict[str, Any]
) -> Callable[..., str]:
    def make(handler: str, *, mount: bool = False, **extra: Any) -> str:
        name = unique(handler.replace("_", "-"))
        if mount:
            extra["FileSystemConfigs"] = [
                {"Arn": access_point["AccessPointArn"], "LocalMountPath": "/mnt/shared-storage"}
            ]
        client("lambda").create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=role_arn,
            Handler=f"probe.{handler}",
            Code={"ZipFile": probe_zip},
            Timeout=extra.pop("Timeout", 5),
            MemorySize=extra.pop("MemorySize", 256),
            **extra,
        )
        return name

    return make
