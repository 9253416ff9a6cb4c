"""pid_running: a zombie has exited, so watchers waiting for a process to go do not wait forever."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from pytest_mlinfra.children import pid_running


def test_a_running_child_runs_and_its_zombie_does_not() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert pid_running(child.pid)
        child.kill()
        deadline = time.monotonic() + 10
        while pid_running(child.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not pid_running(child.pid), "exited, not yet collected: a zombie"
        assert os.path.exists(f"/proc/{child.pid}"), "still a zombie here (not reaped yet)"
    finally:
        child.kill()
        child.wait()
    assert not pid_running(child.pid)
