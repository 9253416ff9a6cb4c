"""Time pre-flight adds to a run, on the bundled stack (and the monorepo test stack).

Pre-flight = the static checks (required variables, contract outputs; python-hcl2 over the stack's
files) + ``terraform validate``, which is skipped when the same configuration already validated on
this machine. Measured per stack: the first pre-flight (cold parse cache, validate runs) and the next
ones (validate skipped; the in-memory parse memo cleared, as in a new session), in one process;
the figure is the skipped time (target: < 0.5 s) and its ratio to the validating one. No target
is started, nothing is applied.
Writes ``bench/results/bench_preflight.json``.

    python bench/bench_preflight.py [--repeat 5]
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

from pytest_mlinfra.run import Run
from pytest_mlinfra.settings import Settings, bundled_stack
from pytest_mlinfra.terraform import hcl
from pytest_mlinfra.terraform.stack import Stack

ROOT = Path(__file__).resolve().parents[1]
STACKS = {
    "bundled": bundled_stack(),
    "monorepo": ROOT / "tests" / "stacks" / "monorepo" / "infra" / "live" / "test",
}
HANDLER = ROOT / "tests" / "stack" / "handler"
RESULTS = Path(__file__).parent / "results"


def preflight_seconds(run: Run, source: Path, n: int) -> float:
    stack = Stack(
        source=source,
        workdir=run.runs_dir / f"p{n}",
        toolchain=run.toolchain,
        variables=run.stack_variables(),
    )
    stack.prepare()
    stack.init()  # not pre-flight: every run inits anyway
    hcl._PARSED.clear()  # as in a new pytest session: only the on-disk parse cache is warm
    started = time.perf_counter()
    run.preflight(source)
    stack.preflight_validate()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    figures: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as cache:
        os.environ["MLINFRA_CACHE_DIR"] = cache
        for name, source in STACKS.items():
            run = Run(
                Settings(stack_dir=source, handler_dir=HANDLER, runs_dir=Path(cache) / "runs"),
                log=lambda _m: None,
            )
            run.fixtures = (
                {"mlinfra_stack", "mlinfra_model", "mlinfra_function"} if name == "bundled" else set()
            )
            run.runs_dir.mkdir(parents=True, exist_ok=True)
            run.workdir.mkdir(parents=True, exist_ok=True)
            first = preflight_seconds(run, source, 0)
            skipped = [preflight_seconds(run, source, n) for n in range(1, args.repeat + 1)]
            median = statistics.median(skipped)
            figures[name] = {
                "validating_s": round(first, 3),
                "skipped_median_s": round(median, 3),
                "skipped_max_s": round(max(skipped), 3),
                "ratio_skipped_to_validating": round(median / first, 3),
            }
            top = max(skipped)
            print(f"{name}: pre-flight {first:.3f} s validating, {median:.3f} s skipped (max {top:.3f})")
    RESULTS.mkdir(exist_ok=True)
    out = {"machine": platform.node(), "cpus": os.cpu_count(), "repeat": args.repeat, "stacks": figures}
    (RESULTS / "bench_preflight.json").write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
