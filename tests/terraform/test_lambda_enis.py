"""Destroying a VPC function's stack while AWS still holds its network interfaces (the embedded AWS
with a Lambda ENI release delay): real pytest run, real Terraform and provider 3.39, the emulator as
a service of its own so what is left can be looked at after the run.

The destroy waits for the ENIs (the provider polls until they are gone, within the stack's 45 min
delete timeouts), says so on the terminal with the reason, succeeds, and leaves nothing: no
resource with the run's tag, no network interface.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from pytest_mlinfra import service
from pytest_mlinfra.sweep import Sweep, _EndpointTarget
from pytest_mlinfra.terraform.progress import ENI_HINT
from pytest_mlinfra.terraform.toolchain import CACHE_ENV, cache_root

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
STACK = REPO / "tests" / "stacks" / "vpc_lambda"
DELAY_S = 4.0

USER_TEST = """
def test_function_has_its_network_interfaces(mlinfra_stack, mlinfra_target):
    ec2 = mlinfra_target.client("ec2")
    enis = ec2.describe_network_interfaces(
        Filters=[{"Name": "interface-type", "Values": ["lambda"]}]
    )["NetworkInterfaces"]
    assert sorted(e["Status"] for e in enis) == ["in-use", "in-use"]
    assert all(mlinfra_stack.outputs["function_name"] in e["Description"] for e in enis)
"""


@pytest.fixture
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache of this test's own (its service record must not attract other runs of the machine),
    sharing the provider plugin cache."""
    shared = cache_root()
    root = tmp_path / "cache"
    root.mkdir()
    (root / "plugin-cache").symlink_to(shared / "plugin-cache")
    monkeypatch.setenv(CACHE_ENV, str(root))
    return root


@pytest.fixture
def emulator(private_cache: Path) -> Iterator[service.EmulatorProcess]:
    from pytest_mlinfra.emulator.config import EmulatorConfig

    record, started = service.start_service(config=EmulatorConfig(lambda_eni_release_s=DELAY_S))
    assert started
    try:
        yield record
    finally:
        service.stop_service()


def test_destroy_waits_for_the_enis_with_progress_and_leaves_nothing(
    tmp_path: Path, private_cache: Path, emulator: service.EmulatorProcess
) -> None:
    handler = tmp_path / "handler"
    handler.mkdir()
    (handler / "app.py").write_text("def handler(event, context):\n    return {}\n")
    tests = tmp_path / "user"
    tests.mkdir()
    (tests / "test_user.py").write_text(USER_TEST)
    env = {**os.environ, CACHE_ENV: str(private_cache), "PYTHONPATH": str(REPO / "src")}
    env.pop("PYTEST_ADDOPTS", None)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            f"--mlinfra-stack={STACK}",
            f"--mlinfra-handler-dir={handler}",
            "--mlinfra-handler=app.handler",
            f"--mlinfra-runs-dir={tmp_path / 'runs'}",
            str(tests),
        ],
        cwd=tests,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    assert f"embedded AWS pid {emulator.pid}" in out, "the run deployed into the service"
    waiting = [line for line in out.splitlines() if "still destroying" in line]
    held = {line.split()[3] for line in waiting}
    assert held == {"aws_subnet.private[0]", "aws_subnet.private[1]", "aws_security_group.lambda"}, out
    assert all(line.startswith("mlinfra: destroy ") and ENI_HINT in line for line in waiting)
    destroy = re.search(r"^destroy\s+([\d.]+)$", out, re.MULTILINE)
    assert destroy is not None, out[-3000:]
    sys.stdout.write(f"\nFIGURE destroy with a {DELAY_S:.0f} s ENI release delay: {destroy[1]} s, ")
    sys.stdout.write(f"{len(waiting)} progress lines\n")

    run_id = re.search(r"run id (r[0-9a-f]{7})", out)
    assert run_id is not None, out[:2000]
    target = _EndpointTarget("local", emulator.endpoint_url, "us-east-1")
    assert Sweep(target, run_id[1], log=lambda _line: None).find() == []
    ec2 = boto3.client(
        "ec2",
        endpoint_url=emulator.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    assert ec2.describe_network_interfaces()["NetworkInterfaces"] == []
