"""Bench the embedded AWS: Lambda invoke overhead (warm), cold start, DataSync copy throughput.

    python bench/bench_emulator.py [--invokes 300] [--cold 8] [--mb 64]

Prints a table and writes JSON to bench/results/emulator-<timestamp>.json. Goals: warm overhead
over calling the handler in-process <= 3 ms p50; cold start <= the handler's import time + 0.3 s.
"""

from __future__ import annotations

import argparse
import base64
import importlib
import io
import json
import os
import re
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3

from pytest_mlinfra.emulator import EmbeddedAWS
from pytest_mlinfra.ports import free_port

HANDLERS = Path(__file__).resolve().parents[1] / "tests" / "emulator" / "handlers"
RESULTS = Path(__file__).resolve().parent / "results"
INIT = re.compile(r"Init Duration: ([\d.]+) ms")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def bench_direct(n: int) -> list[float]:
    """The handler called in-process: the floor the emulator's overhead is measured against."""
    sys.path.insert(0, str(HANDLERS))
    probe = importlib.import_module("probe")
    context = SimpleNamespace(aws_request_id="x", function_name="f", memory_limit_in_mb=128)
    event = {"text": "Barack Obama visited Paris"}
    times = []
    for _ in range(n):
        started = time.perf_counter()
        json.loads(json.dumps(probe.echo(json.loads(json.dumps(event)), context)))
        times.append(time.perf_counter() - started)
    return times


def handler_import_time() -> float:
    """How long importing the handler module takes in a fresh interpreter (the cold-start floor)."""
    code = (
        "import sys,time; sys.path.insert(0, sys.argv[1]); t=time.perf_counter(); import probe;"
        "print(time.perf_counter()-t)"
    )
    import subprocess

    out = subprocess.run(
        [sys.executable, "-c", code, str(HANDLERS)], capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip())


def python_startup_time() -> float:
    import subprocess

    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--invokes", type=int, default=300)
    parser.add_argument("--cold", type=int, default=8)
    parser.add_argument("--mb", type=int, default=64)
    args = parser.parse_args()

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(HANDLERS / "probe.py", "probe.py")
    results: dict[str, Any] = {"python": sys.version.split()[0], "cpus": os.cpu_count()}

    with tempfile.TemporaryDirectory() as state, EmbeddedAWS(state_dir=Path(state), port=free_port()) as aws:
        session = boto3.session.Session(
            aws_access_key_id="t", aws_secret_access_key="t", region_name="us-east-1"
        )
        client = {
            s: session.client(s, endpoint_url=aws.endpoint_url)
            for s in ("lambda", "iam", "s3", "efs", "datasync")
        }
        role = client["iam"].create_role(RoleName="bench", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        lam = client["lambda"]

        def create(name: str) -> None:
            lam.create_function(
                FunctionName=name,
                Runtime="python3.11",
                Role=role,
                Handler="probe.echo",
                Code={"ZipFile": buffer.getvalue()},
                MemorySize=256,
                Timeout=10,
            )

        # -- warm invoke overhead ---------------------------------------------------------------
        create("warm")
        event = json.dumps({"text": "Barack Obama visited Paris"}).encode()
        for _ in range(20):
            lam.invoke(FunctionName="warm", Payload=event)
        boto_times = []
        for _ in range(args.invokes):
            started = time.perf_counter()
            lam.invoke(FunctionName="warm", Payload=event)["Payload"].read()
            boto_times.append(time.perf_counter() - started)
        api_times = []
        for _ in range(args.invokes):
            started = time.perf_counter()
            lam.get_function_configuration(FunctionName="warm")
            api_times.append(time.perf_counter() - started)
        direct = bench_direct(args.invokes)
        # the local runtime alone (worker + Runtime API), without boto3/HTTP/moto in front
        backend_fn = _function("warm")
        spec = backend_fn[0]._worker_spec(backend_fn[1])
        pool = aws._state.pool
        runtime_times = []
        for _ in range(args.invokes):
            started = time.perf_counter()
            pool.invoke(spec, event)
            runtime_times.append(time.perf_counter() - started)
        direct_p50 = statistics.median(direct)
        results["warm"] = {
            "direct_handler_p50_ms": ms(direct_p50),
            "boto3_invoke_p50_ms": ms(statistics.median(boto_times)),
            "boto3_invoke_p95_ms": ms(pct(boto_times, 0.95)),
            "overhead_boto3_p50_ms": ms(statistics.median(boto_times) - direct_p50),
            "overhead_boto3_p95_ms": ms(pct(boto_times, 0.95) - direct_p50),
            "boto3_any_call_p50_ms": ms(statistics.median(api_times)),
            "overhead_runtime_p50_ms": ms(statistics.median(runtime_times) - direct_p50),
            "overhead_runtime_p95_ms": ms(pct(runtime_times, 0.95) - direct_p50),
        }

        # -- cold start ----------------------------------------------------------------------------
        inits, firsts = [], []
        for index in range(args.cold):
            name = f"cold-{index}"
            create(name)
            started = time.perf_counter()
            response = lam.invoke(FunctionName=name, Payload=event, LogType="Tail")
            firsts.append(time.perf_counter() - started)
            match = INIT.search(base64.b64decode(response["LogResult"]).decode())
            inits.append(float(match.group(1)) / 1000 if match else float("nan"))
        import_s = handler_import_time()
        results["cold"] = {
            "init_duration_p50_ms": ms(statistics.median(inits)),
            "first_invoke_p50_ms": ms(statistics.median(firsts)),
            "first_invoke_max_ms": ms(max(firsts)),
            "handler_import_ms": ms(import_s),
            "python_startup_ms": ms(python_startup_time()),
            "goal_ms": ms(import_s + 0.3),
        }

        # -- DataSync throughput ------------------------------------------------------------------------
        s3, efs, ds = client["s3"], client["efs"], client["datasync"]
        s3.create_bucket(Bucket="bench-models")
        s3.put_object(Bucket="bench-models", Key="m/model.bin", Body=os.urandom(args.mb * 1024 * 1024))
        fs = efs.create_file_system(CreationToken="bench")["FileSystemId"]
        ec2 = session.client("ec2", endpoint_url=aws.endpoint_url)
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
        efs.create_mount_target(FileSystemId=fs, SubnetId=subnet)  # DataSync reaches EFS through one
        src = ds.create_location_s3(
            S3BucketArn="arn:aws:s3:::bench-models", Subdirectory="/m", S3Config={"BucketAccessRoleArn": role}
        )["LocationArn"]
        dst = ds.create_location_efs(
            EfsFilesystemArn=f"arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/{fs}",
            Ec2Config={
                "SubnetArn": f"arn:aws:ec2:us-east-1:123456789012:subnet/{subnet}",
                "SecurityGroupArns": ["arn:aws:ec2:us-east-1:123456789012:security-group/sg-1"],
            },
        )["LocationArn"]
        task = ds.create_task(SourceLocationArn=src, DestinationLocationArn=dst)["TaskArn"]
        started = time.perf_counter()
        execution = ds.start_task_execution(TaskArn=task)["TaskExecutionArn"]
        while (described := ds.describe_task_execution(TaskExecutionArn=execution))["Status"] not in (
            "SUCCESS",
            "ERROR",
        ):
            time.sleep(0.01)
        total = time.perf_counter() - started
        transfer_ms = described["Result"]["TransferDuration"] or 1
        results["datasync"] = {
            "status": described["Status"],
            "megabytes": args.mb,
            "transfer_mb_per_s": round(args.mb / (transfer_ms / 1000), 1),
            "end_to_end_mb_per_s": round(args.mb / total, 1),
            "end_to_end_s": round(total, 3),
            "verify_ms": described["Result"]["VerifyDuration"],
        }

    _print(results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"emulator-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten: {out}")
    return 0


def _function(name: str) -> tuple[Any, Any]:
    from moto.awslambda.models import lambda_backends

    backend = lambda_backends["123456789012"]["us-east-1"]
    return backend, backend.get_function(name)


def _print(results: dict[str, Any]) -> None:
    print(f"{'section':<10} {'metric':<28} {'value':>12}")
    print("-" * 52)
    for section in ("warm", "cold", "datasync"):
        for key, value in results[section].items():
            print(f"{section:<10} {key:<28} {value!s:>12}")
    warm, cold = results["warm"], results["cold"]
    print()
    print(
        f"goal warm overhead <= 3 ms p50: boto3 path {warm['overhead_boto3_p50_ms']} ms, "
        f"runtime alone {warm['overhead_runtime_p50_ms']} ms"
    )
    print(
        f"goal cold start <= import + 0.3 s = {cold['goal_ms']} ms: init {cold['init_duration_p50_ms']} ms, "
        f"first invoke {cold['first_invoke_p50_ms']} ms"
    )


if __name__ == "__main__":
    sys.exit(main())
