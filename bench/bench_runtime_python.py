"""What running the declared runtime costs: runtime packages and requirements builds, cold starts.

On the embedded AWS (boto3 only, no Terraform): the same trivial handler is created as a function of
the host's runtime (the baseline of this run: this Python, its own awslambdaric) and of each
``--runtimes`` (its CPython from pyenv/uv/PATH, awslambdaric/boto3 built for it). For each: the
first Invoke after create (cold: the environment starts) and the median of ``--warm`` warm Invokes,
with ratios to the baseline. Then a requirements file (``--requirements``, default PyYAML) is built
for the first runtime into an empty cache and again into the filled one (cold vs cached).

    python bench/bench_runtime_python.py [--runtimes python3.12 python3.8] [--warm 20]

Writes ``bench/results/bench_runtime_python.json``. The runtime-packages build of a runtime is timed
only when its cache directory is empty (``--fresh-cache`` points the cache at a new directory).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import boto3

from pytest_mlinfra.emulator import EmbeddedAWS, lambda_pythons
from pytest_mlinfra.requirements import build

RESULTS = Path(__file__).parent / "results"
HANDLER = "import sys\ndef handler(event, context):\n    return list(sys.version_info[:2])\n"


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("fn.py", HANDLER)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runtimes", nargs="+", default=["python3.12", "python3.8"])
    parser.add_argument("--warm", type=int, default=20)
    parser.add_argument("--requirements", default="pyyaml==6.0.2")
    parser.add_argument("--fresh-cache", action="store_true")
    args = parser.parse_args()
    host = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    tmp = Path(tempfile.mkdtemp(prefix="bench-runtime-"))
    if args.fresh_cache:
        os.environ["MLINFRA_CACHE_DIR"] = str(tmp / "cache")
    from pytest_mlinfra.terraform.toolchain import cache_root

    results: dict[str, dict[str, float]] = {}
    with EmbeddedAWS(state_dir=tmp / "aws") as aws:
        session = boto3.session.Session(aws_access_key_id="t", aws_secret_access_key="t")
        lam = session.client("lambda", endpoint_url=aws.endpoint_url, region_name="us-east-1")
        iam = session.client("iam", endpoint_url=aws.endpoint_url, region_name="us-east-1")
        role = iam.create_role(RoleName="bench", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        for runtime in [host, *args.runtimes]:
            started = time.perf_counter()
            lambda_pythons.resolve(runtime, "x86_64", cache_root() / "lambda-runtimes")
            prepare_s = time.perf_counter() - started
            name = f"bench-{runtime.replace('.', '')}"
            lam.create_function(
                FunctionName=name, Runtime=runtime, Role=role, Handler="fn.handler", Code={"ZipFile": _zip()}
            )
            started = time.perf_counter()
            answer = json.loads(lam.invoke(FunctionName=name)["Payload"].read())
            cold_ms = (time.perf_counter() - started) * 1000
            assert f"python{answer[0]}.{answer[1]}" == runtime, answer
            warm = []
            for _ in range(args.warm):
                started = time.perf_counter()
                lam.invoke(FunctionName=name)["Payload"].read()
                warm.append((time.perf_counter() - started) * 1000)
            results[runtime] = {
                "prepare_s": round(prepare_s, 2),
                "cold_ms": round(cold_ms, 1),
                "warm_p50_ms": round(statistics.median(warm), 2),
            }
    base = results[host]
    for row in results.values():
        row["cold_vs_host"] = round(row["cold_ms"] / base["cold_ms"], 2)
        row["warm_vs_host"] = round(row["warm_p50_ms"] / base["warm_p50_ms"], 2)
    requirements = tmp / "requirements.txt"
    requirements.write_text(args.requirements + "\n")
    timings = {}
    for attempt in ("cold", "cached"):
        started = time.perf_counter()
        built = build(requirements, args.runtimes[0], "x86_64", tmp / "requirements-cache")
        timings[attempt] = round(time.perf_counter() - started, 3)
        assert built.cached == (attempt == "cached")
    report = {"host": host, "runtimes": results, "requirements_build_s": timings}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_runtime_python.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
