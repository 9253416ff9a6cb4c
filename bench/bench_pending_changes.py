"""``Stack.pending_changes()`` on an applied stack: ``plan -json`` (now) against ``plan -out`` +
``show -json`` (before), alternated on the same stack and emulator, hashicorp/aws 5.100.0.

Why: every drift check ran two Terraform commands that each start the provider (5.x spends 2-3 s
validating its schema per start). Prints the median seconds of each way, their ratio, and that both
found the same addresses. Writes ``bench/results/bench_pending_changes.json``.

    python bench/bench_pending_changes.py [--rounds 3] [--mirror /opt/tf-plugins]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
STACK = ROOT / "tests" / "stacks" / "network"


def main() -> None:
    from pytest_mlinfra.emulator import EmbeddedAWS
    from pytest_mlinfra.terraform.override import EmulatorEndpoint
    from pytest_mlinfra.terraform.stack import Stack
    from pytest_mlinfra.terraform.toolchain import Toolchain, find_terraform

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mirror", default="/opt/tf-plugins")
    args = parser.parse_args()
    toolchain = Toolchain(find_terraform(), use_mirror=False, provider_mirrors=(args.mirror,))
    with tempfile.TemporaryDirectory() as tmp, EmbeddedAWS(state_dir=Path(tmp) / "aws") as aws:
        stack = Stack(
            source=STACK,
            workdir=Path(tmp) / "run",
            toolchain=toolchain,
            variables={"run_id": "bench", "name_prefix": "bench-pending"},
            endpoint=EmulatorEndpoint(aws.endpoint_url, "us-east-1"),
        )
        stack.prepare()
        stack.init()
        stack.apply()
        seconds: dict[str, list[float]] = {"plan -json": [], "plan -out + show -json": []}
        found: dict[str, list[str]] = {}
        try:
            for _ in range(args.rounds):
                started = time.perf_counter()
                found["plan -json"] = stack.pending_changes()
                seconds["plan -json"].append(time.perf_counter() - started)
                started = time.perf_counter()
                plan = stack._tf(None).plan(output=True)
                found["plan -out + show -json"] = sorted(
                    address
                    for address, change in plan.resource_changes.items()
                    if change["change"]["actions"] not in (["no-op"], ["read"])
                )
                seconds["plan -out + show -json"].append(time.perf_counter() - started)
        finally:
            stack.destroy()
    medians = {way: statistics.median(values) for way, values in seconds.items()}
    result = {
        "stack": str(STACK.relative_to(ROOT)),
        "provider": "hashicorp/aws 5.100.0",
        "rounds": args.rounds,
        "seconds": seconds,
        "median_s": medians,
        "ratio_new_over_old": medians["plan -json"] / medians["plan -out + show -json"],
        "same_addresses": found["plan -json"] == found["plan -out + show -json"],
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_pending_changes.json").write_text(json.dumps(result, indent=2) + "\n")
    for way, median in medians.items():
        print(f"{way:>24}: median {median:.2f} s over {args.rounds}")
    ratio, same = result["ratio_new_over_old"], result["same_addresses"]
    print(f"ratio (plan -json / before): {ratio:.2f}; same addresses: {same}")


if __name__ == "__main__":
    main()
