"""A Lambda runtime executor for LocalStack without Docker: the embedded AWS's awslambdaric worker.

LocalStack's default executor starts a container per execution environment and first downloads
its runtime-init binary (impossible offline, impossible without Docker). This one maps an
execution environment to one :class:`pytest_mlinfra.emulator.lambda_worker.LambdaWorker`: the
function's code unpacked by LocalStack, LocalStack's environment variables (role credentials,
``AWS_ENDPOINT_URL`` back to LocalStack), the function's EFS access points bind-mounted at
``LocalMountPath`` (:mod:`pytest_mlinfra.emulator.mounts`), timeouts and logs as on the ``local``
target. The handler runs on the CPython its runtime names, found and given the runtime's packages
as on the ``local`` target (:mod:`pytest_mlinfra.emulator.lambda_pythons`; ``$MLINFRA_LAMBDA_PYTHON``,
LocalStack's Python by default, when it is that version); none here: the invoke fails with
``InvalidRuntimeException``-like text saying how to get one.
"""

from __future__ import annotations

import atexit
import importlib.util
import logging
import os
import weakref
from pathlib import Path
from typing import Any

from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.runtime_executor import LambdaRuntimeException, RuntimeExecutor

from pytest_mlinfra.emulator import efs, lambda_pythons, mounts
from pytest_mlinfra.emulator.lambda_sandbox import provided_from_env
from pytest_mlinfra.emulator.lambda_worker import LambdaWorker, WorkerSpec
from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.localstack_ext import LAMBDA_PYTHON_ENV
from pytest_mlinfra.localstack_ext.state import ensure_state, gateway_url

LOG = logging.getLogger(__name__)

# LocalStack's variables that describe its container runtime, not ours.
_NOT_FOR_THE_WORKER = {
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
    "AWS_EXECUTION_ENV",
    "LOCALSTACK_RUNTIME_ID",
    "LOCALSTACK_RUNTIME_ENDPOINT",
    "LOCALSTACK_USER",
}
_workers: weakref.WeakSet[LambdaWorker] = weakref.WeakSet()


def _runtimes_cache() -> Path:
    """Where runtime packages are built: the plugin's cache, shared with the ``local`` target."""
    from pytest_mlinfra.terraform.toolchain import cache_root

    return cache_root() / "lambda-runtimes"


class MlinfraRuntimeExecutor(RuntimeExecutor):  # type: ignore[misc]
    """One execution environment = one warm ``python -m awslambdaric`` process."""

    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id, function_version)
        self._worker: LambdaWorker | None = None

    def start(self, env_vars: dict[str, Any]) -> None:
        state = ensure_state()
        version = self.function_version
        code = version.config.code
        if code is None or not hasattr(code, "get_unzipped_code_location"):
            raise LambdaRuntimeException("container image functions need Docker; use a zip package")
        code.prepare_for_execution()
        env = {key: str(value) for key, value in env_vars.items() if key not in _NOT_FOR_THE_WORKER}
        runtime = str(version.config.runtime or "python3.11")
        architecture = str((version.config.architectures or ["x86_64"])[0])
        try:
            python = lambda_pythons.resolve(runtime, architecture, _runtimes_cache())
        except MlinfraError as exc:
            raise LambdaRuntimeException(str(exc)) from None
        spec = WorkerSpec(
            function_name=version.id.function_name,
            function_arn=version.qualified_arn,
            version=version.id.qualifier,
            handler=version.config.handler or "lambda_function.handler",
            runtime=runtime,
            task_root=code.get_unzipped_code_location(),
            memory_mb=int(version.config.memory_size),
            timeout_s=float(version.config.timeout),
            env=tuple(sorted(env.items())),
            mounts=tuple(self._mounts()),
            region=version.id.region,
            endpoint_url=gateway_url(),
            log_dir=state.state_dir / "lambda-logs",
            python=python.python,
            runtime_packages=python.packages,
            provided=provided_from_env(),
        )
        self._worker = LambdaWorker(spec)
        _workers.add(self._worker)
        self._worker.start()

    def _mounts(self) -> list[mounts.Mount]:
        from pytest_mlinfra.localstack_ext.lambda_provider import file_system_configs

        version_id = self.function_version.id
        result = []
        for config in file_system_configs(version_id.account, version_id.region, version_id.function_name):
            mount = efs.access_point_mount(
                version_id.account, version_id.region, config["Arn"], config["LocalMountPath"]
            )
            if mount is None:
                raise LambdaRuntimeException(f"EFS access point {config['Arn']} does not exist")
            result.append(mount)
        return result

    def stop(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.kill()

    def get_address(self) -> str:
        return "127.0.0.1"

    def get_endpoint_from_executor(self) -> str:
        return gateway_url().split("//", 1)[1].rsplit(":", 1)[0]

    def get_runtime_endpoint(self) -> str:
        return f"{gateway_url()}/_localstack_lambda/{self.id}"

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        worker = self._worker
        if worker is None:
            raise LambdaRuntimeException(f"execution environment {self.id} is stopped")
        request_id = payload["invoke-id"]
        outcome = worker.invoke(payload["payload"].encode(), request_id, payload.get("invoked-function-arn"))
        return InvocationResult(request_id, outcome.payload, outcome.error, outcome.log)

    def get_logs(self) -> str:
        worker = self._worker
        try:
            return worker.log_path.read_text("utf-8", "replace") if worker is not None else ""
        except OSError:
            return ""

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        """Unpack the code; no image, no runtime binary to fetch."""
        code = function_version.config.code
        if code is None or not hasattr(code, "prepare_for_execution"):
            raise LambdaRuntimeException("container image functions need Docker; use a zip package")
        code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        """Nothing beyond what LocalStack removes itself (workers stop with their environment)."""

    @classmethod
    def validate_environment(cls) -> bool:
        python = os.environ.get(LAMBDA_PYTHON_ENV)
        if not python and importlib.util.find_spec("awslambdaric") is None:
            LOG.warning(
                "the mlinfra Lambda executor needs awslambdaric: pip install awslambdaric into "
                "LocalStack's environment, or set %s to a Python that has it",
                LAMBDA_PYTHON_ENV,
            )
            return False
        return True


@atexit.register
def _kill_workers() -> None:
    for worker in list(_workers):
        worker.kill()
