"""One warm worker process per function version: ``python -m awslambdaric <handler>``.

Like a Lambda execution environment: started on the first invoke (cold start, its time reported as
``Init Duration``), kept for later invokes (warm), killed on timeout, on a code or configuration
change and when the emulator stops. The worker's stdout/stderr go to a log file; each invocation's
slice of that file is what ``LogType=Tail`` returns (the runtime writes before it posts the result,
so the slice is complete when the result arrives).
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
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from pytest_mlinfra.emulator import lambda_report, mounts
from pytest_mlinfra.emulator.runtime_api import Invocation, RuntimeChannel, RuntimeServer

_POLL_S = 0.05
INIT_LIMIT_S = 10.0  # AWS gives the init phase of an on-demand function 10 s


@dataclass(frozen=True)
class WorkerSpec:
    """Everything that defines an execution environment; any change means a new (cold) worker."""

    function_name: str
    function_arn: str
    version: str
    handler: str
    runtime: str
    task_root: Path
    memory_mb: int
    timeout_s: float
    env: tuple[tuple[str, str], ...]
    mounts: tuple[mounts.Mount, ...] = ()
    region: str = "us-east-1"
    endpoint_url: str = ""
    log_dir: Path = field(default=Path("."))
    python: str = ""  # the interpreter that runs awslambdaric (default: this process's own)


@dataclass
class Outcome:
    payload: bytes
    error: bool
    log: str
    duration_ms: float
    init_ms: float | None
    timed_out: bool = False


class LambdaWorker:
    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        self._lock = threading.Lock()
        self._channel = RuntimeChannel()
        self._server: RuntimeServer | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_path = spec.log_dir / f"{spec.function_name}-{uuid.uuid4().hex[:8]}.log"
        self._spawned = 0.0
        self._cold = True

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def python(self) -> str:
        return self.spec.python or sys.executable

    @property
    def log_path(self) -> Path:
        """The worker's stdout/stderr (all invocations, init included)."""
        return self._log_path

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _environment(self) -> dict[str, str]:
        spec = self.spec
        assert self._server is not None
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "HOME": os.environ.get("HOME", "/tmp"),
            "PYTHONPATH": str(spec.task_root),
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "LAMBDA_TASK_ROOT": str(spec.task_root),
            "LAMBDA_RUNTIME_DIR": str(Path(self.python).parent),
            "_HANDLER": spec.handler,
            "AWS_LAMBDA_RUNTIME_API": self._server.address,
            "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(spec.timeout_s)),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.function_name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": self._log_path.stem,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "AWS_REGION": spec.region,
            "AWS_DEFAULT_REGION": spec.region,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
        }
        if spec.endpoint_url:
            env["AWS_ENDPOINT_URL"] = spec.endpoint_url
        env.update(dict(spec.env))
        return env

    def start(self) -> None:
        self._channel = RuntimeChannel()
        self._cold = True
        self._server = RuntimeServer(self._channel)
        env = self._environment()
        argv = mounts.wrap(
            [self.python, "-m", "awslambdaric", self.spec.handler], list(self.spec.mounts), env
        )
        self.spec.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self._log_path, "ab") as log:
            self._spawned = time.monotonic()
            self._proc = subprocess.Popen(
                argv,
                cwd=self.spec.task_root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def invoke(
        self, payload: bytes, request_id: str | None = None, invoked_arn: str | None = None
    ) -> Outcome:
        """Run one invocation to its end (result, error, crash or timeout); one at a time per worker.

        ``invoked_arn`` is the ARN the caller used (the context's ``invoked_function_arn``)."""
        with self._lock:
            if self._proc is None:
                self.start()
            request_id = request_id or str(uuid.uuid4())
            offset = self._log_path.stat().st_size if self._log_path.exists() else 0
            cold, self._cold = self._cold, False
            started = time.monotonic()
            invocation = Invocation(
                request_id, payload, int(self.spec.timeout_s * 1000), invoked_arn or self.spec.function_arn
            )
            self._channel.pending.put(invocation)
            outcome = self._wait(invocation, started + max(INIT_LIMIT_S, self.spec.timeout_s))
            init_ms = (
                (self._channel.ready_at - self._spawned) * 1000 if cold and self._channel.ready_at else None
            )
            if init_ms is not None and invocation.started:
                started = invocation.started
            duration_ms = ((invocation.finished or time.monotonic()) - started) * 1000
            output = self._read_log(offset)
            status = None
            if outcome == "timeout":
                output += lambda_report.timed_out_line(request_id, self.spec.timeout_s)
                status = "timeout"
                duration_ms = self.spec.timeout_s * 1000
            elif outcome == "crash":
                status = "error"
            report = lambda_report.Report(
                request_id,
                self.spec.version,
                duration_ms,
                self.spec.memory_mb,
                self._max_memory_mb(),
                init_ms,
                status,
            )
            if outcome != "done" or self._channel.init_error is not None:
                self.kill()
            return Outcome(
                self._payload(invocation, outcome, request_id),
                invocation.error or outcome != "done",
                lambda_report.render(report, output),
                duration_ms,
                init_ms,
                timed_out=outcome == "timeout",
            )

    def _wait(self, invocation: Invocation, init_deadline: float) -> str:
        """The timeout counts from when the runtime takes the event (init has its own limit, as on AWS)."""
        while True:
            deadline = invocation.started + self.spec.timeout_s if invocation.started else init_deadline
            remaining = deadline - time.monotonic()
            if invocation.done.wait(max(0.0, min(remaining, _POLL_S))):
                return "done"
            if time.monotonic() >= deadline:
                return "timeout"
            if self._proc is not None and self._proc.poll() is not None:
                return "done" if invocation.done.wait(_POLL_S) else "crash"

    def _payload(self, invocation: Invocation, outcome: str, request_id: str) -> bytes:
        if outcome == "timeout":
            message = f"RequestId: {request_id} Error: Task timed out after {self.spec.timeout_s:.2f} seconds"
            return json.dumps({"errorType": "Sandbox.Timedout", "errorMessage": message}).encode()
        if outcome == "crash":
            code = self._proc.returncode if self._proc is not None else None
            message = f"RequestId: {request_id} Error: Runtime exited with error: exit status {code}"
            return json.dumps({"errorType": "Runtime.ExitError", "errorMessage": message}).encode()
        return invocation.result

    def _read_log(self, offset: int) -> str:
        try:
            with open(self._log_path, "rb") as log:
                log.seek(offset)
                return log.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def _max_memory_mb(self) -> int:
        """Peak resident memory of the worker (VmHWM), as ``Max Memory Used``."""
        if self._proc is None:
            return 0
        try:
            for line in Path(f"/proc/{self._proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return max(1, -(-int(line.split()[1]) // 1024))
        except (OSError, ValueError, IndexError):
            pass
        return 0

    def kill(self) -> None:
        """Stop the process (its whole session) and the Runtime API; safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
        server, self._server = self._server, None
        if server is not None:
            server.close()
        self._channel.closed.set()
