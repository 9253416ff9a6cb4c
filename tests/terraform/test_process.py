"""The Terraform process runner: own process group, interrupt forwarding, parent-death signal.

Real processes and real signals: a stand-in "terraform" (a shell script that behaves like Terraform
on SIGINT: finishes its current step, writes its state, exits 1) where Terraform's timing would make
the test slow, the real Terraform for the line callback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_mlinfra import interrupts
from pytest_mlinfra.terraform.process import TerraformInterrupted, TerraformProcess, group_alive, spawn
from pytest_mlinfra.terraform.toolchain import find_terraform

FAKE_TERRAFORM = """#!/bin/sh
# Like Terraform: on the first SIGINT finish the step in flight, write state, exit 1.
trap 'echo "Interrupt received"; sleep 1; echo saved > state; exit 1' INT
echo "pgid $(ps -o pgid= $$)"
sleep 0.2 &
echo "Creating..."
while true; do sleep 0.1; done
"""


def _fake(tmp_path: Path) -> Path:
    path = tmp_path / "terraform"
    path.write_text(FAKE_TERRAFORM)
    path.chmod(0o755)
    return path


@pytest.fixture
def interruptible() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt here, as in a foreground pytest: a background job (``pytest &``
    in a CI script) starts with SIGINT ignored, and the interrupt this test sends itself would vanish."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _interrupt_main_thread_after(seconds: float) -> None:
    def fire() -> None:
        time.sleep(seconds)
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

    threading.Thread(target=fire, daemon=True).start()


@pytest.mark.usefixtures("interruptible")
def test_interrupt_is_forwarded_and_waited_for(tmp_path: Path) -> None:
    lines: list[str] = []
    tf = TerraformProcess(str(tmp_path), binary=str(_fake(tmp_path)), on_line=lines.append)
    interrupts.reset()
    _interrupt_main_thread_after(1.0)
    started = time.monotonic()
    with pytest.raises(TerraformInterrupted) as stopped:
        tf.execute_command("apply")
    assert (tmp_path / "state").read_text() == "saved\n", "the child finished its step before we went on"
    assert time.monotonic() - started >= 1.9
    assert stopped.value.command == "apply"
    assert "Interrupt received" in lines and "Creating..." in lines
    pgid = int(lines[0].split()[1])
    assert pgid != os.getpgrp(), "terraform runs in a process group of its own"
    assert not group_alive(pgid), "nothing of the group outlives the command"


def test_line_callback_sees_real_terraform_output(tmp_path: Path) -> None:
    lines: list[str] = []
    binary = str(find_terraform().path)
    env = {"CHECKPOINT_DISABLE": "1", "TF_CLI_CONFIG_FILE": os.devnull}
    out = TerraformProcess(str(tmp_path), binary=binary, env=env, on_line=lines.append).execute_command(
        "version", "-json"
    )
    assert '"terraform_version"' in out.out
    assert any('"terraform_version"' in line for line in lines)
    assert all(not line.endswith("\n") for line in lines)


def test_children_die_with_a_sigkilled_parent(tmp_path: Path) -> None:
    """PR_SET_PDEATHSIG: a child of a process killed with SIGKILL gets SIGTERM, even if it was
    spawned from a short-lived thread (spawn forks from a long-lived one)."""
    script = textwrap.dedent(
        f"""
        import sys, threading, time
        sys.path.insert(0, {str(Path(__file__).parents[2] / "src")!r})
        from pytest_mlinfra.terraform.process import spawn
        procs = []
        t = threading.Thread(target=lambda: procs.append(spawn(["sleep", "300"])))
        t.start(); t.join()
        print(procs[0].pid, flush=True)
        time.sleep(300)
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    time.sleep(0.5)
    os.kill(child, 0)  # alive while the parent lives, though its spawning thread has ended
    os.killpg(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(child, signal.SIGKILL)
    pytest.fail("the child outlived its SIGKILLed parent")


def test_spawn_puts_the_child_in_its_own_session() -> None:
    proc = spawn(["sleep", "5"])
    try:
        assert os.getsid(proc.pid) == proc.pid
    finally:
        proc.kill()
        proc.wait()


def test_a_child_of_a_background_job_still_takes_the_interrupt(tmp_path: Path) -> None:
    """``pytest &`` in a script starts with SIGINT and SIGQUIT ignored, which exec keeps: the
    children we spawn start with them at default, so the interrupt we forward arrives."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGQUIT)}
    try:
        proc = spawn(["sh", "-c", "grep SigIgn /proc/self/status"], stdout=subprocess.PIPE, text=True)
        out, _ = proc.communicate(timeout=30)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    ignored = int(out.split()[1], 16)
    for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM):
        assert not ignored & (1 << (sig - 1)), f"{sig.name} is ignored in the child ({out.strip()})"
