"""Keep the last good state while Terraform writes it; put it back if Terraform left it torn.

Terraform's local backend rewrites ``terraform.tfstate`` in place (truncate, then write). When it
exits in between (its own "two interrupts received, exiting immediately", or a SIGKILL of its group
that did not stop in time) the file is left empty or cut short, and with it the only record of what
is deployed; ``terraform.tfstate.backup`` holds only the state from before the command. So while a
state-writing command runs, a watcher copies every complete state Terraform writes to
``terraform.tfstate.mlinfra-last-good``; after the command, a state that does not parse is replaced
(atomically) by the newest good copy, ours or Terraform's backup, by serial.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

LAST_GOOD_SUFFIX = ".mlinfra-last-good"
POLL_S = 0.1


def state_serial(data: bytes) -> int | None:
    """The serial of a complete version-4 state; None for an empty, torn or foreign file."""
    try:
        state = json.loads(data)
    except ValueError:
        return None
    if not isinstance(state, dict) or state.get("version") != 4 or not isinstance(state.get("serial"), int):
        return None
    return int(state["serial"])


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".mlinfra-tmp")
    with open(tmp, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


class StateGuard:
    """``with StateGuard(tfdir / "terraform.tfstate", report): <run terraform apply>``."""

    def __init__(self, state: Path, report: Callable[[str], None]) -> None:
        self.state = state
        self.last_good = state.with_name(state.name + LAST_GOOD_SUFFIX)
        self.report = report
        self._seen: tuple[int, int] | None = None
        self._good_serial: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="mlinfra-state-guard", daemon=True)

    def __enter__(self) -> StateGuard:
        self.snapshot()
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.repair()
        self.last_good.unlink(missing_ok=True)

    def _watch(self) -> None:
        while not self._stop.wait(POLL_S):
            self.snapshot()

    def snapshot(self) -> None:
        """Copy the state if it changed and is complete (a half-written one does not parse)."""
        try:
            stat = self.state.stat()
            seen = (stat.st_mtime_ns, stat.st_size)
            if seen == self._seen:
                return
            data = self.state.read_bytes()
        except OSError:
            return
        serial = state_serial(data)
        if serial is None:
            return  # mid-write: the next poll sees the finished file
        self._seen = seen
        if self._good_serial is None or serial >= self._good_serial:
            try:
                _write_atomically(self.last_good, data)
            except OSError:
                return
            self._good_serial = serial

    def repair(self) -> bool:
        """Put back the newest good state when the state file is empty or torn; True if it did."""
        try:
            data = self.state.read_bytes()
        except FileNotFoundError:
            return False  # never written (nothing was created); Terraform never deletes it
        except OSError:
            return False
        if state_serial(data) is not None:
            return False
        candidates = []
        for path in (self.last_good, self.state.with_name(self.state.name + ".backup")):
            try:
                good = path.read_bytes()
            except OSError:
                continue
            serial = state_serial(good)
            if serial is not None:
                candidates.append((serial, good))
        if not candidates:
            self.report(f"{self.state} is {len(data)} bytes and not a state, and no good copy exists")
            return False
        serial, good = max(candidates, key=lambda c: c[0])
        torn = self.state.with_name(self.state.name + ".torn")
        _write_atomically(torn, data)
        _write_atomically(self.state, good)
        self.report(
            f"terraform left {self.state.name} torn ({len(data)} bytes, kept as {torn.name}); "
            f"restored the last good state ({len(good)} bytes, serial {serial})"
        )
        return True
