"""The -json event reader against recorded output of real Terraform runs."""

from __future__ import annotations

import json
from pathlib import Path

from pytest_mlinfra.terraform.progress import TerraformProgress

DATA = Path(__file__).parent / "data" / "terraform"


def _read(name: str, operation: str) -> tuple[TerraformProgress, list[str]]:
    lines: list[str] = []
    progress = TerraformProgress(operation, emit=lines.append)
    progress.feed_all((DATA / name).read_text().splitlines())
    return progress, lines


def test_apply_counts_resources_against_the_plan() -> None:
    progress, lines = _read("apply-bundled.jsonl", "apply")
    assert progress.total == 21 and progress.done == 21
    assert len(lines) == 21, "one line per resource; data-source reads are not counted"
    assert lines[0].startswith("apply 1/21 ")
    assert lines[-1].startswith("apply 21/21 ")
    mount = next(line for line in lines if "aws_efs_mount_target.models[0]" in line)
    assert mount.endswith(" s") and float(mount.split()[-2]) > 0
    assert progress.summary.startswith("Apply complete! Resources: 21 added")
    assert progress.first_error() is None


def test_spans_are_wall_clock_and_ordered_like_terraform_ran_them() -> None:
    progress, _ = _read("apply-bundled.jsonl", "apply")
    spans = {span.address: span for span in progress.spans}
    assert all(span.ok and span.action == "create" for span in spans.values())
    lam = spans["aws_lambda_function.predictor"]
    role = spans["aws_iam_role.lambda"]
    assert role.end <= lam.start, "the function waits for its role"
    assert lam.seconds >= 4.5, "provider 3.39 waits 5 s after creating a function"


def test_destroy_counts_deletions() -> None:
    progress, lines = _read("destroy-bundled.jsonl", "destroy")
    assert (progress.total, progress.done) == (21, 21)
    assert all(span.action == "delete" for span in progress.spans)
    assert lines[-1].startswith("destroy 21/21 ")


def test_failed_apply_names_the_resource_and_the_error_in_one_line() -> None:
    progress, lines = _read("apply-broken.jsonl", "apply")
    assert (progress.total, progress.done) == (2, 1)
    assert lines[-1].startswith("apply 1/2 aws_s3_bucket_object.fails ") and lines[-1].endswith("FAILED")
    reason = progress.first_error()
    assert reason is not None and "\n" not in reason
    assert reason.startswith("fails.tf:1: Error putting object in S3 bucket")
    assert "NoSuchBucket" in reason and reason.endswith("[aws_s3_bucket_object.fails]")


def test_still_running_events_and_noise_lines() -> None:
    lines: list[str] = []
    progress = TerraformProgress("apply", emit=lines.append)
    hook = {"resource": {"addr": "aws_efs_file_system.models[0]"}, "action": "create"}
    progress.feed("not json at all")
    progress.feed("{broken")
    progress.feed(json.dumps({"type": "apply_start", "@timestamp": "2026-12-01T20:00:00Z", "hook": hook}))
    progress.feed(
        json.dumps(
            {
                "type": "apply_progress",
                "@timestamp": "2026-12-01T20:00:10Z",
                "hook": {**hook, "elapsed_seconds": 10},
            }
        )
    )
    assert lines == ["apply 0/? aws_efs_file_system.models[0] still creating (10 s)"]
