"""Terraform (and any other child of a run) as a process the run owns, even when the run dies.

tftest spawns every Terraform command in ``TerraformTest.execute_command``; :class:`TerraformProcess`
overrides exactly that, keeping tftest's parsing of plan/output/state on top. Each child:

- runs in its own session (own process group): a terminal's Ctrl-C reaches pytest only, and the
  run decides what the child gets: one graceful interrupt, then a wait while Terraform saves its
  state and stops its providers (the providers share the group, so a final ``killpg`` reaches them);
- gets ``PR_SET_PDEATHSIG`` (Linux): SIGTERM when the run's process dies, even by SIGKILL. For
  Terraform a SIGTERM is a graceful interrupt, so even a killed run leaves a written state behind.

The parent-death signal fires when the *thread* that forked the child exits, so :func:`spawn` forks
from one long-lived thread: children started from short-lived threads (a server's request thread,
e.g. the emulator's Lambda workers) do not die with that thread. Use ``spawn(argv, ...)`` instead of
``subprocess.Popen`` for any child that must not outlive the run.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

import tftest

from pytest_mlinfra import interrupts

_PR_SET_PDEATHSIG = 1
#  How long an interrupted Terraform may take to finish its in-flight calls and write its state.
INTERRUPT_GRACE_S = 300.0
#  After a second interrupt (Terraform exits at once) or the grace period: then SIGKILL the group.
KILL_AFTER_S = 10.0


def _load_prctl() -> Callable[..., int] | None:
    # Resolved in the parent: dlopen/dlsym in a forked child of a threaded parent can deadlock.
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return prctl


_prctl = _load_prctl()


def child_preexec(parent_pid: int | None = None) -> Callable[[], None]:
    """A ``preexec_fn`` for Popen: the child gets SIGTERM when the parent dies (Linux; else no-op).

    If the parent is already gone by the time the child runs it (a race with SIGKILL), the child
    exits at once instead of starting as an orphan."""
    parent = os.getpid() if parent_pid is None else parent_pid

    def preexec() -> None:
        if _prctl is not None:
            _prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)

    return preexec


class _Spawner:
    """One daemon thread that forks every child, so PR_SET_PDEATHSIG means "when the run dies"."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _loop(self) -> None:
        while True:
            job, future = self._jobs.get()
            try:
                future.set_result(job())
            except BaseException as exc:
                future.set_exception(exc)

    def submit(self, job: Callable[[], Any]) -> Future[Any]:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="mlinfra-spawner", daemon=True)
                self._thread.start()
        future: Future[Any] = Future()
        self._jobs.put((job, future))
        return future


_spawner = _Spawner()


def spawn(argv: Sequence[str], **popen_kwargs: Any) -> subprocess.Popen[Any]:
    """``subprocess.Popen(argv, **popen_kwargs)`` in its own session, dying with this process.

    A signal that interrupts the caller while the child is being started still leaves no orphan:
    the child is killed before the interrupt propagates."""
    popen_kwargs.setdefault("start_new_session", True)
    popen_kwargs["preexec_fn"] = child_preexec()
    future = _spawner.submit(lambda: subprocess.Popen(list(argv), **popen_kwargs))
    interrupted: BaseException | None = None
    while True:
        try:
            proc: subprocess.Popen[Any] = future.result()
            break
        except KeyboardInterrupt as exc:
            interrupted = exc
    if interrupted is not None:
        kill_group(proc)
        raise interrupted
    return proc


def kill_group(proc: subprocess.Popen[Any]) -> None:
    """SIGKILL the child's whole process group (whatever it spawned there) and reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=KILL_AFTER_S)


def group_alive(pgid: int) -> bool:
    """Whether any process of the group still exists."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class TerraformInterrupted(KeyboardInterrupt):
    """Terraform was interrupted by a signal and has stopped (its state is written)."""

    def __init__(self, command: str, signal_name: str, seconds: float) -> None:
        super().__init__(f"{signal_name} during terraform {command}")
        self.command = command
        self.signal_name = signal_name
        self.seconds = seconds


class TerraformProcess(tftest.TerraformTest):  # type: ignore[misc]
    """tftest's Terraform wrapper with an owned child process.

    ``on_line`` gets each stdout line (without the newline) as Terraform writes it, on a reader
    thread; pass ``-json`` to apply/destroy to get Terraform's machine-readable UI events.
    """

    def __init__(
        self,
        tfdir: str,
        binary: str = "terraform",
        env: dict[str, str] | None = None,
        on_line: Callable[[str], None] | None = None,
        interrupt_grace_s: float = INTERRUPT_GRACE_S,
        **kwargs: Any,
    ) -> None:
        super().__init__(tfdir, binary=binary, env=env, **kwargs)
        self.on_line = on_line
        self.interrupt_grace_s = interrupt_grace_s

    def execute_command(self, cmd: str, *cmd_args: str) -> tftest.TerraformCommandOutput:
        out_lines: list[str] = []
        err_chunks: list[str] = []
        proc = spawn(
            [self.binary, cmd, *cmd_args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=self.tfdir,
            env=self.env,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        readers = [
            threading.Thread(target=self._read_stdout, args=(proc, out_lines), daemon=True),
            threading.Thread(target=_drain, args=(proc.stderr, err_chunks), daemon=True),
        ]
        for reader in readers:
            reader.start()
        with interrupts.child_group(proc.pid, f"terraform {cmd}"):
            try:
                retcode = proc.wait()
            except KeyboardInterrupt as exc:
                raise self._stop(proc, cmd, exc) from None
            finally:
                # Terraform stops its providers itself; anything left in the group goes now.
                if group_alive(proc.pid):
                    kill_group(proc)
                for reader in readers:
                    reader.join(timeout=KILL_AFTER_S)
        out, err = "".join(out_lines), "".join(err_chunks)
        if retcode in (1, 11):
            raise tftest.TerraformTestError(f"Error running command {cmd}: {retcode} {out} {err}", err)
        return tftest.TerraformCommandOutput(retcode, out, err)

    def _read_stdout(self, proc: subprocess.Popen[str], lines: list[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if self.on_line is not None:
                with contextlib.suppress(Exception):  # a broken progress printer must not stop Terraform
                    self.on_line(line.rstrip("\n"))

    def _stop(self, proc: subprocess.Popen[str], cmd: str, exc: KeyboardInterrupt) -> TerraformInterrupted:
        """Graceful interrupt, wait while Terraform saves its state; a second signal cuts it short."""
        name = str(exc) or "SIGINT"
        started = time.monotonic()
        interrupts.forward(proc.pid, signal.SIGINT)
        interrupts.report(f"{name}: stopping terraform {cmd} (waiting for it to finish what is in flight)")
        deadline = started + self.interrupt_grace_s
        while proc.poll() is None:
            try:
                proc.wait(timeout=max(0.1, min(5.0, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                if time.monotonic() >= deadline:
                    interrupts.report(
                        f"terraform {cmd} did not stop in {self.interrupt_grace_s:.0f} s: killed"
                    )
                    break
            except KeyboardInterrupt:  # a second signal without our handlers installed
                interrupts.note(signal.SIGINT)
                interrupts.forward(proc.pid, signal.SIGINT)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=KILL_AFTER_S)
                break
        seconds = time.monotonic() - started
        if proc.poll() is None:
            kill_group(proc)
        else:
            interrupts.report(f"terraform {cmd} stopped after {seconds:.1f} s")
        return TerraformInterrupted(cmd, name, seconds)


def _drain(stream: Any, chunks: list[str]) -> None:
    if stream is not None:
        chunks.extend(stream)
