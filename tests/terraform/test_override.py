"""The provider override is generated from the provider's schema, not hand-written per stack."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.terraform.override import (
    OVERRIDE_FILE,
    PROVIDER_FILE,
    EmulatorEndpoint,
    ProviderSchema,
    aws_provider_aliases,
    write_override,
)

ENDPOINT = EmulatorEndpoint(url="http://127.0.0.1:4599", region="eu-west-1")


def _schema(*attributes: str) -> ProviderSchema:
    return ProviderSchema("9.0.0", frozenset(attributes), ("datasync", "efs", "lambda", "s3"))


def test_every_endpoint_and_only_known_flags(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('provider "aws" {\n  region = "us-east-1"\n}\n')
    path = write_override(tmp_path, _schema("s3_use_path_style", "skip_credentials_validation"), ENDPOINT)
    assert path.name == OVERRIDE_FILE
    (block,) = json.loads(path.read_text())["provider"]
    aws = block["aws"]
    assert aws["endpoints"] == {name: ENDPOINT.url for name in ("datasync", "efs", "lambda", "s3")}
    assert aws["s3_use_path_style"] is True and aws["skip_credentials_validation"] is True
    assert "s3_force_path_style" not in aws and "skip_get_ec2_platforms" not in aws
    assert (aws["region"], aws["access_key"], aws["secret_key"]) == ("eu-west-1", "test", "test")


def test_aliases_get_their_own_override(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        'provider "aws" {\n  region = "us-east-1"\n}\n'
        'provider "aws" {\n  alias  = "replica"\n  region = "eu-west-1"\n}\n'
    )
    assert aws_provider_aliases(tmp_path) == [None, "replica"]
    blocks = json.loads(write_override(tmp_path, _schema(), ENDPOINT).read_text())["provider"]
    assert [b["aws"].get("alias") for b in blocks] == [None, "replica"]


def test_stack_without_provider_block_gets_a_provider_file(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('resource "aws_s3_bucket" "b" {\n  bucket = "b"\n}\n')
    assert write_override(tmp_path, _schema(), ENDPOINT).name == PROVIDER_FILE


def test_unparsable_stack_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('provider "aws" {\n  region = \n')
    with pytest.raises(MlinfraError, match=r"cannot parse .*main\.tf"):
        aws_provider_aliases(tmp_path)


def test_schema_parsing_of_the_real_provider_layout() -> None:
    raw = {
        "provider_schemas": {
            "registry.terraform.io/hashicorp/aws": {
                "provider": {
                    "block": {
                        "attributes": {"region": {}, "s3_force_path_style": {}},
                        "block_types": {"endpoints": {"block": {"attributes": {"s3": {}, "sts": {}}}}},
                    }
                }
            }
        }
    }
    schema = ProviderSchema.from_schema_json("3.39.0", raw)
    assert schema.endpoint_names == ("s3", "sts")
    assert ProviderSchema.from_json(schema.to_json()) == schema
