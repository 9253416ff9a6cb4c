"""The embedded AWS's process-wide state, set up inside the LocalStack process.

:mod:`pytest_mlinfra.emulator.context` tells the EFS and DataSync backends where file systems
live on disk; in LocalStack there is no ``EmbeddedAWS`` to register one, so the first provider or
executor that needs it registers a state here (idempotent), and points moto-ext's EFS and DataSync
backend dicts at the extended classes.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from pytest_mlinfra.emulator import context
from pytest_mlinfra.localstack_ext import STATE_DIR_ENV

_lock = threading.Lock()
_state: context.EmulatorState | None = None


def gateway_url() -> str:
    """LocalStack's own endpoint, as a process on this host reaches it."""
    from localstack import config

    listen = config.GATEWAY_LISTEN[0]
    host = "127.0.0.1" if listen.host in ("0.0.0.0", "", "::") else listen.host
    return f"http://{host}:{listen.port}"


def state_dir() -> Path:
    from localstack import config

    return Path(os.environ.get(STATE_DIR_ENV) or Path(config.dirs.tmp) / "mlinfra")


def ensure_state() -> context.EmulatorState:
    """Register this process's emulator state once (EFS storage dir, endpoint) and the backends."""
    global _state
    with _lock:
        if _state is None:
            from moto.datasync.models import datasync_backends
            from moto.efs.models import efs_backends

            from pytest_mlinfra.emulator.config import EmulatorConfig
            from pytest_mlinfra.emulator.efs import StorageEFSBackend
            from pytest_mlinfra.emulator.install import use_backend
            from pytest_mlinfra.emulator.lambda_pool import WorkerPool
            from pytest_mlinfra.localstack_ext.datasync import LocalStackDataSyncBackend

            use_backend(efs_backends, StorageEFSBackend)
            use_backend(datasync_backends, LocalStackDataSyncBackend)
            directory = state_dir()
            directory.mkdir(parents=True, exist_ok=True)
            # LocalStack's process is configured through its environment (the launcher sets it).
            concurrency = EmulatorConfig.from_env().lambda_concurrency
            _state = context.EmulatorState(directory, gateway_url(), WorkerPool(concurrency))
            context.push(_state)
        return _state
