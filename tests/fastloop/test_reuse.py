"""--mlinfra-reuse through the real path: Terraform, the provider and the emulator running as the
``mlinfra up`` service, each session a fresh pytest process (as a user runs them one after another)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_mlinfra import kept, service, service_cli
from pytest_mlinfra.ner.strategies import FAMOUS_NAMES
from pytest_mlinfra.service import EmulatorProcess
from tests.fastloop.conftest import SMALL, client, tagged

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
TOY_HANDLER = REPO / "tests" / "flow" / "toy_handler.py"
PROPERTY_SUITE = REPO / "examples" / "ner" / "tests" / "test_properties.py"
USES_STACK = "def test_bucket(mlinfra_stack):\n    assert mlinfra_stack.outputs['bucket_name']\n"


def _kept_id(output: str, verb: str) -> str:
    found = re.search(rf"{verb} (r[0-9a-f]{{7}})", output)
    assert found, output[-3000:]
    return found.group(1)


def _session(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("--mlinfra-reuse", "-p", "no:cacheprovider", *args, timeout=600)


def test_up_reuse_change_down(pytester: pytest.Pytester, up: EmulatorProcess) -> None:
    """Deploy and keep; reuse unchanged (no apply, no model sync); a handler change is deployed and
    runs; ``down`` leaves nothing tagged and (the fixture checks) no process."""
    handler = pytester.mkdir("handler")
    (handler / "model.py").write_text(TOY_HANDLER.read_text())
    (handler / "model.pt").write_text(json.dumps({"names": list(FAMOUS_NAMES)}))
    tests = pytester.mkdir("tests")
    shutil.copy(PROPERTY_SUITE, tests / PROPERTY_SUITE.name)
    pytester.makeini(
        "[pytest]\ntestpaths = tests\nmlinfra_handler_dir = handler\nmlinfra_model = handler/model.pt\n"
        "mlinfra_package_include = model.py\nmlinfra_latency_budget = cold=30000\nmlinfra_examples = 5\n"
        "mlinfra_properties = ner\n"
    )
    first = _session(pytester)
    assert first.ret == 0, first.stdout.str()[-3000:]
    passed = first.parseoutcomes()["passed"]
    assert passed >= 10, "the stock NER suite, this repo's property and the session checks ran"
    run_id = _kept_id(first.stdout.str(), "deployed")
    assert tagged(up, run_id), "kept: still deployed after the session"

    second = _session(pytester)
    second.assert_outcomes(passed=passed)
    second.stdout.fnmatch_lines(
        [
            "cost-tag audit (*): every resource carries its cost tags (nothing changed since its last audit*",
            f"mlinfra: reused {run_id}: no changes",
            f"*reused {run_id}: model sha256 * upload and DataSync skipped",
        ]
    )

    # Tags changed behind Terraform's back: the reuse apply refreshes, puts them back, and the
    # audit runs afresh (the remembered result was of another state).
    bucket = next(arn.split(":::")[1] for arn in tagged(up, run_id) if arn.startswith("arn:aws:s3:::"))
    s3 = client(up, "s3")
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "Name", "Value": "hand-edited"}]})
    drifted = _session(pytester)
    drifted.assert_outcomes(passed=passed)
    drifted.stdout.fnmatch_lines([f"mlinfra: reused {run_id}: * changed (aws_s3_bucket.models*"])
    audit_line = [line for line in drifted.outlines if line.startswith("cost-tag audit")]
    assert audit_line and "nothing changed" not in audit_line[0], audit_line
    assert "unfinished run" not in drifted.stdout.str(), "a kept stack is no leftover"
    live = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
    assert live.get("mlinfra:run-id") == run_id, live

    source = (handler / "model.py").read_text()
    (handler / "model.py").write_text(source.replace('BUG = "none"', 'BUG = "label"'))
    third = _session(pytester)
    third.stdout.fnmatch_lines([f"mlinfra: reused {run_id}: 1 changed (aws_lambda_function.predictor)"])
    third.assert_outcomes(passed=passed - 1, failed=1)  # the new code runs: its label bug is caught
    assert "test_labels_are_in_the_declared_set" in "\n".join(third.outlines)

    assert service_cli.down_main(["--keep-running"]) == 0
    assert tagged(up, run_id) == [], "mlinfra down destroyed the kept stack"
    assert kept.all_kept() == []


def test_reuse_after_the_emulator_was_restarted(pytester: pytest.Pytester, up: EmulatorProcess) -> None:
    pytester.makepyfile(test_it=USES_STACK)
    first = _session(pytester, f"--mlinfra-stack={SMALL}")
    first.assert_outcomes(passed=2)
    old = _kept_id(first.stdout.str(), "deployed")

    service.terminate(up.pid)  # the service dies (a reboot, a kill): the kept stack went with it
    stopped = _session(pytester, f"--mlinfra-stack={SMALL}")
    assert stopped.ret == pytest.ExitCode.USAGE_ERROR
    stopped.stdout.fnmatch_lines(
        ["*--mlinfra-reuse on the local target needs the embedded AWS running*mlinfra up*"]
    )

    restarted, started = service.start_service()
    assert started
    again = _session(pytester, f"--mlinfra-stack={SMALL}")
    again.assert_outcomes(passed=2)
    again.stdout.fnmatch_lines(
        [f"*kept stack {old} is gone (the embedded AWS was restarted since); deploying anew"]
    )
    new = _kept_id(again.stdout.str(), "deployed")
    assert new != old and tagged(restarted, new)
    assert service_cli.down_main([]) == 0
    assert not restarted.alive()


def test_a_stack_of_another_user_or_source_is_not_reused(
    pytester: pytest.Pytester, up: EmulatorProcess, tmp_path: Path
) -> None:
    pytester.makepyfile(test_it=USES_STACK)
    first = _session(pytester, f"--mlinfra-stack={SMALL}")
    theirs = _kept_id(first.stdout.str(), "deployed")
    record = next(k for k in kept.all_kept() if k.run_id == theirs)
    record.owner = "alice"
    record.save()

    mine = _session(pytester, f"--mlinfra-stack={SMALL}")
    mine.assert_outcomes(passed=2)
    mine.stdout.fnmatch_lines([f"mlinfra: reuse: {theirs} of this stack is kept by alice: not reused*"])
    my_id = _kept_id(mine.stdout.str(), "deployed")

    other_source = tmp_path / "other-stack"
    shutil.copytree(SMALL, other_source)
    other = _session(pytester, f"--mlinfra-stack={other_source}")
    other.assert_outcomes(passed=2)
    other_id = _kept_id(other.stdout.str(), "deployed")
    assert len({theirs, my_id, other_id}) == 3
    assert all(tagged(up, run_id) for run_id in (theirs, my_id, other_id)), "no kept stack was touched"


def test_a_second_session_on_a_kept_stack_in_use_refuses(
    pytester: pytest.Pytester, up: EmulatorProcess
) -> None:
    pytester.makepyfile(test_it=USES_STACK)
    run_id = _kept_id(_session(pytester, f"--mlinfra-stack={SMALL}").stdout.str(), "deployed")
    wait = pytester.path / "wait"
    wait.mkdir()
    (wait / "test_wait.py").write_text(
        "import pathlib, time\n"
        "def test_holds_the_stack(mlinfra_stack):\n"
        "    here = pathlib.Path(__file__).parent\n"
        "    (here / 'holding').write_text('1')\n"
        "    deadline = time.monotonic() + 300\n"
        "    while not (here / 'go').exists() and time.monotonic() < deadline:\n"
        "        time.sleep(0.1)\n"
    )
    command = [
        sys.executable,
        "-m",
        "pytest",
        "--mlinfra-reuse",
        f"--mlinfra-stack={SMALL}",
        "-p",
        "no:cacheprovider",
    ]
    holder = subprocess.Popen(
        [*command, "--mlinfra-no-audit", str(wait)], cwd=pytester.path, stdout=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 300
        while not (wait / "holding").exists() and holder.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (wait / "holding").exists(), "the first session took the kept stack"
        state = next(k for k in kept.all_kept() if k.run_id == run_id).workdir / "stack" / "terraform.tfstate"
        before = state.read_bytes()
        second = _session(pytester, f"--mlinfra-stack={SMALL}", "test_it.py")
        assert second.ret == pytest.ExitCode.USAGE_ERROR
        second.stdout.fnmatch_lines(
            [
                f"*mlinfra: kept stack {run_id} is in use by another session (pid {holder.pid})*",
            ]
        )
        assert state.read_bytes() == before, "the second session did not touch the state"
    finally:
        (wait / "go").write_text("1")
        out, _ = holder.communicate(timeout=300)
    assert holder.returncode == 0, out[-3000:]
    assert f"reused {run_id}: no changes" in out


def test_xdist_with_reuse(pytester: pytest.Pytester, up: EmulatorProcess) -> None:
    pytester.makepyfile(test_it=USES_STACK + USES_STACK.replace("test_bucket", "test_again"))
    first = _session(pytester, "-n", "2", f"--mlinfra-stack={SMALL}")
    first.assert_outcomes(passed=3)
    run_id = _kept_id(first.stdout.str(), "deployed")
    second = _session(pytester, "-n", "2", f"--mlinfra-stack={SMALL}")
    second.assert_outcomes(passed=3)
    second.stdout.fnmatch_lines([f"mlinfra: reused {run_id}: no changes"])
    assert tagged(up, run_id), "kept after the xdist session"
    assert service_cli.down_main(["--keep-running"]) == 0
    assert tagged(up, run_id) == []
