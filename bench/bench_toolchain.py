"""Time of init + apply + destroy of the small stack: first run (cold plugin cache) vs second run.

The first run starts from an empty cache dir, so ``init`` installs hashicorp/aws from the offline
mirror into the plugin cache; the second run reuses the cache. The ratio second/first is the figure
(these machines are noisy; both runs happen in the same process, back to back). Each run also
reports the embedded Terraform core against the binary on PATH when both exist.
Writes ``bench/results/bench_toolchain.json``.

    python bench/bench_toolchain.py [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from pytest_mlinfra.run import Run
from pytest_mlinfra.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SMALL_STACK = ROOT / "tests" / "stacks" / "small"
RESULTS = Path(__file__).parent / "results"
EMBEDDED = str(Path(sys.executable).parent / "mlinfra-terraform")


def one_run(cache: Path, terraform: str | None) -> dict[str, float]:
    os.environ["MLINFRA_CACHE_DIR"] = str(cache)
    run = Run(
        Settings(stack_dir=SMALL_STACK, runs_dir=cache / "runs", terraform=terraform), log=lambda _m: None
    )
    started = time.perf_counter()
    try:
        run.deploy()
        run.destroy_stack()
    finally:
        run.teardown()
    stages = dict(run.timer.seconds)
    stages["total"] = time.perf_counter() - started
    return stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2, help="cold/warm pairs per binary")
    args = parser.parse_args()
    binaries = {"default": None}
    if Path(EMBEDDED).exists():
        binaries["embedded"] = EMBEDDED
    results: dict[str, list[dict[str, dict[str, float]]]] = {}
    for label, terraform in binaries.items():
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory(prefix="mlinfra-bench-") as tmp:
                cold = one_run(Path(tmp), terraform)
                warm = one_run(Path(tmp), terraform)
            results.setdefault(label, []).append({"cold": cold, "warm": warm})
    print(
        f"{'binary':<10}{'run':<6}{'init s':>8}{'apply s':>9}{'destroy s':>11}{'total s':>9}{'warm/cold':>11}"
    )
    summary = {}
    for label, pairs in results.items():
        for pair in pairs:
            ratio = pair["warm"]["total"] / pair["cold"]["total"]
            for kind in ("cold", "warm"):
                s = pair[kind]
                print(
                    f"{label:<10}{kind:<6}{s.get('init', 0):>8.2f}{s.get('apply', 0):>9.2f}"
                    f"{s.get('destroy', 0):>11.2f}{s['total']:>9.2f}{ratio if kind == 'warm' else 1:>11.2f}"
                )
        summary[label] = {
            "cold_total_s": min(p["cold"]["total"] for p in pairs),
            "warm_total_s": min(p["warm"]["total"] for p in pairs),
            "cold_init_s": min(p["cold"]["init"] for p in pairs),
            "warm_init_s": min(p["warm"]["init"] for p in pairs),
        }
    RESULTS.mkdir(exist_ok=True)
    out = {"machine": platform.platform(), "cpus": os.cpu_count(), "summary": summary, "runs": results}
    (RESULTS / "bench_toolchain.json").write_text(json.dumps(out, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
