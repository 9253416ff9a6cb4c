"""Which resource types can carry tags.

Terraform's provider schema is the authority: a resource type is taggable iff its schema has a
``tags`` attribute. When no schema is at hand we use a table generated once from the real
hashicorp/aws 5.100.0 schema, plus the types only 3.39.0 still has (``scripts/gen_taggable_table.py``),
and shipped with the package, so the audit works offline and without Terraform.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from pytest_mlinfra.errors import MlinfraError

TABLE_NAME = "taggable-aws.json"


@dataclass(frozen=True)
class Taggable:
    """Known resource types, split by whether they take ``tags``; ``source`` says where that came from."""

    taggable: frozenset[str]
    known: frozenset[str]
    source: str

    def is_taggable(self, resource_type: str) -> bool | None:
        """True/False when the type is known, None when this table has never heard of it."""
        if resource_type in self.taggable:
            return True
        if resource_type in self.known:
            return False
        return None


def from_schema(schema_json: dict[str, Any]) -> Taggable:
    """Read ``terraform providers schema -json`` output (all providers in it)."""
    providers = schema_json.get("provider_schemas") if isinstance(schema_json, dict) else None
    if not isinstance(providers, dict):
        raise MlinfraError(
            "the schema JSON has no provider_schemas",
            "give the output of `terraform providers schema -json`",
        )
    taggable: set[str] = set()
    known: set[str] = set()
    for name, provider in providers.items():
        schemas = provider.get("resource_schemas") if isinstance(provider, dict) else None
        if not isinstance(schemas, dict | None):
            raise _not_schema(f"provider_schemas.{name}.resource_schemas is not an object")
        for rtype, rschema in (schemas or {}).items():
            block = rschema.get("block") if isinstance(rschema, dict) else None
            attributes = block.get("attributes") if isinstance(block, dict) else None
            if not isinstance(attributes, dict | None):
                raise _not_schema(f"{rtype}'s block.attributes is not an object")
            known.add(rtype)
            if "tags" in (attributes or {}):
                taggable.add(rtype)
    return Taggable(frozenset(taggable), frozenset(known), "the provider schema")


def _not_schema(detail: str) -> MlinfraError:
    return MlinfraError(
        f"the schema JSON is not a provider schema ({detail})",
        "give the output of `terraform providers schema -json`",
    )


def load_taggable(schema_json: dict[str, Any] | None = None) -> Taggable:
    """From a provider schema when given, else from the table shipped with the package."""
    if schema_json is not None:
        return from_schema(schema_json)
    return _shipped()


@cache
def _shipped() -> Taggable:
    text = resources.files("pytest_mlinfra.audit").joinpath("data", TABLE_NAME).read_text("utf-8")
    table = json.loads(text)
    taggable = frozenset(table["taggable"])
    source = f"the shipped {table['provider']} {table['version']} table"
    return Taggable(taggable, taggable | frozenset(table["not_taggable"]), source)


def schema_from_terraform(
    workdir: Path, timeout_s: float = 120.0, terraform: str | None = None
) -> dict[str, Any]:
    """``terraform providers schema -json`` in an initialised directory: the user's own providers.

    Runs ``terraform`` (the one on PATH, or ``terraform`` given) as the user would, so any provider
    version the stack was initialised with answers; without a binary, the embedded core
    (``python -m pytest_mlinfra.terraform.embedded``). The caller decides what to do when this fails
    (the audit falls back to the shipped table and says so).
    """
    binary = terraform or shutil.which("terraform")
    cmd = [binary] if binary else [sys.executable, "-m", "pytest_mlinfra.terraform.embedded"]
    env = dict(os.environ, CHECKPOINT_DISABLE="1", TF_IN_AUTOMATION="1", TF_INPUT="0")
    with tempfile.TemporaryDirectory(prefix="mlinfra-schema-") as tmp:
        if "TF_CLI_CONFIG_FILE" not in env and not (Path.home() / ".terraformrc").is_file():
            (Path(tmp) / "cli.tfrc").write_text("", "utf-8")  # no warning about a missing ~/.terraformrc
            env["TF_CLI_CONFIG_FILE"] = str(Path(tmp) / "cli.tfrc")
        try:
            proc = subprocess.run(
                [*cmd, f"-chdir={workdir}", "providers", "schema", "-json"],
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise MlinfraError(
                f"cannot run Terraform for the provider schema ({exc})", "pass --schema"
            ) from None
    if proc.returncode != 0:
        lines = [
            re.sub(r"\x1b\[[0-9;]*m", "", line).strip(" \u2502\u2577\u2575")
            for line in proc.stderr.splitlines()
        ]
        errors = [line for line in lines if line.startswith("Error:")]
        first = errors[0] if errors else next((line for line in lines if line), "no output")
        raise MlinfraError(f"terraform providers schema failed in {workdir}: {first}", "pass --schema")
    try:
        result: dict[str, Any] = json.loads(proc.stdout)
    except ValueError:
        raise MlinfraError(
            f"terraform providers schema in {workdir} printed no JSON", "pass --schema"
        ) from None
    return result
