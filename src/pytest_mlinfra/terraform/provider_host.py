"""A provider in debug mode that lives as long as the ``mlinfra up`` service, not one session.

``python -m pytest_mlinfra.terraform.provider_host --watch-pid PID --cwd DIR --out F --err F -- BINARY
-debug`` runs in a session of its own (started with ``setsid`` by :mod:`.reattach`, so it outlives
the pytest session that started it) and holds the provider as its child (PR_SET_PDEATHSIG: the
provider dies with the host, even a killed one). It stops the provider when the watched process
(the service's emulator) is gone, when the stack folder is gone (the kept stack was destroyed), or
on SIGTERM/SIGINT/SIGHUP. A kept stack's re-runs then attach to the provider the first run started,
and ``mlinfra down`` leaves none behind.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from pytest_mlinfra.children import kill_group, pid_running, spawn

POLL_S = 0.5
_MODULE = "pytest_mlinfra.terraform.provider_host"


@dataclass
class ServiceHost:
    """The session side: providers kept by the service whose process is ``watch_pid``, recorded in
    ``root`` (one ``KEY.json`` per running provider, ``KEY.lock`` held by the command using it)."""

    watch_pid: int
    root: Path

    @contextlib.contextmanager
    def attached(
        self, providers: Iterable[Any], cwd: Path, env: Mapping[str, str], unset: Iterable[str] = ()
    ) -> Iterator[str]:
        """As :meth:`.reattach.ProviderPool.attached`; a provider another session is using right now
        is not attached for this command (Terraform starts its own)."""
        from pytest_mlinfra.terraform.reattach import ReattachUnavailable, _key, provider_env

        penv = provider_env(env, unset)
        self.root.mkdir(parents=True, exist_ok=True)
        entries: dict[str, Any] = {}
        with contextlib.ExitStack() as held:  # each lock is held until the command ends
            for provider in providers:
                key = _key(provider, cwd, penv)
                lock = held.enter_context(open(self.root / f"{key}.lock", "w"))
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue
                record = self._running(key)
                if record is None:
                    try:
                        record = self._start(key, provider.address, provider.binary, cwd, penv)
                    except ReattachUnavailable:
                        continue
                entries[provider.address] = record["config"]
            yield json.dumps(entries) if entries else ""

    def pids(self) -> list[int]:
        """The providers this service keeps now."""
        found = []
        for path in sorted(self.root.glob("*.json")):
            record = self._running(path.stem)
            if record is not None:
                found.append(int(record["pid"]))
        return found

    def _running(self, key: str) -> dict[str, Any] | None:
        path = self.root / f"{key}.json"
        try:
            record: dict[str, Any] = json.loads(path.read_text())
            host_argv = Path(f"/proc/{record['host_pid']}/cmdline").read_bytes()
        except (OSError, ValueError, KeyError):
            path.unlink(missing_ok=True)
            return None
        if _MODULE.encode() not in host_argv or not pid_running(int(record["pid"])):
            path.unlink(missing_ok=True)
            return None
        return record

    def _start(
        self, key: str, address: str, binary: Path, cwd: Path, env: Mapping[str, str]
    ) -> dict[str, Any]:
        from pytest_mlinfra.terraform.reattach import START_TIMEOUT_S, ReattachUnavailable, read_reattach_line

        out, err = self.root / f"{key}.out", self.root / f"{key}.err"
        out.unlink(missing_ok=True)
        argv = [sys.executable, "-m", _MODULE, "--watch-pid", str(self.watch_pid), "--cwd", str(cwd)]
        argv += ["--out", str(out), "--err", str(err), "--", str(binary), "-debug"]
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
            (
                os.POSIX_SPAWN_OPEN,
                2,
                str(self.root / f"{key}.host.log"),
                os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                0o600,
            ),
        ]
        # posix_spawn in a session of its own: the host outlives this session, as the service does.
        host = os.posix_spawn(sys.executable, argv, dict(env), file_actions=actions, setsid=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            text = out.read_text(errors="replace") if out.exists() else ""
            entry = read_reattach_line(text, address)
            if entry is not None:
                record = {"host_pid": host, "pid": int(entry.get("Pid", 0)), "config": entry}
                tmp = self.root / f"{key}.json.tmp"
                tmp.write_text(json.dumps(record))
                os.replace(tmp, self.root / f"{key}.json")
                return record
            done, _ = os.waitpid(host, os.WNOHANG)
            if done == host or time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(host, signal.SIGTERM)
                raise ReattachUnavailable("the service's provider host did not start it")
            time.sleep(0.05)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pytest_mlinfra.terraform.provider_host")
    parser.add_argument("--watch-pid", type=int, required=True)
    parser.add_argument("--cwd", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--err", type=Path, required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    stopping: list[int] = []

    def stop(signum: int, _frame: FrameType | None) -> None:
        stopping.append(signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stop)
    with open(args.out, "wb") as out, open(args.err, "wb") as err:
        proc = spawn(command, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=str(args.cwd))
    try:
        while not stopping and proc.poll() is None and pid_running(args.watch_pid) and args.cwd.is_dir():
            time.sleep(POLL_S)
    finally:
        # No graceful interrupt: with the service or the stack gone nothing can be attached any
        # more, and a debug provider's graceful stop waits on connections (seconds, under load).
        kill_group(proc)
        _remove_socket(args.out)
    return 0


def _remove_socket(out: Path) -> None:
    """The provider's unix socket, named in its reattach line (a killed provider leaves it)."""
    text = out.read_text(errors="replace") if out.exists() else ""
    start = text.find("TF_REATTACH_PROVIDERS='")
    if start < 0:
        return
    with contextlib.suppress(ValueError, StopIteration, AttributeError, OSError):
        raw = text[start + len("TF_REATTACH_PROVIDERS='") :].split("'", 1)[0]
        entry = next(iter(json.loads(raw).values()))
        if entry["Addr"]["Network"] == "unix":
            os.unlink(entry["Addr"]["String"])


if __name__ == "__main__":
    sys.exit(main())
