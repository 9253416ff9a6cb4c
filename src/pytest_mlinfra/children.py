"""Child processes that cannot outlive this one: their own session, and PR_SET_PDEATHSIG.

The parent-death signal fires when the *thread* that forked the child exits, so :func:`spawn` forks
from one long-lived thread: children started from short-lived threads (a server's request thread,
e.g. the emulator's Lambda workers) do not die with that thread, only with the process. Used by the
Terraform runner (:mod:`pytest_mlinfra.terraform.process`) and the emulator's Lambda workers.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import queue
import signal
import subprocess
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

_PR_SET_PDEATHSIG = 1
#  After a second interrupt (Terraform exits at once) or the grace period: then SIGKILL the group.
KILL_AFTER_S = 10.0


def _load_prctl() -> Callable[..., int] | None:
    # Resolved in the parent: dlopen/dlsym in a forked child of a threaded parent can deadlock.
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return prctl


def _load_signal() -> Callable[..., int] | None:
    # libc's signal(), not Python's: the child runs preexec in the spawner thread, where Python
    # refuses signal.signal (main thread only).
    try:
        set_handler: Callable[..., int] = ctypes.CDLL(None, use_errno=True).signal
    except (OSError, AttributeError):
        return None
    return set_handler


_prctl = _load_prctl()
_libc_signal = _load_signal()
_SIG_DFL = 0
#  Signals a child must not inherit as ignored: a shell starts background jobs (``pytest &`` in a
#  CI script) with SIGINT and SIGQUIT ignored, and an ignored disposition survives exec, so the
#  interrupt we forward to Terraform (or a trap in any child) would never arrive; SIGTERM is the
#  parent-death signal. SIGHUP is left as inherited (nohup's choice; children run in a session of
#  their own, so no terminal hangs up on them).
_RESET_IN_CHILD = (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM)


def child_preexec(parent_pid: int | None = None) -> Callable[[], None]:
    """A ``preexec_fn`` for Popen: the child gets SIGTERM when the parent dies (Linux; else no-op)
    and starts with default SIGINT/SIGQUIT/SIGTERM even when this process ignores them.

    If the parent is already gone by the time the child runs it (a race with SIGKILL), the child
    exits at once instead of starting as an orphan."""
    parent = os.getpid() if parent_pid is None else parent_pid

    def preexec() -> None:
        if _libc_signal is not None:
            for signum in _RESET_IN_CHILD:
                _libc_signal(int(signum), _SIG_DFL)
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


def pid_running(pid: int) -> bool:
    """Whether a process with this pid runs (one we may not signal counts as running).

    A zombie does not: it has exited, and its parent may never collect it (a process orphaned into a
    container whose pid 1 does not reap), so a watcher waiting for it to go would wait forever."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs (not Linux): the signal check is all there is
    return stat.rsplit(")", 1)[-1].split()[:1] != ["Z"]


def group_alive(pgid: int) -> bool:
    """Whether any process of the group still exists."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
