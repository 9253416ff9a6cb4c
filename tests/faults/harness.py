"""Drive a real pytest run of a user's test file and hurt it: signals, SIGKILL, a dead endpoint.

The run is started in a session (process group) of its own, like a shell's job control (``set -m``)
does, and signals go to that whole group, as a terminal's Ctrl-C or a CI runner's cancel would send
them. A watcher copies the run's ledger whenever it changes, so the test sees every status even
after a clean run has removed its run dir.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_mlinfra.ledger import finished_runs

REPO = Path(__file__).resolve().parents[2]
STACKS = REPO / "tests" / "stacks"

USER_TESTS = """
import os, time

def test_stack_is_deployed(mlinfra_stack):
    assert mlinfra_stack.outputs["bucket_name"]
    print("FAULT-TEST-RUNNING", flush=True)
    time.sleep(float(os.environ.get("FAULT_SLEEP", "0")))
    assert not os.environ.get("FAULT_FAIL"), "the user's test fails"
"""


@dataclass
class FaultRun:
    """One ``pytest`` process against a stack, in its own cache (so its runs dir holds one run)."""

    proc: subprocess.Popen[str]
    cache: Path
    output: Path
    ledgers: list[dict[str, Any]] = field(default_factory=list)
    signalled_at: float | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def runs_dir(self) -> Path:
        return self.cache / "runs"

    @property
    def text(self) -> str:
        return self.output.read_text(errors="replace")

    @property
    def run_id(self) -> str:
        return str(self.ledgers[-1]["run_id"]) if self.ledgers else ""

    @property
    def statuses(self) -> list[str]:
        """The ledger's status history: from the journal once a clean run removed its run dir."""
        finished = [e for e in finished_runs(self.runs_dir) if e.get("run_id") == self.run_id]
        latest = finished[-1] if finished else (self.ledgers[-1] if self.ledgers else {})
        return [entry["status"] for entry in latest.get("history", [])]

    def watch(self) -> None:
        last = ""
        while not self._stop.is_set():
            for path in self.runs_dir.glob("*/mlinfra-run.json"):
                try:
                    text = path.read_text()
                    data = json.loads(text)
                except (OSError, ValueError):
                    continue
                if text != last:
                    last = text
                    self.ledgers.append(data)
            time.sleep(0.05)

    def wait_until(self, condition: Callable[[FaultRun], bool], timeout_s: float = 180) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition(self):
            if self.proc.poll() is not None:
                raise AssertionError(f"pytest ended (rc {self.proc.returncode}) first:\n{self.text[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out waiting; ledger statuses {self.statuses}\n{self.text[-3000:]}"
                )
            time.sleep(0.05)

    def send(self, signum: int) -> None:
        """The signal to the whole process group, as a terminal or a CI runner sends it."""
        if self.signalled_at is None:
            self.signalled_at = time.monotonic()
        os.killpg(self.proc.pid, signum)

    def finish(self, timeout_s: float = 240) -> tuple[int, float]:
        """Exit code and seconds from the first signal to exit."""
        try:
            code = self.proc.wait(timeout=timeout_s)
        finally:
            time.sleep(0.2)  # let the watcher see the last ledger write
            self._stop.set()
        ended = time.monotonic()
        return code, ended - (self.signalled_at or ended)

    def kill_all(self) -> None:
        """Cleanup after a failed test: nothing of this run may stay."""
        for pid in processes_of(self):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)


def start(
    tmp_path: Path,
    cache: Path,
    stack: str = "network",
    args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    user_tests: str = USER_TESTS,
) -> FaultRun:
    tests = tmp_path / "user"
    tests.mkdir(exist_ok=True)
    (tests / "test_user.py").write_text(user_tests)
    output = tmp_path / "pytest.out"
    full_env = {
        **os.environ,
        "MLINFRA_CACHE_DIR": str(cache),
        "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
        **(env or {}),
    }
    full_env.pop("PYTEST_ADDOPTS", None)
    with open(output, "w") as sink:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pytest",
                "-p",
                "no:cacheprovider",
                "-s",
                f"--mlinfra-stack={STACKS / stack}",
                *args,
                str(tests / "test_user.py"),
            ],
            cwd=tests,
            env=full_env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,  # job control: its own process group, as `set -m` gives a job
            preexec_fn=_as_a_job,
        )
    run = FaultRun(proc, cache, output)
    threading.Thread(target=run.watch, daemon=True).start()
    return run


def _as_a_job() -> None:
    """A job under ``set -m`` starts with SIGINT/SIGQUIT at default, even where the test runner
    itself runs as a background job (which ignores them, and exec would pass that on)."""
    for sig in (signal.SIGINT, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_DFL)


def processes_of(run: FaultRun) -> list[int]:
    """Processes of the run still alive: in its session, or working inside its runs dir
    (Terraform and its provider run in sessions of their own, in the run's stack dir)."""
    found = []
    runs = str(run.runs_dir.resolve())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if stat[0] == "Z":
                continue
            session = int(stat[3])
            cwd = os.readlink(entry / "cwd")
        except (OSError, ValueError, IndexError):
            continue
        if session == run.proc.pid or cwd.startswith(runs):
            found.append(pid)
    return found


def wait_no_processes(run: FaultRun, timeout_s: float = 10) -> list[int]:
    """Give orphans a moment to die (PR_SET_PDEATHSIG is asynchronous); what stays is a leak."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = processes_of(run)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def state_resources(run: FaultRun) -> list[str]:
    state = run.runs_dir / run.run_id / "stack" / "terraform.tfstate"
    try:
        data = json.loads(state.read_text())
    except (OSError, ValueError):  # no state, or an empty one (Terraform killed before writing it)
        return []
    return [r["type"] for r in data.get("resources", []) if r.get("instances")]


def applying_for(seconds: float) -> Callable[[FaultRun], bool]:
    """True once ``terraform apply`` has run for ``seconds`` (per the ledger)."""

    def check(run: FaultRun) -> bool:
        if not run.ledgers:
            return False
        history = run.ledgers[-1].get("history", [])
        started = [h["at"] for h in history if h["status"] == "applying"]
        return bool(started) and time.time() - started[-1] >= seconds

    return check


def status_is(status: str) -> Callable[[FaultRun], bool]:
    return lambda run: bool(run.ledgers) and run.ledgers[-1]["status"] == status


def output_has(text: str) -> Callable[[FaultRun], bool]:
    return lambda run: text in run.text
