"""Fault injection through the real path: real pytest runs of a user's test file, real Terraform,
the real AWS provider, the embedded AWS or a real LocalStack, real signals to real process groups.

After each fault: the exit code and the lines printed, the ledger's final status, no process of the
run alive, and nothing deployed (the state is empty, or a tag sweep of the run id finds nothing).
Run alone with ``pytest -m faults``. Each case prints its figure (signal to exit, reap seconds).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_mlinfra.localstack_ext.launcher import LocalStack
from pytest_mlinfra.sweep import Sweep, _EndpointTarget

from .harness import (
    FaultRun,
    applying_for,
    output_has,
    start,
    state_resources,
    status_is,
    wait_no_processes,
)

SIGNALS = [signal.SIGINT, signal.SIGTERM]


def _figure(name: str, value: str) -> None:
    sys.stdout.write(f"\nFIGURE {name}: {value}\n")


def _assert_clean_local(run: FaultRun) -> None:
    assert run.statuses[-1] == "destroyed", run.statuses
    assert not (run.runs_dir / run.run_id).exists(), "a clean run leaves no run dir"
    assert wait_no_processes(run) == [], "no process of the run outlives it"


def _tagged_at(endpoint: str, run_id: str) -> list[str]:
    """What a tag sweep of the run id finds at the endpoint (the embedded AWS or LocalStack)."""
    target = _EndpointTarget("endpoint", endpoint, "us-east-1")
    return [f"{r.kind} {r.ident}" for r in Sweep(target, run_id, log=lambda _l: None).find()]


def _tagged(localstack: LocalStack, run_id: str) -> list[str]:
    return _tagged_at(localstack.endpoint_url, run_id)


def _localstack_args(localstack: LocalStack) -> tuple[str, ...]:
    return ("--mlinfra-target=localstack", f"--mlinfra-localstack-endpoint={localstack.endpoint_url}")


def _reap(run: FaultRun, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_mlinfra", "reap", "--runs-dir", str(run.runs_dir), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "MLINFRA_CACHE_DIR": str(run.cache)},
    )


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_signal_during_apply(tmp_path: Path, cache: Path, cleanup: list[FaultRun], signum: int) -> None:
    run = start(tmp_path, cache)
    cleanup.append(run)
    run.wait_until(applying_for(0.0))
    endpoint = str(run.ledgers[-1]["endpoint"])
    run.wait_until(lambda r: bool(_tagged_at(endpoint, r.run_id)))  # apply has created something
    run.send(signum)
    code, seconds = run.finish()
    name = signal.Signals(signum).name
    _figure(f"{name} during apply -> exit", f"{seconds:.1f} s")
    out = run.text
    assert code == 2, out[-3000:]
    assert f"mlinfra: {name} received" in out
    assert "mlinfra: terraform apply stopped after" in out, "the interrupted apply is waited for"
    assert "Error acquiring the state lock" not in out
    assert "mlinfra: destroy: done in" in out and "mlinfra: target local: stopped" in out
    assert "interrupted" in run.statuses and run.statuses[-2:] == ["destroying", "destroyed"]
    _assert_clean_local(run)


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_signal_during_tests(tmp_path: Path, cache: Path, cleanup: list[FaultRun], signum: int) -> None:
    run = start(tmp_path, cache, env={"FAULT_SLEEP": "300"})
    cleanup.append(run)
    run.wait_until(output_has("FAULT-TEST-RUNNING"))
    run.send(signum)
    code, seconds = run.finish()
    name = signal.Signals(signum).name
    _figure(f"{name} during tests -> exit", f"{seconds:.1f} s")
    out = run.text
    assert code == 2, out[-3000:]
    assert f"mlinfra: {name} received" in out and "mlinfra: destroy: done in" in out
    assert run.statuses == ["applying", "applied", "destroying", "destroyed"]
    _assert_clean_local(run)


#  A property test whose examples each spend most of their time in a gc callback, as Hypothesis'
#  own gc_callback does for an instant: a KeyboardInterrupt raised there is swallowed by CPython
#  ("Exception ignored in: <function gc_callback>") and the run goes on through 10,000 examples.
GC_CALLBACK_TESTS = """
import gc, time
from hypothesis import given, settings, strategies as st

def slow_gc_callback(phase, info):
    if phase == "start":
        print("FAULT-IN-GC-CALLBACK", flush=True)
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:  # Python code: a signal handler runs in here
            pass

@settings(max_examples=10_000, deadline=None, database=None)
@given(st.integers())
def test_property(mlinfra_stack, value):
    assert mlinfra_stack.outputs["bucket_name"]
    gc.callbacks.append(slow_gc_callback)
    try:
        gc.collect()
    finally:
        gc.callbacks.remove(slow_gc_callback)
    time.sleep(0.2)
"""


def test_sigterm_in_a_gc_callback_of_a_property_test(
    tmp_path: Path, cache: Path, cleanup: list[FaultRun]
) -> None:
    run = start(tmp_path, cache, user_tests=GC_CALLBACK_TESTS)
    cleanup.append(run)
    run.wait_until(output_has("FAULT-IN-GC-CALLBACK"))
    run.send(signal.SIGTERM)  # lands in the callback: it runs 0.5 s of each 0.7 s example
    code, seconds = run.finish(timeout_s=120)
    _figure("SIGTERM in a gc callback of a property test -> exit", f"{seconds:.1f} s")
    out = run.text
    assert code == 2, out[-3000:]
    assert "PytestUnraisableExceptionWarning" not in out and "Exception ignored" not in out, out[-3000:]
    assert "Flaky" not in out, out[-3000:]
    assert "mlinfra: SIGTERM received" in out and "mlinfra: destroy: done in" in out
    assert run.statuses == ["applying", "applied", "destroying", "destroyed"]
    _assert_clean_local(run)


def test_two_sigints_during_apply_keep_the_state(
    tmp_path: Path, cache: Path, cleanup: list[FaultRun]
) -> None:
    """The second interrupt makes Terraform exit at once, even mid-write: the state must survive,
    and what remains is said once, consistently."""
    run = start(tmp_path, cache)
    cleanup.append(run)
    run.wait_until(applying_for(0.0))
    endpoint = str(run.ledgers[-1]["endpoint"])
    run.wait_until(lambda r: bool(_tagged_at(endpoint, r.run_id)))  # apply has created something
    run.send(signal.SIGINT)
    time.sleep(1.0)
    run.send(signal.SIGINT)
    code, seconds = run.finish()
    out = run.text
    state = run.runs_dir / run.run_id / "stack" / "terraform.tfstate"
    size = state.stat().st_size if state.exists() else None
    _figure(
        "two SIGINTs during apply -> exit", f"{seconds:.1f} s, state {size} bytes: {state_resources(run)}"
    )
    assert code == 2, out[-3000:]
    assert size != 0, "a state file is never left empty"
    assert "Nothing was deployed by this run." not in out, out[-3000:]
    assert out.count("nothing stays deployed") == 1, out[-3000:]
    assert "NOT DESTROYED" not in out and "DESTROY FAILED" not in out, out[-3000:]
    assert wait_no_processes(run) == []


def test_two_sigints_during_destroy_on_the_embedded_aws(
    tmp_path: Path, cache: Path, cleanup: list[FaultRun]
) -> None:
    """The embedded AWS stops with the run: no "DESTROY FAILED ... still deployed" after it."""
    run = start(tmp_path, cache)
    cleanup.append(run)
    run.wait_until(status_is("destroying"))
    run.send(signal.SIGINT)
    time.sleep(1.0)
    run.send(signal.SIGINT)
    code, seconds = run.finish()
    out = run.text
    _figure("two SIGINTs during destroy (local) -> exit", f"{seconds:.1f} s")
    assert code == 2, out[-3000:]
    assert "DESTROY FAILED" not in out and "NOT DESTROYED" not in out, out[-3000:]
    assert out.count("nothing stays deployed") == 1, out[-3000:]
    assert wait_no_processes(run) == []


def test_signal_during_destroy_lets_it_finish(tmp_path: Path, cache: Path, cleanup: list[FaultRun]) -> None:
    run = start(tmp_path, cache)
    cleanup.append(run)
    run.wait_until(status_is("destroying"))
    run.send(signal.SIGTERM)
    code, seconds = run.finish()
    _figure("SIGTERM during destroy -> exit", f"{seconds:.1f} s")
    out = run.text
    assert code == 2, out[-3000:]
    assert "SIGTERM received: finishing the destroy first" in out
    _assert_clean_local(run)


def test_failing_test_still_destroys(tmp_path: Path, cache: Path, cleanup: list[FaultRun]) -> None:
    run = start(tmp_path, cache, stack="small", env={"FAULT_FAIL": "1"})
    cleanup.append(run)
    code, _ = run.finish()
    assert code == 1, run.text[-3000:]
    assert "the user's test fails" in run.text
    assert run.statuses == ["applying", "applied", "destroying", "destroyed"]
    _assert_clean_local(run)


def test_failing_apply_destroys_what_it_created(tmp_path: Path, cache: Path, cleanup: list[FaultRun]) -> None:
    run = start(tmp_path, cache, stack="broken_apply")
    cleanup.append(run)
    code, _ = run.finish()
    out = run.text
    assert code == 4, out[-3000:]
    assert "mlinfra: terraform apply failed" in out
    assert run.statuses[0] == "applying" and run.statuses[-1] == "destroyed", run.statuses
    assert (run.runs_dir / run.run_id).exists(), "a failed run keeps its run dir for the printed command"
    assert wait_no_processes(run) == []


def test_second_signal_gives_up_and_reap_finishes(
    tmp_path: Path, cache: Path, cleanup: list[FaultRun], localstack: LocalStack
) -> None:
    run = start(tmp_path, cache, args=_localstack_args(localstack))
    cleanup.append(run)
    run.wait_until(status_is("destroying"))
    run.send(signal.SIGTERM)
    time.sleep(0.3)
    run.send(signal.SIGTERM)
    code, seconds = run.finish()
    _figure("second SIGTERM during destroy -> exit", f"{seconds:.1f} s")
    out = run.text
    assert code == 2, out[-3000:]
    assert "second signal (SIGTERM): stopping now, without finishing destroy" in out
    assert f"finish with: mlinfra reap --runs-dir {run.runs_dir} {run.run_id}" in out
    assert run.statuses[-1] == "interrupted"
    assert wait_no_processes(run) == []
    left_before = _tagged(localstack, run.run_id)
    reaped = _reap(run, run.run_id)
    assert reaped.returncode == 0, reaped.stdout + reaped.stderr
    assert f"{run.run_id}: reaped" in reaped.stdout
    _figure("reap after a second signal", f"{len(left_before)} tagged before, {reaped.stdout.strip()}")
    assert _tagged(localstack, run.run_id) == []
    assert not (run.runs_dir / run.run_id).exists()


def test_sigkill_during_apply_then_reap(
    tmp_path: Path, cache: Path, cleanup: list[FaultRun], localstack: LocalStack
) -> None:
    run = start(tmp_path, cache, args=_localstack_args(localstack))
    cleanup.append(run)
    run.wait_until(applying_for(0.0))
    run.wait_until(lambda r: bool(_tagged(localstack, r.run_id)))  # apply has created something
    run.send(signal.SIGKILL)
    code, _ = run.finish()
    assert code == -signal.SIGKILL
    assert wait_no_processes(run) == [], "Terraform and the provider die with the killed run"
    assert run.statuses[-1] == "applying", "the ledger tells what the run was doing"
    before = _tagged(localstack, run.run_id)
    assert before, "the killed apply left resources on the persistent endpoint"
    state = run.runs_dir / run.run_id / "stack" / "terraform.tfstate"
    size = state.stat().st_size if state.exists() else None
    _figure("left by a SIGKILLed apply", f"state {size} bytes: {state_resources(run)}; tagged: {before}")
    listed = subprocess.run(
        [sys.executable, "-m", "pytest_mlinfra", "runs", "--runs-dir", str(run.runs_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert f"{run.run_id}  applying" in listed.stdout and "localstack" in listed.stdout
    started = time.monotonic()
    reaped = _reap(run, "--all")
    seconds = time.monotonic() - started
    assert reaped.returncode == 0, reaped.stdout + reaped.stderr
    _figure(
        "reap of a SIGKILLed apply",
        f"{seconds:.1f} s, tagged before: {before}; reap said: {reaped.stdout.strip()!r}",
    )
    assert _tagged(localstack, run.run_id) == []
    assert not (run.runs_dir / run.run_id).exists()


def test_target_killed_mid_run(
    tmp_path: Path, cache: Path, cleanup: list[FaultRun], localstack: LocalStack
) -> None:
    run = start(tmp_path, cache, args=_localstack_args(localstack), env={"FAULT_SLEEP": "4"})
    cleanup.append(run)
    run.wait_until(output_has("FAULT-TEST-RUNNING"))
    localstack.stop(grace_s=0)
    code, _ = run.finish()
    out = run.text
    assert code == 1, out[-3000:]
    assert "DESTROY FAILED, 4 resources still deployed" in out
    assert f"finish with: mlinfra reap --runs-dir {run.runs_dir} {run.run_id}" in out
    assert run.statuses[-1] == "destroy-failed"
    assert wait_no_processes(run) == []
    assert state_resources(run), "the state still lists what may be deployed"
    localstack.start()  # the same port, empty: what the run created went with the killed LocalStack
    reaped = _reap(run, run.run_id)
    assert reaped.returncode == 0, reaped.stdout + reaped.stderr
    assert _tagged(localstack, run.run_id) == []
    assert not (run.runs_dir / run.run_id).exists()
