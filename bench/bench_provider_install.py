"""Does ``auto`` provider installation cost anything? ``terraform init`` of the bundled stack, timed.

Each round prepares a fresh run dir of ``fixtures_tf`` and runs :meth:`Stack.init` (what a run does:
read the stack's provider constraints, write the CLI config, ``terraform init`` from the mirrors)
with a warm plugin cache, as every run after a machine's first has it. Reports the median and the
minimum over the rounds; compare two checkouts by running this in each (``--label``) on the same
machine, back to back. Writes ``bench/results/bench_provider_install.json``.

    python bench/bench_provider_install.py [--rounds 8] [--label after]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from pytest_mlinfra.settings import bundled_stack
from pytest_mlinfra.terraform.stack import Stack
from pytest_mlinfra.terraform.toolchain import Toolchain, find_terraform

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--label", default="current")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlinfra-bench-") as tmp:
        toolchain = Toolchain(find_terraform(), root=Path(tmp) / "cache")
        seconds = []
        for n in range(args.rounds + 1):  # round 0 fills the plugin cache and is not counted
            stack = Stack(bundled_stack(), Path(tmp) / f"run{n}", toolchain, variables={})
            stack.prepare()
            started = time.perf_counter()
            stack.init()
            if n:
                seconds.append(time.perf_counter() - started)
    result = {
        "label": args.label,
        "terraform": toolchain.describe(),
        "median_s": statistics.median(seconds),
        "min_s": min(seconds),
        "rounds": seconds,
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "bench_provider_install.json"
    previous = json.loads(out.read_text()) if out.exists() else {}
    previous[args.label] = result
    out.write_text(json.dumps(previous, indent=2) + "\n")


if __name__ == "__main__":
    main()
