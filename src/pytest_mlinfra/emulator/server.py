"""Start and stop the embedded AWS server (moto, in process, on 127.0.0.1 and a free port).

The server is moto's WSGI dispatcher (the one ``ThreadedMotoServer`` runs, with its host lookup
memoized: :mod:`~pytest_mlinfra.emulator.dispatch`) behind the emulator's operation layer
(:mod:`~pytest_mlinfra.emulator.operations`), behind
:class:`~pytest_mlinfra.emulator.failfast.FailFast` and Lambda's Invoke request checks
(:mod:`~pytest_mlinfra.emulator.invoke_request`) and the HTTP front ends
(:mod:`~pytest_mlinfra.emulator.function_urls`, :mod:`~pytest_mlinfra.emulator.http_api`, routed by
``Host``), behind the replay of answered SDK retries (:mod:`~pytest_mlinfra.emulator.retries`),
with the emulator's backends registered (:mod:`pytest_mlinfra.emulator.install`). moto's state is
process-wide: several ``EmbeddedAWS`` in one process share resources; EFS storage goes to the
``state_dir`` of the most recently started one, and each stops only the Lambda workers it started.
moto's state is reset when the last one stops.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import threading
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any

from pytest_mlinfra.emulator.config import EmulatorConfig
from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.ports import check_port_free


class EmbeddedAWS:
    """An AWS endpoint for boto3, the AWS CLI and the Terraform AWS provider, offline.

    ``state_dir`` holds what the emulator keeps on disk (EFS storage, Lambda code and logs); it is
    created when missing. Without one, a temporary directory is used and removed by ``stop()``.
    ``port=0`` picks a free port. Only 127.0.0.1-style local hosts make sense.
    ``config`` (:class:`~pytest_mlinfra.emulator.config.EmulatorConfig`; default: from the documented
    ``MLINFRA_LAMBDA_*`` variables) says how Lambda behaves: concurrency, ENIs kept after a VPC
    function is deleted (:mod:`~pytest_mlinfra.emulator.lambda_eni`), the host-Python stand-in. The
    keyword arguments of the same names override single fields.
    """

    def __init__(
        self,
        state_dir: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        config: EmulatorConfig | None = None,
        *,
        lambda_concurrency: int | None = None,
        keep_warm_s: float | None = None,
        lambda_eni_release_s: float | None = None,
    ) -> None:
        self.host = host
        self.port = port
        given: dict[str, Any] = {
            "lambda_concurrency": lambda_concurrency,
            "keep_warm_s": keep_warm_s,
            "lambda_eni_release_s": lambda_eni_release_s,
        }
        self.config = replace(
            config or EmulatorConfig.from_env(), **{k: v for k, v in given.items() if v is not None}
        )
        self._owns_state_dir = not state_dir
        # Created by start() (not here), so an emulator that never starts leaves nothing behind.
        own = Path(tempfile.gettempdir()) / f"mlinfra-aws-{secrets.token_hex(6)}"
        self.state_dir = Path(state_dir) if state_dir else own
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._state: Any = None

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> EmbeddedAWS:
        if self._server is not None:
            return self
        from pytest_mlinfra.emulator.moto_surface import check_moto_version

        check_moto_version()
        from moto.moto_server.werkzeug_app import MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        from pytest_mlinfra.emulator import context
        from pytest_mlinfra.emulator.dispatch import CachedDispatcher
        from pytest_mlinfra.emulator.failfast import FailFast
        from pytest_mlinfra.emulator.function_urls import FunctionUrls
        from pytest_mlinfra.emulator.http_api import HttpApis
        from pytest_mlinfra.emulator.install import install
        from pytest_mlinfra.emulator.invoke_request import InvokeRequestChecks
        from pytest_mlinfra.emulator.lambda_pool import WorkerPool
        from pytest_mlinfra.emulator.operations import OperationLayer
        from pytest_mlinfra.emulator.retries import ReplayAnsweredRetries

        if self.port:
            check_port_free(self.host, self.port)
        install()
        self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)

        class QuietHandler(MotoRequestHandler):
            def log_request(self, *args: Any) -> None:  # one line per request drowns test output
                pass

        app = ReplayAnsweredRetries(
            HttpApis(
                FunctionUrls(
                    FailFast(InvokeRequestChecks(OperationLayer(CachedDispatcher(create_backend_app))))
                )
            )
        )
        try:
            server = make_server(self.host, self.port, app, threaded=True, request_handler=QuietHandler)
        except OSError as exc:
            raise MlinfraError(
                f"cannot listen on {self.host}:{self.port} ({exc.strerror or exc})",
                "pick another port, or 0 for a free one",
            ) from None
        self.port = int(server.server_address[1])
        self._server = server
        self._state = context.EmulatorState(
            self.state_dir,
            self.endpoint_url,
            WorkerPool(self.config.lambda_concurrency, self.config.keep_warm_s),
            self.config.lambda_eni_release_s,
            self.config,
        )
        context.push(self._state)
        self._thread = threading.Thread(target=server.serve_forever, name="mlinfra-aws", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and kill every Lambda worker this emulator started; safe to call twice."""
        from pytest_mlinfra.emulator import context

        server, self._server = self._server, None
        state, self._state = self._state, None
        if state is not None:
            state.pool.stop_all()
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if state is not None and context.pop(state):
            from moto.core.base_backend import BackendDict

            BackendDict.reset()
        if state is not None and self._owns_state_dir:
            context.forget_storage_under(self.state_dir)
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def efs_storage(self, file_system_id: str) -> Path:
        """The directory on disk holding the contents of EFS file system ``file_system_id``."""
        from pytest_mlinfra.emulator import context

        path = context.efs_dir(file_system_id)
        if path is None:
            raise MlinfraError(
                f"EFS file system {file_system_id} does not exist in the embedded AWS",
                "create it first (apply the stack), or check the id in the stack outputs",
            )
        return path

    def worker_pids(self) -> list[int]:
        """Process ids of the Lambda workers running now (for leak checks)."""
        return self._state.pool.pids() if self._state is not None else []

    @property
    def lambda_pool(self) -> Any:
        """The running execution environments (:class:`~pytest_mlinfra.emulator.lambda_pool.WorkerPool`)."""
        if self._state is None:
            raise MlinfraError("the embedded AWS is not running", "start() it first")
        return self._state.pool

    def __enter__(self) -> EmbeddedAWS:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
