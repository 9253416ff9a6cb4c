"""``--live --compare``: a real apply (real Terraform + hashicorp/aws) into the embedded AWS, then tags
changed behind Terraform's back (drift) and a bucket nobody's plan knows (orphan)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_mlinfra.audit.cli import main
from pytest_mlinfra.audit.compare import Known, compare, project_tags
from pytest_mlinfra.audit.live import LiveInventory, LiveTags
from pytest_mlinfra.audit.plan import PlannedResource
from pytest_mlinfra.run import Run
from pytest_mlinfra.settings import RUN_ID_TAG, Settings

SMALL = Path(__file__).parents[1] / "stacks" / "small"


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Run, Path, Path]]:
    """The small stack applied, its state saved; then drift and an orphan made by hand; then a plan."""
    work = tmp_path_factory.mktemp("compare")
    run = Run(Settings(stack_dir=SMALL, runs_dir=work / "runs"), log=lambda _: None)
    try:
        stack = run.deploy()
        state = work / "state.json"
        state.write_text(json.dumps(stack.state_json()))
        s3 = run.target.client("s3")
        bucket = stack.outputs["bucket_name"]
        tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
        by_hand = {**tags, "Environment": "prod", "CostCenter": "42"}  # edited in the console
        s3.put_bucket_tagging(
            Bucket=bucket, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in by_hand.items()]}
        )
        orphan = f"mlinfra-{run.run_id}-orphan"
        s3.create_bucket(Bucket=orphan)
        project = {k: v for k, v in tags.items() if k != "Name"}
        s3.put_bucket_tagging(
            Bucket=orphan, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in project.items()]}
        )
        plan = work / "plan.json"
        terraform = str(run.toolchain.binary.path)
        env = {**os.environ, **run.toolchain.env()}
        for args in (["plan", "-input=false", "-out=drift.tfplan"], ["show", "-json", "drift.tfplan"]):
            proc = subprocess.run(
                [terraform, *args], cwd=stack.tfdir, env=env, capture_output=True, text=True
            )
            assert proc.returncode == 0, proc.stderr
        plan.write_text(proc.stdout)
        yield run, state, plan
        s3.delete_bucket(Bucket=orphan)
    finally:
        run.teardown()


def audit(
    run: Run, capsys: pytest.CaptureFixture[str], *argv: str
) -> tuple[int, list[dict[str, Any]], list[str]]:
    assert run.target.endpoint_url
    live = ["--live", "--endpoint-url", run.target.endpoint_url, "--region", "us-east-1"]
    code = main([*live, "--require", "Name", "--format", "json", *argv])
    doc = json.loads(capsys.readouterr().out)
    return code, doc["findings"], doc["notes"]


@pytest.mark.slow
@pytest.mark.usefixtures("aws_env")
@pytest.mark.parametrize("compared", ["plan", "state"])
def test_drift_and_orphans_against_a_real_apply(
    deployed: tuple[Run, Path, Path], capsys: pytest.CaptureFixture[str], compared: str
) -> None:
    run, state, plan = deployed
    code, findings, notes = audit(run, capsys, "--compare", str(plan if compared == "plan" else state))
    assert code == 1
    bucket = f"arn:aws:s3:::mlinfra-{run.run_id}-small"
    orphan = f"arn:aws:s3:::mlinfra-{run.run_id}-orphan"
    [drift] = [f for f in findings if f["kind"] == "drift"]
    assert (drift["address"], drift["keys"]) == (bucket, ["CostCenter", "Environment"])
    assert "aws_s3_bucket.this" in drift["message"] and "'test' in the plan, 'prod' live" in drift["message"]
    [orphaned] = [f for f in findings if f["kind"] == "orphan"]
    assert orphaned["address"] == orphan
    assert {(f["address"], f["kind"]) for f in findings if f["kind"] == "missing"} == {(orphan, "missing")}
    assert notes and f"{RUN_ID_TAG}={run.run_id}" in notes[0]  # the tags every planned resource carries
    # an explicit filter says what "the project's tags" are; this run's id is enough
    _, findings, notes = audit(
        run, capsys, "--compare", str(plan), "--tag-filter", f"{RUN_ID_TAG}={run.run_id}"
    )
    assert {f["kind"] for f in findings} == {"drift", "orphan", "missing"} and notes == []


@pytest.mark.usefixtures("aws_env")
def test_compare_needs_live_and_a_good_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--compare", str(tmp_path / "plan.json")]) == 2
    assert "--compare needs --live" in capsys.readouterr().err
    bad = tmp_path / "plan.json"
    bad.write_text('{"planned_values": {"root_module": {"resources": [1]}}}')
    assert main(["--live", "--endpoint-url", "http://127.0.0.1:9", "--compare", str(bad)]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"mlinfra-audit: error: {bad}: ") and "resources[0] is a number" in line


def test_compare_unit() -> None:
    """Unknown planned values and AWS's own aws:* tags are not drift; unreadable tags are no orphan."""
    planned = PlannedResource(
        "aws_s3_bucket.b", "aws_s3_bucket", {"bucket": "b", "tags_all": {"A": "1", "B": None}}
    )
    known = Known([planned], ["p.json"])
    live = LiveInventory({
        "arn:aws:s3:::b": LiveTags({"A": "1", "B": "anything", "aws:cloudformation:stack-id": "x"}),
        "arn:aws:s3:::other": LiveTags({"A": "1"}),
        "arn:aws:s3:::unreadable": LiveTags(None, "AccessDenied"),
    }, [])  # fmt: skip
    assert project_tags(known) == {"A": ["1"]}
    [orphan] = compare(live, known, {"A": ["1"]})
    assert (orphan.address, orphan.kind) == ("arn:aws:s3:::other", "orphan")
