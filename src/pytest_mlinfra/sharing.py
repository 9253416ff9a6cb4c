"""Do a step once for a whole pytest-xdist session and let every worker read its result.

The first worker that needs a step (start the emulator, apply the stack, sync the model) runs it
while holding a file lock and publishes the result as JSON; the others block on the lock, then read
it. A step that failed is published as its error, so every worker stops with the same one line. A
worker that died while running a step leaves its ``started`` marker and no result: the others stop
with that fact instead of running the step again on top of a half-made stack.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_mlinfra.errors import MlinfraError


class SessionShare:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, name: str, suffix: str) -> Path:
        return self.root / f"{name}.{suffix}"

    def once(self, name: str, produce: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], bool]:
        """The published result of step ``name``, produced here if nobody did; (result, produced here)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self._path(name, "lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            published = self.read(name)
            if published is not None:
                return published, False
            error = self._path(name, "error")
            if error.exists():
                raise MlinfraError(error.read_text().strip(), "see the first failing worker's output")
            started = self._path(name, "started")
            if started.exists():
                raise MlinfraError(
                    f"the xdist worker running '{name}' (pid {started.read_text().strip()}) died half way",
                    "see its crash above; the session's end destroys whatever it had deployed",
                )
            started.write_text(str(os.getpid()))
            try:
                result = produce()
            except MlinfraError as exc:
                error.write_text(str(exc))
                raise
            except BaseException as exc:
                error.write_text(f"'{name}' failed on another xdist worker ({type(exc).__name__}: {exc})")
                raise
            self.publish(name, result)
            return result, True

    def publish(self, name: str, value: dict[str, Any]) -> None:
        """Write ``value`` atomically (readers never see half a file)."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self._path(name, "tmp")
        tmp.write_text(json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")
        os.replace(tmp, self._path(name, "json"))

    def read(self, name: str) -> dict[str, Any] | None:
        try:
            value: dict[str, Any] = json.loads(self._path(name, "json").read_text())
        except (OSError, ValueError):
            return None
        return value
