"""The fast loop's plain parts, without Terraform: the diff line, the xdist share, the kept-stack lock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.kept import KeptStack, all_kept, matching
from pytest_mlinfra.sharing import SessionShare
from pytest_mlinfra.terraform.progress import TerraformProgress
from pytest_mlinfra.terraform.stack import describe_changes

DATA = Path(__file__).parent / "data" / "terraform"


def test_the_diff_line_is_terraforms_own() -> None:
    assert describe_changes([]) == "no changes"
    assert describe_changes([("aws_lambda_function.predictor", "update")]) == (
        "1 changed (aws_lambda_function.predictor)"
    )
    many = [(f"aws_s3_bucket.b{i}", "create") for i in range(6)] + [("aws_efs_file_system.fs", "replace")]
    assert describe_changes(many) == (
        "6 added, 1 replaced "
        "(aws_s3_bucket.b0, aws_s3_bucket.b1, aws_s3_bucket.b2, aws_s3_bucket.b3, +3 more)"
    )


def test_the_diff_comes_from_terraforms_planned_change_events() -> None:
    """A re-apply is one ``apply -json``: its diff is the plan's own events (no-ops and reads left out)."""
    events = TerraformProgress("apply").feed_all((DATA / "apply-bundled.jsonl").read_text().splitlines())
    assert len(events.planned) == events.total == 21  # the log also holds 2 data-source reads
    assert ("aws_efs_file_system.models[0]", "create") in events.planned

    def planned(address: str, action: str) -> str:
        change = {"resource": {"addr": address}, "action": action}
        return json.dumps({"type": "planned_change", "change": change})

    lines = [planned("data.aws_region.r", "read"), planned("aws_lambda_function.p", "update")]
    assert TerraformProgress("apply").feed_all(lines).planned == [("aws_lambda_function.p", "update")]


def test_a_step_runs_once_and_every_worker_reads_it(tmp_path: Path) -> None:
    share = SessionShare(tmp_path / "share")
    calls: list[int] = []

    def produce() -> dict[str, object]:
        calls.append(1)
        return {"value": 42}

    assert share.once("stack", produce) == ({"value": 42}, True)
    assert share.once("stack", produce) == ({"value": 42}, False)
    assert calls == [1]


def test_a_failed_step_fails_every_worker_with_the_same_line(tmp_path: Path) -> None:
    share = SessionShare(tmp_path)

    def broken() -> dict[str, object]:
        raise MlinfraError("terraform apply failed", "see the log")

    with pytest.raises(MlinfraError, match="terraform apply failed"):
        share.once("stack", broken)
    with pytest.raises(MlinfraError, match=r"terraform apply failed\. see the log"):
        share.once("stack", lambda: {"never": "run"})


def test_a_worker_that_died_half_way_is_not_run_again(tmp_path: Path) -> None:
    (tmp_path / "stack.started").write_text("4242")  # a producer that died: no result, no error
    with pytest.raises(MlinfraError, match=r"'stack' \(pid 4242\) died half way"):
        SessionShare(tmp_path).once("stack", lambda: {"never": "run"})


def _kept(tmp_path: Path, run_id: str, owner: str = "me", source: str = "/src") -> KeptStack:
    stack = KeptStack(run_id, tmp_path / run_id, "local", "mlinfra up service", source, owner, instance="i1")
    stack.save()
    return stack


def test_kept_stacks_are_found_by_target_and_source(tmp_path: Path) -> None:
    _kept(tmp_path, "r0000001")
    _kept(tmp_path, "r0000002", source="/other")
    assert [k.run_id for k in all_kept(tmp_path)] == ["r0000001", "r0000002"]
    assert [k.run_id for k in matching("local", "mlinfra up service", "/src", tmp_path)] == ["r0000001"]
    assert matching("localstack", "mlinfra up service", "/src", tmp_path) == []


def test_a_kept_stack_serves_one_session_at_a_time(tmp_path: Path) -> None:
    stack = _kept(tmp_path, "r0000001")
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stack.acquire(other.pid)
        with pytest.raises(MlinfraError, match=rf"in use by another session \(pid {other.pid}\)"):
            stack.acquire(os.getpid())
    finally:
        other.kill()
        other.wait()
    stack.acquire(os.getpid())  # the holder died: released
    assert stack.lock_holder() == os.getpid()
    stack.release(os.getpid())
    assert stack.lock_holder() is None


def test_a_remembered_audit_is_of_the_same_resources_only(tmp_path: Path) -> None:
    """The key is which resources exist and their tags; not what a refresh or any apply rewrites."""
    from pytest_mlinfra.audit import cache
    from pytest_mlinfra.audit.findings import Finding

    state = {"version": 4, "serial": 7, "lineage": "l1", "outputs": {}, "check_results": [{"a": 1}, {"b": 2}]}
    instance = {"attributes": {"tags": {}, "tags_all": {}, "arn": "arn:aws:s3:::b"}}
    state["resources"] = [{"mode": "managed", "type": "aws_s3_bucket", "name": "b", "instances": [instance]}]
    state_file = tmp_path / "terraform.tfstate"
    state_file.write_text(json.dumps(state))
    key = cache.audit_key(state_file, ["Owner"], ["us-east-1"])
    assert key is not None
    finding = Finding("aws_s3_bucket.b", "missing", ("Owner",), "aws_s3_bucket", "no Owner", "state")
    cache.save(tmp_path, key, [finding], {"values": {}})
    instance["attributes"]["policy"] = "filled in by the first refresh"
    state_file.write_text(json.dumps({**state, "serial": 8, "check_results": [{"b": 2}, {"a": 1}]}))
    again = cache.audit_key(state_file, ["Owner"], ["us-east-1"])
    assert again == key
    remembered = cache.load(tmp_path, key)
    assert remembered is not None and remembered.findings == [finding]
    assert cache.audit_key(state_file, ["Owner", "Project"], ["us-east-1"]) != key, "another policy"
    instance["attributes"]["tags"] = {"Owner": "me"}
    state_file.write_text(json.dumps(state))
    changed = cache.audit_key(state_file, ["Owner"], ["us-east-1"])
    assert changed != key and cache.load(tmp_path, str(changed)) is None
    assert cache.audit_key(tmp_path / "missing.tfstate", ["Owner"], ["us-east-1"]) is None
