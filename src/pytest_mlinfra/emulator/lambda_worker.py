"""One execution environment: ``python -I -S bootstrap.py <handler>`` running awslambdaric.

Like a Lambda execution environment: started on the first invoke (cold start, its time reported as
``Init Duration``), kept for later invokes (warm), killed on timeout, when it uses more memory
than ``MemorySize`` (as AWS does: ``signal: killed``), on a code or configuration change and when
the emulator stops. The interpreter sees only the sandbox's packages
(:mod:`pytest_mlinfra.emulator.lambda_sandbox`): ``/var/task``, ``PYTHONPATH``, ``/opt``, the
managed runtime and the standard library. The worker's stdout/stderr go to a log file; each invocation's
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

from pytest_mlinfra.children import spawn
from pytest_mlinfra.emulator import lambda_report, lambda_sandbox, mounts
from pytest_mlinfra.emulator.runtime_api import Invocation, RuntimeChannel, RuntimeServer

_POLL_S = 0.05
INIT_LIMIT_S = 10.0  # AWS gives the init phase of an on-demand function 10 s
# How the Lambda service (written in Go) words a runtime's death: Go's os.ProcessState strings.
_SIGNALS = {
    1: "hangup", 2: "interrupt", 3: "quit", 4: "illegal instruction", 5: "trace/breakpoint trap",
    6: "aborted", 7: "bus error", 8: "floating point exception", 9: "killed", 11: "segmentation fault",
    13: "broken pipe", 14: "alarm clock", 15: "terminated",
}  # fmt: skip


def exit_text(returncode: int | None) -> str:
    """``exit status 3``, ``signal: segmentation fault``, ``signal: killed``, as AWS reports them."""
    if returncode is None:
        return "signal: killed"
    if returncode < 0:
        return f"signal: {_SIGNALS.get(-returncode, f'signal {-returncode}')}"
    return f"exit status {returncode}"


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
    runtime_packages: str = ""  # awslambdaric/boto3 built for ``python`` ("" = its own environment)
    tmp_mb: int = 512  # EphemeralStorage: the size of the private /tmp
    opt_dir: Path | None = None  # the function's layers, extracted in order (seen at /opt)
    provided: tuple[str, ...] = ()  # distributions stood in from the host (declared), last on sys.path


@dataclass
class Outcome:
    payload: bytes
    error: bool
    log: str
    duration_ms: float
    init_ms: float | None
    timed_out: bool = False
    cold: bool = False


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
        self.relocated = False  # True: the AWS layout (/var/task, /var/runtime, private /tmp)
        # Managed by the pool: whether an invocation holds this environment, and since when it idles.
        self.busy = False
        self.created = self.last_used = time.monotonic()

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

    def _environment(self, task_root: str, runtime_dir: str) -> dict[str, str]:
        spec = self.spec
        assert self._server is not None
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "HOME": os.environ.get("HOME", "/tmp"),
            "LAMBDA_TASK_ROOT": task_root,
            "LAMBDA_RUNTIME_DIR": runtime_dir,
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
        spec = self.spec
        self._channel = RuntimeChannel()
        self._cold = True
        self._server = RuntimeServer(self._channel)
        provided = lambda_sandbox.provided_entries(spec.python, spec.provided, spec.runtime_packages)
        runtime = lambda_sandbox.interpreter(spec.python, spec.runtime_packages)
        sandbox = lambda_sandbox.Sandbox(spec.task_root, runtime, spec.opt_dir, spec.tmp_mb, provided)
        self.relocated = mounts.relocates(list(spec.mounts), sandbox)
        if self.relocated:
            task_root, runtime_dir = lambda_sandbox.TASK_ROOT, lambda_sandbox.RUNTIME_DIR
        else:
            task_root = str(spec.task_root)
            runtime_dir = str(sandbox.host_runtime_dir(spec.log_dir.parent / "lambda-runtime"))
        env = self._environment(task_root, runtime_dir)
        if provided:
            env["MLINFRA_PROVIDED_DIR"] = (
                lambda_sandbox.PROVIDED_DIR if self.relocated else f"{runtime_dir}/provided"
            )
        if not (self.relocated and mounts.private_tmp(sandbox)):
            private = spec.log_dir.parent / "lambda-tmp" / self._log_path.stem
            private.mkdir(parents=True, exist_ok=True)
            env["TMPDIR"] = str(private)
        bootstrap = [self.python, "-I", "-S", "-B", "-u", f"{runtime_dir}/bootstrap.py", spec.handler]
        argv = mounts.wrap(bootstrap, list(spec.mounts), env, sandbox if self.relocated else None)
        spec.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self._log_path, "ab") as log:
            self._spawned = time.monotonic()
            # spawn: its own session, and PR_SET_PDEATHSIG from a long-lived thread (this one is a
            # request thread): the worker dies with the emulator's process, even by SIGKILL.
            self._proc = spawn(
                argv,
                cwd=spec.task_root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
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
            status, error_type = None, None
            max_memory = self._max_memory_mb()
            if outcome == "timeout":
                output += lambda_report.timed_out_line(request_id, self.spec.timeout_s)
                status = "timeout"
                duration_ms = self.spec.timeout_s * 1000
            elif outcome in ("crash", "oom"):
                status, error_type = "error", "Runtime.ExitError"
                if outcome == "oom":
                    error_type, max_memory = "Runtime.OutOfMemory", self.spec.memory_mb
                output += f"RequestId: {request_id} Error: Runtime exited with error: {self._exit_text()}\n"
                output += "Runtime.ExitError\n"
            report = lambda_report.Report(
                request_id,
                self.spec.version,
                duration_ms,
                self.spec.memory_mb,
                max_memory,
                init_ms,
                status,
                error_type,
            )
            payload = self._payload(invocation, outcome, request_id)
            if outcome != "done" or self._channel.init_error is not None:
                self.kill()
            return Outcome(
                payload,
                invocation.error or outcome != "done",
                lambda_report.render(report, output),
                duration_ms,
                init_ms,
                timed_out=outcome == "timeout",
                cold=cold,
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
            if self._rss_mb() > self.spec.memory_mb:
                self._signal_kill()  # over MemorySize: the sandbox is killed, as on AWS
                return "oom"

    def _payload(self, invocation: Invocation, outcome: str, request_id: str) -> bytes:
        if outcome == "timeout":
            message = f"RequestId: {request_id} Error: Task timed out after {self.spec.timeout_s:.2f} seconds"
            return json.dumps({"errorType": "Sandbox.Timedout", "errorMessage": message}).encode()
        if outcome in ("crash", "oom"):
            message = f"RequestId: {request_id} Error: Runtime exited with error: {self._exit_text()}"
            return json.dumps({"errorType": "Runtime.ExitError", "errorMessage": message}).encode()
        return invocation.result

    def _exit_text(self) -> str:
        proc = self._proc
        if proc is None:
            return exit_text(None)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=2)
        return exit_text(proc.returncode)

    def _signal_kill(self) -> None:
        if self._proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGKILL)

    def _rss_mb(self) -> float:
        """Resident memory of the runtime now (VmRSS), in MB."""
        if self._proc is None:
            return 0.0
        try:
            for line in Path(f"/proc/{self._proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except (OSError, ValueError, IndexError):
            pass
        return 0.0

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
