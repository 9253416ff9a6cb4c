"""Invoke throughput of the deployed predictor at concurrency 1, 2, 4, 8, and the main job cold/warm.

Part 1 deploys the bundled stack with the example handler on the embedded AWS (torch through the EFS
packages path, the declared stand-in) and drives the function from C client threads for
C in 1, 2, 4, 8: single-text requests and batches (``{"texts": [...]}``), docs/s each, and the cold
starts counted from the REPORT lines (``Init Duration``). Environments stay warm from one level to
the next, as they would on AWS, so a level's cold starts are the environments it added. Baseline in
the same run: the handler called in-process on the same texts (docs/s), so the deployed figures
read as ratios.

Part 2 (``--main-job``) times ``pytest --mlinfra-target=local examples/ner`` twice in fresh
processes: cold (a new cache dir: provider mirror, hash cache, nothing warm) and warm (the same
cache dir again).

    python bench/bench_invoke.py [--requests 48] [--batch 16] [--main-job]

Writes ``bench/results/bench_invoke.json``.
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "ner"
RESULTS = Path(__file__).parent / "results"
LEVELS = (1, 2, 4, 8)


def texts() -> list[str]:
    lines = (EXAMPLE / "data" / "real_sentences.jsonl").read_text().splitlines()
    return [json.loads(line)["text"] for line in lines if line.strip()]


def in_process_docs_per_s(sample: list[str], seconds: float = 3.0) -> float:
    """The handler called directly, model loaded once: the baseline of the same run."""
    os.environ["MODEL_DIR"] = str(EXAMPLE / "artifacts")
    spec = importlib.util.spec_from_file_location("ner_model_bench", EXAMPLE / "model.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.predict({"text": sample[0]}, None)
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        module.predict({"text": sample[done % len(sample)]}, None)
        done += 1
    return done / (time.perf_counter() - started)


def drive(lam: Any, name: str, payloads: list[dict[str, Any]], concurrency: int) -> dict[str, Any]:
    """Send ``payloads`` from ``concurrency`` threads; docs/s and cold starts seen in the logs."""
    cold, throttled, errors = 0, 0, 0
    lock = threading.Lock()

    def one(payload: dict[str, Any]) -> int:
        nonlocal cold, throttled, errors
        try:
            response = lam.invoke(FunctionName=name, Payload=json.dumps(payload), LogType="Tail")
        except lam.exceptions.TooManyRequestsException:
            with lock:
                throttled += 1
            return 0
        body = json.loads(response["Payload"].read())
        log = base64.b64decode(response.get("LogResult", "")).decode("utf-8", "replace")
        with lock:
            cold += "Init Duration" in log
            errors += "FunctionError" in response or "error" in body
        return len(payload.get("texts", [payload.get("text")]))

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        docs = sum(pool.map(one, payloads))
    wall = time.perf_counter() - started
    return {
        "docs": docs,
        "requests": len(payloads),
        "seconds": round(wall, 3),
        "docs_per_s": round(docs / wall, 2),
        "cold_starts": cold,
        "throttled": throttled,
        "errors": errors,
    }


def invoke_levels(requests: int, batch: int) -> dict[str, Any]:
    import botocore.config

    from pytest_mlinfra.run import Run
    from pytest_mlinfra.settings import Settings

    sample = texts()
    baseline = in_process_docs_per_s(sample)
    with tempfile.TemporaryDirectory(prefix="mlinfra-bench-invoke-") as tmp:
        settings = Settings(
            handler_dir=EXAMPLE,
            handler="model.predict",
            model_path=EXAMPLE / "artifacts" / "model.pt",
            package_include=("model.py", "ner_core.py"),
            efs_packages=("torch",),
            lambda_provided=("torch",),
            lambda_concurrency=max(LEVELS),
            runs_dir=Path(tmp),
        )
        with Run(settings) as run:
            outputs = run.deploy().outputs
            run.sync_model()
            config = botocore.config.Config(
                max_pool_connections=max(LEVELS) * 2, read_timeout=120, retries={"max_attempts": 1}
            )
            lam = run.target.client("lambda", config=config)
            name = str(outputs["function_name"])
            results: dict[str, Any] = {"in_process_docs_per_s": round(baseline, 2), "levels": {}}
            for level in LEVELS:
                single = [{"text": sample[i % len(sample)]} for i in range(requests)]
                batches = [
                    {"texts": [sample[(i * batch + j) % len(sample)] for j in range(batch)]}
                    for i in range(max(level, requests // batch))
                ]
                # First pass: as traffic arrives (the level's new environments start cold);
                # second pass: the same again, all environments warm.
                one, many = drive(lam, name, single, level), drive(lam, name, batches, level)
                warm_one, warm_many = drive(lam, name, single, level), drive(lam, name, batches, level)
                results["levels"][str(level)] = {
                    "single": one,
                    "batch": many,
                    "single_warm": warm_one,
                    "batch_warm": warm_many,
                    "single_warm_vs_in_process": round(warm_one["docs_per_s"] / baseline, 3),
                    "batch_warm_vs_in_process": round(warm_many["docs_per_s"] / baseline, 3),
                }
                print(
                    f"concurrency {level}: single {one['docs_per_s']} docs/s with {one['cold_starts']} cold "
                    f"start(s), {warm_one['docs_per_s']} warm; batch of {batch} {many['docs_per_s']} docs/s "
                    f"with {many['cold_starts']} cold, {warm_many['docs_per_s']} warm; "
                    f"in-process {baseline:.1f} docs/s",
                    flush=True,
                )
            results["environments_at_end"] = len(run.target.aws.worker_pids())  # type: ignore[attr-defined]
    return results


def main_job(cache: Path) -> dict[str, Any]:
    env = dict(os.environ, MLINFRA_CACHE_DIR=str(cache))
    command = [sys.executable, "-m", "pytest", "--mlinfra-target=local", str(EXAMPLE), "-q"]
    command += ["-p", "no:cacheprovider"]
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"the main job failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}")
    stages = dict(re.findall(r"^(\w[\w -]*?)\s+([\d.]+)$", proc.stdout, re.M))
    return {"wall_s": round(wall, 2), "stages_s": {k: float(v) for k, v in stages.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=64, help="single-text requests per level")
    parser.add_argument("--batch", type=int, default=16, help="texts per batch request")
    parser.add_argument("--main-job", action="store_true", help="also time the main job cold and warm")
    args = parser.parse_args()
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load": os.getloadavg()},
        "invoke": invoke_levels(args.requests, args.batch),
    }
    if args.main_job:
        with tempfile.TemporaryDirectory(prefix="mlinfra-bench-cache-") as cache:
            report["main_job_cold"] = main_job(Path(cache))
            report["main_job_warm"] = main_job(Path(cache))
        cold, warm = report["main_job_cold"]["wall_s"], report["main_job_warm"]["wall_s"]
        print(f"main job: cold {cold} s, warm {warm} s")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_invoke.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {RESULTS / 'bench_invoke.json'}")


if __name__ == "__main__":
    main()
