"""The -json event reader against recorded output of real Terraform runs."""

from __future__ import annotations

import json
from pathlib import Path

from pytest_mlinfra.terraform.progress import ENI_HINT, TerraformProgress, shown_at

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


def test_subnets_and_groups_waiting_for_a_deleted_functions_enis_say_why() -> None:
    progress, lines = _read("destroy-vpc-lambda-eni.jsonl", "destroy")
    assert (progress.total, progress.done) == (6, 6)
    waiting = [line for line in lines if " still destroying " in line]
    assert {line.split()[2] for line in waiting} == {
        "aws_subnet.private[0]",
        "aws_subnet.private[1]",
        "aws_security_group.lambda",
    }
    assert all(line.endswith(f"; {ENI_HINT})") for line in waiting), waiting
    group = [line for line in waiting if "aws_security_group.lambda" in line]
    # Terraform reported it at 10..80 s; past the first minute only every 30 s is shown.
    assert [line.split("(")[1].split()[0] for line in group] == ["10", "20", "30", "40", "50", "60"]
    assert lines[-1].startswith("destroy 6/6 aws_vpc.this")


def test_no_eni_hint_without_a_deleted_function_or_for_other_resources() -> None:
    lines: list[str] = []
    progress = TerraformProgress("destroy", emit=lines.append)
    for address, kind in (("aws_subnet.a", "aws_subnet"), ("aws_efs_file_system.b", "aws_efs_file_system")):
        hook = {
            "resource": {"addr": address, "resource_type": kind},
            "action": "delete",
            "elapsed_seconds": 10,
        }
        progress.feed(
            json.dumps({"type": "apply_progress", "@timestamp": "2026-12-01T20:00:10Z", "hook": hook})
        )
    assert lines == [
        "destroy 0/? aws_subnet.a still destroying (10 s)",
        "destroy 0/? aws_efs_file_system.b still destroying (10 s)",
    ]


def test_long_waits_are_reported_less_often() -> None:
    shown = [seconds for seconds in range(10, 2701, 10) if shown_at(seconds)]
    assert shown[:6] == [10, 20, 30, 40, 50, 60] and shown[6:9] == [90, 120, 150]
    assert 600 in shown and 630 not in shown and 660 in shown
    assert len(shown) == 6 + 18 + 35, "45 min of waiting: 59 lines per resource, not 270"
