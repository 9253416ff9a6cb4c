"""Process-wide state shared by the emulator's moto extensions.

moto keeps its backends in module-level dicts, so everything behind them (EFS storage on disk,
Lambda workers) is process-wide too. The extended backends ask this module where to put EFS
storage and which worker pool runs a function: the most recently started ``EmbeddedAWS`` wins,
and each EFS file system remembers the directory it was created in.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_mlinfra.errors import MlinfraError

if TYPE_CHECKING:
    from pytest_mlinfra.emulator.config import EmulatorConfig
    from pytest_mlinfra.emulator.lambda_pool import WorkerPool


@dataclass
class EmulatorState:
    """What one running ``EmbeddedAWS`` contributes: its state dir, endpoint and worker pool, and
    how long a VPC Lambda's ENIs outlive it (0: no ENIs, see :mod:`~pytest_mlinfra.emulator.lambda_eni`)."""

    state_dir: Path
    endpoint_url: str
    pool: WorkerPool
    lambda_eni_release_s: float = 0.0
    config: EmulatorConfig | None = None  # None: outside an EmbeddedAWS (LocalStack's executor)


_lock = threading.Lock()
_active: list[EmulatorState] = []
# file system id -> directory holding its contents (kept after stop so tests can still look).
_efs_index: dict[str, Path] = {}


def push(state: EmulatorState) -> None:
    with _lock:
        _active.append(state)


def pop(state: EmulatorState) -> bool:
    """Forget ``state``; True when no emulator is left running in this process."""
    with _lock:
        if state in _active:
            _active.remove(state)
        return not _active


def current() -> EmulatorState:
    with _lock:
        if not _active:
            raise MlinfraError("no embedded AWS is running in this process", "start EmbeddedAWS first")
        return _active[-1]


def register_efs(file_system_id: str) -> Path:
    """Create (and remember) the directory that backs a new EFS file system."""
    path = current().state_dir / "efs" / file_system_id
    path.mkdir(parents=True, exist_ok=True)
    with _lock:
        _efs_index[file_system_id] = path
    return path


def efs_dir(file_system_id: str) -> Path | None:
    with _lock:
        return _efs_index.get(file_system_id)


def forget_efs(file_system_id: str) -> Path | None:
    with _lock:
        return _efs_index.pop(file_system_id, None)


def forget_storage_under(root: Path) -> None:
    """Drop the EFS entries whose storage lived under ``root`` (an emulator's removed state dir)."""
    with _lock:
        for file_system_id, path in list(_efs_index.items()):
            if path.is_relative_to(root):
                del _efs_index[file_system_id]
