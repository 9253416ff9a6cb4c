"""Reap after a SIGKILL while an EFS file system's children exist, and a reap stopped by SIGTERM.

The embedded AWS runs as ``mlinfra up``'s service (the persistent endpoint whose resources outlive
the killed run). Mount targets cannot carry tags on AWS: reap must find them through their tagged
file system and delete them (waiting until they are gone) before the file system, the subnets and
the security group, whether the run's state lists them or the state is lost. A reap stopped by
SIGTERM (``timeout``) leaves no Terraform or provider process behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from pytest_mlinfra.sweep import Sweep, _EndpointTarget

from .harness import FaultRun, processes_of, start, state_resources, wait_no_processes

REAP_LIMIT_S = 150  # `timeout 150 mlinfra reap RUN`, as the issue ran it


def _figure(name: str, value: str) -> None:
    sys.stdout.write(f"\nFIGURE {name}: {value}\n")


def _env(cache: Path) -> dict[str, str]:
    return {**os.environ, "MLINFRA_CACHE_DIR": str(cache)}


@pytest.fixture
def service(cache: Path) -> Iterator[str]:
    """``mlinfra up`` in the test's private cache: pytest --mlinfra-target=local deploys into it."""
    cli = [sys.executable, "-m", "pytest_mlinfra"]
    up = subprocess.run([*cli, "up"], capture_output=True, text=True, timeout=120, env=_env(cache))
    assert up.returncode == 0, up.stdout + up.stderr
    endpoint = up.stdout.split("started: ", 1)[1].split()[0]
    try:
        yield endpoint
    finally:
        subprocess.run([*cli, "down"], capture_output=True, text=True, timeout=300, env=_env(cache))


def _client(endpoint: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _deployed(endpoint: str) -> list[str]:
    """Everything of the kinds the stack creates that exists at the endpoint, tagged or not (the
    service is this test's own: whatever is there is the run's)."""
    efs, ec2 = _client(endpoint, "efs"), _client(endpoint, "ec2")
    left = []
    for fs in efs.describe_file_systems()["FileSystems"]:
        left.append(f"file system {fs['FileSystemId']}")
        targets = efs.describe_mount_targets(FileSystemId=fs["FileSystemId"])["MountTargets"]
        left += [f"mount target {t['MountTargetId']}" for t in targets]
    left += [f"access point {a['AccessPointId']}" for a in efs.describe_access_points()["AccessPoints"]]
    vpcs = [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if not v.get("IsDefault")]
    left += [f"vpc {v}" for v in vpcs]
    if vpcs:
        where = [{"Name": "vpc-id", "Values": vpcs}]
        left += [f"subnet {s['SubnetId']}" for s in ec2.describe_subnets(Filters=where)["Subnets"]]
        groups = ec2.describe_security_groups(Filters=where)["SecurityGroups"]
        left += [f"security group {g['GroupId']}" for g in groups if g["GroupName"] != "default"]
        enis = ec2.describe_network_interfaces(Filters=where)["NetworkInterfaces"]
        left += [f"network interface {n['NetworkInterfaceId']}" for n in enis]
    return left


def _mount_targets_exist(endpoint: str, run_id: str) -> bool:
    target = _EndpointTarget("local", endpoint, "us-east-1")
    return any(r.kind == "efs-mount-target" for r in Sweep(target, run_id, log=lambda _l: None).find())


def _kill_with_mount_targets(tmp_path: Path, cache: Path, cleanup: list[FaultRun], endpoint: str) -> FaultRun:
    run = start(tmp_path, cache, stack="efs", env={"FAULT_SLEEP": "300"})
    cleanup.append(run)
    run.wait_until(lambda r: bool(r.run_id) and _mount_targets_exist(endpoint, r.run_id))
    run.send(signal.SIGKILL)
    code, _ = run.finish()
    assert code == -signal.SIGKILL
    assert wait_no_processes(run) == [], "Terraform and the provider die with the killed run"
    return run


def _reap(run: FaultRun, limit_s: float = REAP_LIMIT_S) -> tuple[int, float, str]:
    """``timeout LIMIT mlinfra reap RUN``: exit code, seconds, output."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest_mlinfra", "reap", "--runs-dir", str(run.runs_dir), run.run_id],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(run.cache),
    )
    try:
        out, _ = proc.communicate(timeout=limit_s)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=600)
    return proc.returncode, time.monotonic() - started, out


@pytest.mark.parametrize("state", ["kept", "lost"])
def test_sigkill_with_mount_targets_then_reap(
    tmp_path: Path, cache: Path, cleanup: list[FaultRun], service: str, state: str
) -> None:
    run = _kill_with_mount_targets(tmp_path, cache, cleanup, service)
    state_file = run.runs_dir / run.run_id / "stack" / "terraform.tfstate"
    in_state = state_resources(run)
    if state == "lost":  # the file system's tag is then the only link to its mount targets
        state_file.unlink(missing_ok=True)
        (run.runs_dir / run.run_id / "stack" / "terraform.tfstate.backup").unlink(missing_ok=True)
    before = _deployed(service)
    assert any(item.startswith("mount target") for item in before), before
    code, seconds, out = _reap(run)
    left = _deployed(service)
    _figure(
        f"reap after SIGKILL with mount targets (state {state})",
        f"exit {code} in {seconds:.1f} s; in state: {in_state}; before: {len(before)} {before}; left: {left}",
    )
    assert code == 0, out[-3000:]
    assert f"{run.run_id}: reaped" in out, out[-3000:]
    assert left == [], out[-3000:]
    assert not (run.runs_dir / run.run_id).exists()
    assert processes_of(run) == []


def test_sigterm_stops_a_reap_without_leaving_a_provider(
    tmp_path: Path, cache: Path, cleanup: list[FaultRun], service: str
) -> None:
    run = _kill_with_mount_targets(tmp_path, cache, cleanup, service)
    # Something no tag or state knows holds the subnet (as a VPC function's network interfaces do on
    # AWS for tens of minutes): terraform destroy waits on the subnet, up to its 45 min timeout.
    ec2 = _client(service, "ec2")
    subnet = ec2.describe_subnets(Filters=[{"Name": "tag:mlinfra:run-id", "Values": [run.run_id]}])
    ec2.create_network_interface(SubnetId=subnet["Subnets"][0]["SubnetId"])
    log = tmp_path / "reap.out"
    with open(log, "w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest_mlinfra", "reap", "--runs-dir", str(run.runs_dir), run.run_id],
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
            env=_env(run.cache),
        )
    deadline = time.monotonic() + 420  # generous: a loaded CI machine is slow to get there
    while "still destroying" not in log.read_text():  # the subnet is refused, the provider retries
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.2)
    seen = time.monotonic() + 60
    while not _provider_running(run) and time.monotonic() < seen and proc.poll() is None:
        time.sleep(0.2)  # a loaded machine may list the provider's process a moment late
    assert _provider_running(run), f"terraform destroy runs its provider: {processes_of(run)}"
    signalled = time.monotonic()
    proc.send_signal(signal.SIGTERM)  # what `timeout` sends
    proc.wait(timeout=360)
    out = log.read_text()
    seconds = time.monotonic() - signalled
    left = wait_no_processes(run, timeout_s=30)
    _figure("SIGTERM to a hung reap", f"exit {proc.returncode} {seconds:.1f} s after; processes left: {left}")
    assert left == [], "no terraform or provider outlives the stopped reap"
    assert proc.returncode == 128 + signal.SIGTERM, out[-3000:]
    assert f"mlinfra reap: stopped by SIGTERM; {run.run_id} may still have resources" in out
    assert (run.runs_dir / run.run_id).exists(), "the run dir stays for the next reap"


def _provider_running(run: FaultRun) -> bool:
    for pid in processes_of(run):
        try:
            if "terraform-provider" in Path(f"/proc/{pid}/cmdline").read_text():
                return True
        except OSError:
            continue
    return False
