"""The operation layer: a registered handler answers in the protocol the caller spoke (botocore's
CBOR, the Terraform provider's JSON), with AWS's error shape; everything else is moto's answer."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from pytest_mlinfra.emulator import EmbeddedAWS, operations
from pytest_mlinfra.emulator.operations import AwsError, Call

SIGNED = "AWS4-HMAC-SHA256 Credential=testing/20261205/eu-west-1/datasync/aws4_request, SignedHeaders=host"


@pytest.fixture
def agents_handler(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Call]]:
    """A throwaway handler for ListAgents (an operation the emulator does not own)."""
    seen: list[Call] = []

    def list_agents(call: Call) -> dict[str, Any]:
        seen.append(call)
        if call.params.get("NextToken") == "boom":
            raise AwsError("InvalidRequestException", "bad token", 400)
        return {
            "Agents": [{"AgentArn": "arn:aws:datasync:eu-west-1:123456789012:agent/agent-1", "Name": "a"}]
        }

    monkeypatch.setitem(operations._HANDLERS, ("datasync", "ListAgents"), list_agents)
    yield seen


def test_a_handler_answers_botocore_in_cbor(
    aws: EmbeddedAWS, client: Callable[[str], Any], agents_handler: list[Call]
) -> None:
    datasync = client("datasync")
    assert datasync.list_agents(MaxResults=5)["Agents"][0]["Name"] == "a"
    call = agents_handler[-1]
    assert (call.service, call.operation, call.params, call.region) == (
        "datasync", "ListAgents", {"MaxResults": 5}, "us-east-1"
    )  # fmt: skip
    with pytest.raises(ClientError) as raised:
        datasync.list_agents(NextToken="boom")
    assert raised.value.response["Error"] == {"Code": "InvalidRequestException", "Message": "bad token"}


def test_a_handler_answers_json_as_the_terraform_provider_sends_it(
    aws: EmbeddedAWS, agents_handler: list[Call]
) -> None:
    def post(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(
            aws.endpoint_url + "/",
            data=json.dumps(body).encode(),
            headers={
                "X-Amz-Target": "FmrsService.ListAgents",
                "Content-Type": "application/x-amz-json-1.1",
                "Authorization": SIGNED,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    assert post({}) == (
        200,
        {"Agents": [{"AgentArn": "arn:aws:datasync:eu-west-1:123456789012:agent/agent-1", "Name": "a"}]},
    )
    assert agents_handler[-1].region == "eu-west-1"
    assert post({"NextToken": "boom"}) == (400, {"__type": "InvalidRequestException", "message": "bad token"})


def test_operations_without_a_handler_are_motos(aws: EmbeddedAWS, client: Callable[[str], Any]) -> None:
    datasync = client("datasync")
    assert operations.handler_for("datasync", "ListLocations") is None
    bucket = "ops-layer-bucket"
    client("s3").create_bucket(Bucket=bucket)
    arn = datasync.create_location_s3(
        S3BucketArn=f"arn:aws:s3:::{bucket}",
        S3Config={"BucketAccessRoleArn": "arn:aws:iam::123456789012:role/r"},
    )["LocationArn"]
    assert arn in [location["LocationArn"] for location in datasync.list_locations()["Locations"]]


def test_a_handler_can_ask_moto_and_gets_its_errors_as_aws_errors(
    aws: EmbeddedAWS, client: Callable[[str], Any]
) -> None:
    datasync = client("datasync")
    with pytest.raises(ClientError) as raised:  # CreateTask asks moto, which refuses unknown locations
        datasync.create_task(
            SourceLocationArn="arn:aws:datasync:us-east-1:123456789012:location/loc-0",
            DestinationLocationArn="arn:aws:datasync:us-east-1:123456789012:location/loc-1",
        )
    assert raised.value.response["Error"]["Code"] == "InvalidRequestException"
    assert "not found" in raised.value.response["Error"]["Message"]
