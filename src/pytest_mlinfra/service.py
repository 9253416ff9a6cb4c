"""The embedded AWS as a process of its own, found again through a small JSON record.

Two users: ``mlinfra up`` starts one that outlives pytest sessions (so a kept stack can be reused by
the next session), recorded in ``<cache>/service/local.json``; the first pytest-xdist worker starts
one for the session (every worker talks to it; the controller stops it). Either way the process is
``python -m pytest_mlinfra.emulator`` in its own process group, on 127.0.0.1, with a state dir, and
``instance`` changes on every start so a kept stack knows when its emulator was restarted under it.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import signal
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.terraform.toolchain import cache_root

if TYPE_CHECKING:
    from pytest_mlinfra.emulator.config import EmulatorConfig

_MODULE = "pytest_mlinfra.emulator"


@dataclass(frozen=True)
class EmulatorProcess:
    """A running ``python -m pytest_mlinfra.emulator``: where it answers and where it keeps state."""

    pid: int
    endpoint_url: str
    state_dir: Path
    instance: str
    started: float

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "state_dir": str(self.state_dir)}, indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EmulatorProcess:
        return cls(
            pid=int(data["pid"]),
            endpoint_url=str(data["endpoint_url"]),
            state_dir=Path(data["state_dir"]),
            instance=str(data["instance"]),
            started=float(data["started"]),
        )

    def alive(self) -> bool:
        """The recorded process is still our emulator and it accepts connections."""
        if not _is_emulator(self.pid):
            return False
        parts = urlsplit(self.endpoint_url)
        try:
            with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=2):
                return True
        except OSError:
            return False

    def efs_storage(self, file_system_id: str) -> Path:
        """EFS contents on disk (the emulator keeps each file system under ``state_dir/efs``)."""
        path = self.state_dir / "efs" / file_system_id
        if not path.is_dir():
            raise MlinfraError(
                f"EFS file system {file_system_id} has no storage in {self.state_dir}",
                "check the id in the stack outputs, or re-apply the stack",
            )
        return path


def _is_emulator(pid: int) -> bool:
    """``pid`` runs our emulator module and is not a zombie (guards against recycled pids)."""
    _reap(pid)
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return _MODULE.encode() in cmdline and state != "Z"


def _exited(child: int) -> bool:
    """Whether our child process has exited (and is now reaped)."""
    try:
        done, _ = os.waitpid(child, os.WNOHANG)
    except ChildProcessError:
        return True
    return done == child


def _reap(pid: int) -> None:
    """Collect the exit status when the emulator is our own child (no zombie left behind)."""
    with suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def spawn_emulator(
    state_dir: Path,
    port: int = 0,
    watch_pid: int | None = None,
    timeout_s: float = 60.0,
    config: EmulatorConfig | None = None,
) -> EmulatorProcess:
    """Start the emulator in its own session; return once it prints its endpoint (or fail in one line).

    ``watch_pid``: the emulator exits by itself when that process is gone (a session's emulator
    must not outlive a controller that was killed). ``config``: the emulator's whole configuration,
    passed as ``--config`` (None: the emulator takes the documented environment variables).
    """
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    log = state_dir.parent / f"{state_dir.name}.log"
    argv = [sys.executable, "-m", _MODULE, "--port", str(port), "--state-dir", str(state_dir)]
    if watch_pid:
        argv += ["--watch-pid", str(watch_pid)]
    if config is not None:
        argv += ["--config", config.to_json()]
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(log), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    # posix_spawn, not Popen: the process is meant to outlive this one (no Popen left to warn).
    pid = os.posix_spawn(sys.executable, argv, dict(os.environ), file_actions=actions, setsid=True)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        first = log.read_text(errors="replace").splitlines()[:1]
        if first and first[0].startswith("http://"):
            return EmulatorProcess(pid, first[0].strip(), state_dir, secrets.token_hex(4), time.time())
        if _exited(pid):
            lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
            reason = lines[-1] if lines else "no output"
            raise MlinfraError(f"the embedded AWS did not start ({reason})", f"see {log}")
        time.sleep(0.05)
    terminate(pid)
    raise MlinfraError(f"the embedded AWS did not start within {timeout_s:.0f} s", f"see {log}")


def terminate(pid: int, timeout_s: float = 15.0) -> None:
    """SIGTERM (the emulator stops its Lambda workers), then SIGKILL its process group if it hangs."""
    if not _is_emulator(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _is_emulator(pid):
            return
        time.sleep(0.05)
    with suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    # Wait for the kill to land: a zombie left behind here would keep its watchers (the service's
    # provider hosts) waiting for a process that has exited.
    deadline = time.monotonic() + timeout_s
    while _is_emulator(pid) and time.monotonic() < deadline:
        time.sleep(0.05)


# -- the long-lived service (mlinfra up / down / status) -------------------------------------------


def service_dir() -> Path:
    return cache_root() / "service"


def _record_path() -> Path:
    return service_dir() / "local.json"


@contextmanager
def _service_lock() -> Iterator[None]:
    service_dir().mkdir(parents=True, exist_ok=True)
    with open(service_dir() / "lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def recorded_service() -> EmulatorProcess | None:
    """The record ``mlinfra up`` wrote, alive or not (None when there is none)."""
    path = _record_path()
    try:
        return EmulatorProcess.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError):
        return None


def running_service() -> EmulatorProcess | None:
    """The ``mlinfra up`` emulator when it is running now."""
    record = recorded_service()
    return record if record is not None and record.alive() else None


def start_service(port: int = 0, config: EmulatorConfig | None = None) -> tuple[EmulatorProcess, bool]:
    """Start the service unless it runs already; returns it and whether this call started it."""
    with _service_lock():
        record = recorded_service()
        if record is not None and record.alive():
            return record, False
        state_dir = service_dir() / "state"
        if record is not None:  # died (machine rebooted, killed): its state went with it
            _remove_tree(state_dir)
        started = spawn_emulator(state_dir, port=port, config=config)
        tmp = _record_path().with_suffix(".tmp")
        tmp.write_text(started.to_json())
        os.replace(tmp, _record_path())
        return started, True


def stop_service() -> EmulatorProcess | None:
    """Stop the service (if any) and forget it; returns what was recorded."""
    with _service_lock():
        record = recorded_service()
        if record is None:
            return None
        terminate(record.pid)
        _record_path().unlink(missing_ok=True)
        _remove_tree(record.state_dir)
        return record


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
