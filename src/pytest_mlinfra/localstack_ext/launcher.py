"""Start and stop LocalStack in host mode from a virtualenv (for CI, tests and users without Docker).

``python -m localstack.runtime.main`` in its own process group, bound to 127.0.0.1 on a free port
(``GATEWAY_SERVER=hypercorn``: the default server ignores the host), no DNS server, no events, no
certificate download, every file under a private directory. ``start()`` returns once
``/_localstack/health`` answers; ``stop()`` ends the whole process group (SIGTERM, then SIGKILL)
and the Lambda workers the plugin started, also when the caller failed. Plain Python::

    with LocalStack(venv=Path(".venv-localstack"), plugin=True) as ls:
        ls.endpoint_url  # http://127.0.0.1:PORT
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.localstack_ext import EXECUTOR_ENV, LAMBDA_PYTHON_ENV, SERVICES_ENV, STATE_DIR_ENV
from pytest_mlinfra.ports import free_port

# Where LocalStack is looked for when no venv is given: $MLINFRA_LOCALSTACK_VENV, then ./.venv-localstack.
VENV_ENV = "MLINFRA_LOCALSTACK_VENV"
_PR_SET_PDEATHSIG = 1
_running: weakref.WeakSet[LocalStack] = weakref.WeakSet()
_HOST_MODE = {
    "GATEWAY_SERVER": "hypercorn",
    "DNS_ADDRESS": "0",
    "DISABLE_EVENTS": "1",
    "SKIP_SSL_CERT_DOWNLOAD": "1",
    "LOCALSTACK_CLI": "0",
}


def find_venv(venv: Path | str | None = None) -> Path | None:
    """The LocalStack virtualenv to use, or None when there is none with localstack-core in it."""
    candidates = [venv] if venv else [os.environ.get(VENV_ENV), Path.cwd() / ".venv-localstack"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "bin" / "python").exists():
            path = Path(candidate).absolute()
            if list((path / "lib").glob("python3*/site-packages/localstack/runtime/main.py")):
                return path
    return None


def health(endpoint_url: str, timeout: float = 2.0) -> dict[str, Any]:
    """The parsed ``/_localstack/health`` document (raises OSError/ValueError when none answers)."""
    with urllib.request.urlopen(f"{endpoint_url}/_localstack/health", timeout=timeout) as response:
        document: dict[str, Any] = json.loads(response.read())
    return document


class LocalStack:
    """One LocalStack host-mode process.

    ``plugin``: select this package's EFS, DataSync and Lambda providers and its executor;
    ``executor``: only the Docker-free Lambda executor (EFS/DataSync stay missing, as on
    Community); ``services``: limit LocalStack to these (``SERVICES``); ``env``: anything else.
    The handler runs on ``lambda_python`` (default: the Python running this launcher).
    """

    def __init__(
        self,
        venv: Path | str | None = None,
        *,
        plugin: bool = False,
        executor: bool | None = None,
        services: tuple[str, ...] = (),
        env: Mapping[str, str] | None = None,
        lambda_python: str | None = None,
        workdir: Path | None = None,
        port: int = 0,
        startup_timeout_s: float = 90.0,
    ) -> None:
        found = find_venv(venv)
        if found is None:
            where = venv or f"${VENV_ENV} or ./.venv-localstack"
            raise MlinfraError(
                f"no LocalStack virtualenv at {where}",
                "create one: python3 -m venv .venv-localstack && .venv-localstack/bin/pip install "
                '"localstack-core[runtime]==4.13.1" awslambdaric && '
                ".venv-localstack/bin/pip install --no-deps -e .",
            )
        self.venv = found
        self.plugin = plugin
        self.executor = plugin if executor is None else executor
        self.services = services
        self.extra_env = dict(env or {})
        self.lambda_python = lambda_python or sys.executable
        self._owns_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="mlinfra-localstack-"))
        self.port = port
        self.startup_timeout_s = startup_timeout_s
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "localstack.log"

    def environment(self) -> dict[str, str]:
        root = self.workdir / "fs"
        tmp = self.workdir / "tmp"
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("PROVIDER_OVERRIDE_", "LAMBDA_", "PYTHON", "VIRTUAL_ENV"))
            and key not in ("SERVICES", "GATEWAY_LISTEN", "AWS_ENDPOINT_URL", "LOCALSTACK_HOST")
        }
        env |= _HOST_MODE
        env |= {
            "GATEWAY_LISTEN": f"127.0.0.1:{self.port}",
            "FILESYSTEM_ROOT": str(root),
            "TMPDIR": str(tmp),
            STATE_DIR_ENV: str(self.workdir / "mlinfra"),
            LAMBDA_PYTHON_ENV: self.lambda_python,
            "PATH": f"{self.venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        }
        if self.plugin:
            env |= SERVICES_ENV
        if self.executor:
            env |= EXECUTOR_ENV
        if self.services:
            env["SERVICES"] = ",".join(self.services)
        env |= self.extra_env
        return env

    def start(self) -> LocalStack:
        if self.proc is not None:
            return self
        if not self.port:
            self.port = free_port()
        env = self.environment()
        for directory in (env["FILESYSTEM_ROOT"], env["TMPDIR"]):
            Path(directory).mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [str(self.venv / "bin" / "python"), "-m", "localstack.runtime.main"],
                cwd=self.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends everything it spawned
                preexec_fn=_die_with_parent,
            )
        _running.add(self)
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        while True:
            assert self.proc is not None
            if self.proc.poll() is not None:
                status, last = self.proc.returncode, self._last_line()
                raise MlinfraError(
                    f"LocalStack exited with status {status} while starting: {last}",
                    f"see {self.log_path}",
                )
            with contextlib.suppress(OSError, ValueError):
                if health(self.endpoint_url, timeout=1.0).get("services"):
                    return
            if time.monotonic() > deadline:
                raise MlinfraError(
                    f"LocalStack did not answer on {self.endpoint_url} within {self.startup_timeout_s:.0f} s",
                    f"see {self.log_path}",
                )
            time.sleep(0.2)

    def _last_line(self) -> str:
        try:
            lines = [
                line for line in self.log_path.read_text("utf-8", "replace").splitlines() if line.strip()
            ]
        except OSError:
            return "no log"
        return lines[-1] if lines else "no output"

    def stop(self, grace_s: float = 15.0) -> None:
        """SIGTERM to the process group (LocalStack stops its services and Lambda workers), then SIGKILL."""
        proc, self.proc = self.proc, None
        _running.discard(self)
        if proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=grace_s)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        self._kill_workers()
        if self._owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _kill_workers(self) -> None:
        """Lambda workers run in sessions of their own: end any left whose task root is ours."""
        for pid in worker_pids(self.workdir):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def worker_pids(workdir: Path) -> list[int]:
    """Pids of Lambda worker process groups whose task root or logs live under ``workdir``."""
    found = []
    needle = str(workdir).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != int(entry.name):
                continue
            cmdline = (entry / "cmdline").read_bytes()
            if b"awslambdaric" not in cmdline and b"bootstrap.py" not in cmdline:
                continue
            # A sandboxed worker's cwd is /var/task inside its mount namespace; its bind mounts
            # (mountinfo's root field) still name the host folders under ``workdir``.
            if needle in os.readlink(entry / "cwd").encode() or needle in (entry / "mountinfo").read_bytes():
                found.append(int(entry.name))
        except (OSError, ValueError):
            continue
    return found


def _die_with_parent() -> None:
    """In the child: SIGTERM when the starting thread dies, even by SIGKILL (Linux; else nothing)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@atexit.register
def _stop_all() -> None:
    """A caller that forgot ``stop()`` (or died of an exception) leaves nothing running."""
    for localstack in list(_running):
        localstack.stop()
