"""Time-to-green of the main job, split by stage, and examples per second against the deployed predictor.

Runs ``pytest --mlinfra-target=local examples/ner`` as a user does (a fresh process each time) and
reads the stage times and the invoke count the plugin writes into the JUnit XML. Baseline in the same
run: the handler called in-process on the same kind of texts, so "examples/s deployed" can be read as
a ratio against "calls/s in-process". Writes ``bench/results/bench_flow.json``.

    python bench/bench_flow.py [--repeat 2] [--examples 25]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "ner"
RESULTS = Path(__file__).parent / "results"


def run_main_job(examples: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        started = time.perf_counter()
        command = [sys.executable, "-m", "pytest", "--mlinfra-target=local", str(EXAMPLE), "-q"]
        command += ["-p", "no:cacheprovider", f"--mlinfra-examples={examples}", f"--junitxml={junit}"]
        proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            sys.exit(f"the main job failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}")
        props = {p.get("name", ""): float(p.get("value", "0")) for p in ET.parse(junit).iter("property")}
    figures = {
        k.removeprefix("mlinfra.stage.").removesuffix("_s"): v for k, v in props.items() if "stage" in k
    }
    figures["wall"] = wall
    figures["invokes"] = props.get("mlinfra.latency.invokes", 0.0)
    figures["p50_ms"] = props.get("mlinfra.latency.p50_ms", 0.0)
    return figures


def in_process_rate(texts: list[str]) -> float:
    """Calls per second of the handler imported directly (no Lambda, no HTTP): the baseline."""
    os.environ["MODEL_DIR"] = str(EXAMPLE / "artifacts")
    spec = importlib.util.spec_from_file_location("ner_handler_bench", EXAMPLE / "model.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.predict({"text": texts[0]}, None)  # load the model once, like a warm container
    started = time.perf_counter()
    for text in texts:
        module.predict({"text": text}, None)
    return len(texts) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--examples", type=int, default=25, help="Hypothesis examples per property")
    args = parser.parse_args()
    from pytest_mlinfra.ner.strategies import FAMOUS_NAMES, NEUTRAL_TEMPLATES

    texts = [t.format(name=n) for n in FAMOUS_NAMES for t in NEUTRAL_TEMPLATES]
    runs: list[dict[str, Any]] = []
    for _ in range(args.repeat):
        figures = run_main_job(args.examples)
        figures["examples_per_s"] = figures["invokes"] / figures["tests"] if figures.get("tests") else 0.0
        runs.append(figures)
    baseline = in_process_rate(texts)
    stages = ("target_start", "init", "apply", "output", "sync", "show", "audit", "tests", "destroy", "total")
    print(f"{'stage':<14}" + "".join(f"{'run ' + str(i + 1):>10}" for i in range(len(runs))))
    for stage in (*stages, "wall", "invokes", "examples_per_s", "p50_ms"):
        print(f"{stage:<14}" + "".join(f"{r.get(stage, 0.0):>10.2f}" for r in runs))
    best = min(runs, key=lambda r: r["total"])
    rate = best["examples_per_s"]
    print(
        f"in-process baseline {baseline:.0f} calls/s; deployed {rate:.0f} examples/s ({rate / baseline:.2f}x)"
    )
    RESULTS.mkdir(exist_ok=True)
    out = {
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "runs": runs,
        "in_process_calls_per_s": baseline,
    }
    (RESULTS / "bench_flow.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
