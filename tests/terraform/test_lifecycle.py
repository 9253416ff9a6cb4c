"""init -> apply -> outputs -> destroy of a real stack through the real toolchain on the local target.

Real Terraform (PATH or the embedded core), the real hashicorp/aws provider from the offline mirror,
the real emulator server. Slow-ish (seconds per apply), so kept to the cases that matter.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.ledger import JOURNAL
from pytest_mlinfra.run import Run
from pytest_mlinfra.settings import RUN_ID_TAG, Settings

pytestmark = pytest.mark.slow

EMBEDDED = str(Path(sys.executable).parent / "mlinfra-terraform")


def _buckets(run: Run) -> list[str]:
    return [b["Name"] for b in run.target.client("s3").list_buckets()["Buckets"]]


@pytest.mark.parametrize("terraform", [None, EMBEDDED], ids=["default-binary", "embedded-core"])
def test_apply_outputs_clean_plan_destroy(small_stack: Path, tmp_path: Path, terraform: str | None) -> None:
    run = Run(Settings(stack_dir=small_stack, runs_dir=tmp_path, terraform=terraform))
    try:
        stack = run.deploy()
        bucket = stack.outputs["bucket_name"]
        assert bucket == f"mlinfra-{run.run_id}-small"
        tags = {
            t["Key"]: t["Value"] for t in run.target.client("s3").get_bucket_tagging(Bucket=bucket)["TagSet"]
        }
        assert tags["Name"] == bucket
        assert tags[RUN_ID_TAG] == run.run_id
        assert {"Environment", "Project", "Owner"} <= tags.keys()
        assert stack.pending_changes() == []
        assert run.leftovers() != []
        run.destroy_stack()
        assert bucket not in _buckets(run)
        assert run.leftovers() == []
        assert not stack.workdir.exists(), "a clean destroy removes the run work dir"
        assert {"init", "apply", "destroy"} <= run.timer.seconds.keys()
        assert "output" not in run.timer.seconds, "outputs are read from the state file"
    finally:
        run.teardown()


def test_failed_apply_destroys_what_it_created(broken_apply_stack: Path, tmp_path: Path) -> None:
    messages: list[str] = []
    run = Run(Settings(stack_dir=broken_apply_stack, runs_dir=tmp_path), log=messages.append)
    try:
        with pytest.raises(MlinfraError) as failure:
            run.deploy()
        assert str(failure.value).startswith(f"terraform apply failed in {tmp_path}")
        assert "\n" not in str(failure.value)
        assert "apply failed: destroying what it created (1 resource)" in messages
        assert _buckets(run) == [], "the bucket created before the failure must be destroyed"
    finally:
        run.teardown()


def test_failing_test_still_destroys(pytester: pytest.Pytester, small_stack: Path) -> None:
    pytester.makeconftest(
        """
        import json, pathlib, pytest

        @pytest.fixture(scope="session")
        def leak_check(mlinfra_run, mlinfra_target):
            yield
            # Runs after mlinfra_stack's teardown (set up later, torn down earlier).
            names = [b["Name"] for b in mlinfra_target.client("s3").list_buckets()["Buckets"]]
            pathlib.Path("after_teardown.json").write_text(json.dumps(names))

        @pytest.fixture(autouse=True)
        def _order(leak_check):
            pass
        """
    )
    pytester.makepyfile(
        "def test_fails(mlinfra_stack):\n    assert mlinfra_stack.outputs['bucket_name'] == 'nope'\n"
    )
    result = pytester.runpytest(f"--mlinfra-stack={small_stack}", "--junitxml=junit.xml")
    result.assert_outcomes(failed=1, passed=1)  # the test, and the cost-tag audit item
    result.stdout.fnmatch_lines(["*mlinfra*", "*destroy*"])
    assert (pytester.path / "after_teardown.json").read_text() == "[]"
    junit = (pytester.path / "junit.xml").read_text()
    for stage in ("apply", "tests", "destroy", "total"):
        assert f'<property name="mlinfra.stage.{stage}_s" value="' in junit


def test_keep_skips_destroy_and_says_so(pytester: pytest.Pytester, small_stack: Path) -> None:
    pytester.makepyfile("def test_ok(mlinfra_stack):\n    assert mlinfra_stack.outputs['bucket_name']\n")
    result = pytester.runpytest(f"--mlinfra-stack={small_stack}", "--mlinfra-keep", "--mlinfra-no-audit")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["--mlinfra-keep: stack kept in */stack; the embedded AWS stops*"])
    assert "destroy " not in result.stdout.str()


def test_cost_tag_findings_fail_one_dedicated_item(pytester: pytest.Pytester) -> None:
    untagged = Path(__file__).parents[1] / "stacks" / "untagged"
    pytester.makepyfile("def test_ok(mlinfra_stack):\n    pass\n")
    result = pytester.runpytest(
        f"--mlinfra-stack={untagged}", "--mlinfra-require-tags=Name,CostCenter", "-rf"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR, "a required tag without a value is a usage error"
    result.stderr.fnmatch_lines(["*required cost tag CostCenter has no value*--mlinfra-tag=CostCenter=*"])

    result = pytester.runpytest(
        f"--mlinfra-stack={untagged}",
        "--mlinfra-require-tags=Name,CostCenter",
        "--mlinfra-tag=CostCenter=ml",
        "-rf",
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "cost-tag audit (Name, CostCenter): * finding(s)",
            "*aws_s3_bucket.this*missing*CostCenter*",
            "FAILED mlinfra::cost-tags*",
        ]
    )


def test_ctrl_c_still_destroys(pytester: pytest.Pytester, small_stack: Path) -> None:
    ready = pytester.path / "ready"
    pytester.makepyfile(
        f"""
        import pathlib, time

        def test_waits(mlinfra_stack):
            pathlib.Path({str(ready)!r}).write_text(mlinfra_stack.outputs["bucket_name"])
            time.sleep(120)
        """
    )
    runs = pytester.path / "cache" / "runs"
    env = {**os.environ, "MLINFRA_CACHE_DIR": str(pytester.path / "cache")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", f"--mlinfra-stack={small_stack}", "-p", "no:cacheprovider"],
        cwd=pytester.path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "the stack never came up"
            time.sleep(0.2)
        assert [p.name for p in runs.iterdir()], "the run work dir exists while deployed"
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == pytest.ExitCode.INTERRUPTED
    assert "KeyboardInterrupt" in output
    assert "destroy" in output, output
    left = [p for p in runs.iterdir() if p.name != JOURNAL]  # the finished-runs journal stays
    assert left == [], "destroy succeeded and removed the run work dir"
