"""Point a user's stack at an emulator without editing it: a generated provider override file.

Like LocalStack's ``tflocal``, but the endpoint list and the provider flags are read from the
installed provider's own schema (``terraform providers schema -json``) rather than hand-written, so
every service the provider knows is redirected and flags the provider version lacks are never sent
(``s3_force_path_style`` on 3.x, ``s3_use_path_style`` on 4.x+, ``skip_get_ec2_platforms`` before 5.x).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.terraform.hcl import blocks

OVERRIDE_FILE = "zz_mlinfra_override.tf.json"
PROVIDER_FILE = "zz_mlinfra_provider.tf.json"

# Provider flags an emulator needs; only those present in the provider's schema are written. The
# account id is not skipped: the provider asks the emulator's STS, as it asks AWS, so ARNs it builds
# (an EFS file system's, an HTTP API's execution_arn) carry the account and re-plan clean.
_EMULATOR_FLAGS: dict[str, object] = {
    "s3_force_path_style": True,
    "s3_use_path_style": True,
    "skip_credentials_validation": True,
    "skip_metadata_api_check": True,
    "skip_get_ec2_platforms": True,
    "skip_region_validation": True,
    "max_retries": 3,
}


@dataclass(frozen=True)
class EmulatorEndpoint:
    """Where the emulator listens and the fake credentials it accepts."""

    url: str
    region: str
    access_key: str = "test"
    secret_key: str = "test"


@dataclass(frozen=True)
class ProviderSchema:
    """The parts of the AWS provider's configuration schema the override needs."""

    version: str
    attributes: frozenset[str]
    endpoint_names: tuple[str, ...]

    @classmethod
    def from_schema_json(cls, version: str, schema: dict[str, Any]) -> ProviderSchema:
        try:
            block = schema["provider_schemas"]["registry.terraform.io/hashicorp/aws"]["provider"]["block"]
        except KeyError:
            raise MlinfraError(
                "the Terraform provider schema has no hashicorp/aws provider",
                "declare hashicorp/aws in the stack's required_providers",
            ) from None
        endpoints = block.get("block_types", {}).get("endpoints", {}).get("block", {}).get("attributes", {})
        return cls(version, frozenset(block.get("attributes", {})), tuple(sorted(endpoints)))

    def to_json(self) -> str:
        return json.dumps(
            {"version": self.version, "attributes": sorted(self.attributes), "endpoints": self.endpoint_names}
        )

    @classmethod
    def from_json(cls, text: str) -> ProviderSchema:
        data = json.loads(text)
        return cls(data["version"], frozenset(data["attributes"]), tuple(data["endpoints"]))


def aws_provider_aliases(stack_dir: Path) -> list[str | None]:
    """The aliases of the stack's ``provider "aws"`` blocks (``None`` = the default one)."""
    aliases: list[str | None] = []
    for provider_block in blocks(stack_dir, "provider"):
        for name, body in provider_block.items():
            if name.strip('"') == "aws":
                alias = body.get("alias") if isinstance(body, dict) else None
                aliases.append(alias.strip('"') if isinstance(alias, str) else None)
    return aliases


def provider_block(schema: ProviderSchema, endpoint: EmulatorEndpoint, alias: str | None) -> dict[str, Any]:
    """One ``provider "aws"`` body pointing every service of ``schema`` at ``endpoint``."""
    body: dict[str, Any] = {
        "region": endpoint.region,
        "access_key": endpoint.access_key,
        "secret_key": endpoint.secret_key,
    }
    body.update({flag: value for flag, value in _EMULATOR_FLAGS.items() if flag in schema.attributes})
    body["endpoints"] = {name: endpoint.url for name in schema.endpoint_names}
    if alias:
        body["alias"] = alias
    return body


def write_override(stack_dir: Path, schema: ProviderSchema, endpoint: EmulatorEndpoint) -> Path:
    """Write the override (or, for a stack without a ``provider "aws"`` block, a provider file)."""
    aliases = aws_provider_aliases(stack_dir)
    name = OVERRIDE_FILE if aliases else PROVIDER_FILE
    blocks = [{"aws": provider_block(schema, endpoint, alias)} for alias in (aliases or [None])]
    path = stack_dir / name
    path.write_text(json.dumps({"provider": blocks}, indent=2) + "\n")
    return path
