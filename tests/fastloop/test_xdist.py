"""pytest-xdist: one stack for the whole session, through the real path (Terraform, the provider,
the emulator as its own process), in fresh pytest processes with two workers."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_mlinfra.service import EmulatorProcess
from tests.fastloop.conftest import SMALL, emulator_processes, notes, tagged

pytestmark = pytest.mark.slow

NOTE_TEST = """
import json, os, pathlib

OUT = pathlib.Path(os.environ["NOTES"])

def _note(stack, target):
    buckets = sorted(b["Name"] for b in target.client("s3").list_buckets()["Buckets"])
    record = {"run_id": stack.run_id, "bucket": stack.outputs["bucket_name"], "buckets": buckets,
              "worker": os.environ.get("PYTEST_XDIST_WORKER"), "endpoint": target.endpoint_url}
    OUT.joinpath(f"{os.getpid()}-{os.urandom(4).hex()}.json").write_text(json.dumps(record))
"""
TESTS = "".join(
    f"\ndef test_{n}(mlinfra_stack, mlinfra_target):\n    _note(mlinfra_stack, mlinfra_target)\n"
    for n in "abcdef"
)
CRASH_ONCE = """
def test_crash(mlinfra_stack):
    flag = OUT / "crashed.flag"
    if not flag.exists():
        flag.write_text("1")
        os._exit(3)
"""


def _session(pytester: pytest.Pytester, notes_dir: Path, *extra: str) -> pytest.RunResult:
    notes_dir.mkdir()
    pytester._monkeypatch.setenv("NOTES", str(notes_dir))
    return pytester.runpytest_subprocess(
        "-n", "2", f"--mlinfra-stack={SMALL}", "-p", "no:cacheprovider", *extra, timeout=600
    )


def test_two_workers_deploy_once_and_destroy_once(
    pytester: pytest.Pytester, up: EmulatorProcess, tmp_path: Path
) -> None:
    pytester.makepyfile(test_shared=NOTE_TEST + TESTS)
    result = _session(pytester, tmp_path / "notes")
    result.assert_outcomes(passed=7)  # six tests and the cost-tag check
    seen = notes(tmp_path / "notes")
    assert {n["worker"] for n in seen} == {"gw0", "gw1"}, "the tests were spread over both workers"
    run_ids = {n["run_id"] for n in seen}
    assert len(run_ids) == 1, "every worker used the same stack"
    bucket = seen[0]["bucket"]
    assert all(n["buckets"] == [bucket] for n in seen), "one apply: only one bucket ever existed"
    assert {n["endpoint"] for n in seen} == {up.endpoint_url}, "the workers used the mlinfra up service"
    assert tagged(up, run_ids.pop()) == [], "destroyed once, after the last worker"
    assert "destroy" in result.stdout.str()


def test_a_crashing_worker_does_not_leave_the_stack(
    pytester: pytest.Pytester, up: EmulatorProcess, tmp_path: Path
) -> None:
    pytester.makepyfile(test_shared=NOTE_TEST + TESTS + CRASH_ONCE)
    result = _session(pytester, tmp_path / "notes")
    result.stdout.fnmatch_lines(["*worker 'gw*' crashed while running*test_crash*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    seen = notes(tmp_path / "notes")
    assert len({n["run_id"] for n in seen}) == 1
    assert tagged(up) == [], "the controller destroyed the stack although a worker crashed"


def test_the_sessions_own_emulator_is_stopped(
    pytester: pytest.Pytester, private_cache: Path, tmp_path: Path
) -> None:
    """Without ``mlinfra up`` the first worker starts an emulator process for the session."""
    pytester.makepyfile(test_shared=NOTE_TEST + TESTS)
    result = _session(pytester, tmp_path / "notes", "--junitxml=junit.xml")
    result.assert_outcomes(passed=7)
    seen = notes(tmp_path / "notes")
    assert len({n["endpoint"] for n in seen}) == 1, "both workers talked to one emulator"
    assert emulator_processes(str(private_cache)) == [], "the controller stopped it"
    junit = (pytester.path / "junit.xml").read_text()
    assert 'name="mlinfra.stage.apply_s"' in junit and 'name="mlinfra.stage.destroy_s"' in junit
    assert not list((private_cache / "runs").glob("*")), "run dir and session dir removed"
