"""Stacks kept deployed for reuse (``--mlinfra-reuse``): found again, locked while used, destroyed by
``mlinfra down``.

A kept stack is a run dir (Terraform state and all) with ``mlinfra-kept.json`` beside the run's
other files: which target it is on (for ``local``, which start of the emulator: ``instance``), the
stack source, the owner, the environment Terraform needs to destroy it, and the model last synced
and verified into it. A session that uses it holds ``mlinfra-kept.lock`` (its pid); a second session
refuses in one line instead of applying on the same state at the same time.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pytest_mlinfra.children import pid_running
from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.targets import target_class
from pytest_mlinfra.terraform.toolchain import cache_root

KEPT_FILE = "mlinfra-kept.json"
LOCK_FILE = "mlinfra-kept.lock"


@dataclass
class KeptStack:
    run_id: str
    workdir: Path
    target: str
    where: str  # the endpoint (local, localstack) or the region (aws)
    source: str
    owner: str
    env: dict[str, str] = field(default_factory=dict)
    instance: str | None = None  # the emulator start it lives in (local only)
    model: dict[str, Any] | None = None  # the SyncedModel last verified, plus where it was verified
    created: float = field(default_factory=time.time)
    reused: int = 0

    @property
    def path(self) -> Path:
        return self.workdir / KEPT_FILE

    def save(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        data = {**asdict(self), "workdir": str(self.workdir)}
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, self.path)

    def describe(self) -> str:
        user = self.lock_holder()
        used = f", in use by pid {user}" if user else ""
        return f"{self.run_id} on {self.target} ({self.where}) from {self.source}, owner {self.owner}{used}"

    # -- one session at a time ---------------------------------------------------------------------

    def lock_holder(self) -> int | None:
        """The pid of the live session using this stack, if any."""
        try:
            pid = int((self.workdir / LOCK_FILE).read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_running(pid) else None

    def acquire(self, session_pid: int) -> None:
        """Take the stack for ``session_pid`` (a session whose pid died has released it)."""
        with open(self.workdir / f"{LOCK_FILE}.guard", "w") as guard:
            fcntl.flock(guard, fcntl.LOCK_EX)
            holder = self.lock_holder()
            if holder is not None and holder != session_pid:
                raise MlinfraError(
                    f"kept stack {self.run_id} is in use by another session (pid {holder})",
                    "wait for it to finish, or run without --mlinfra-reuse",
                )
            (self.workdir / LOCK_FILE).write_text(f"{session_pid}\n")

    def release(self, session_pid: int) -> None:
        if self.lock_holder() == session_pid:
            (self.workdir / LOCK_FILE).unlink(missing_ok=True)


def load(workdir: Path) -> KeptStack | None:
    try:
        data = json.loads((workdir / KEPT_FILE).read_text())
        data["workdir"] = Path(data["workdir"])
        return KeptStack(**data)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def all_kept(runs_dir: Path | None = None) -> list[KeptStack]:
    root = runs_dir or cache_root() / "runs"
    found = [load(path.parent) for path in sorted(root.glob(f"*/{KEPT_FILE}"))]
    return sorted((k for k in found if k is not None), key=lambda k: k.created)


def matching(target: str, where: str, source: str, runs_dir: Path | None = None) -> list[KeptStack]:
    """Kept stacks of this stack source on this target (anyone's: the caller checks the owner)."""
    return [k for k in all_kept(runs_dir) if (k.target, k.where, k.source) == (target, where, source)]


def forget(stack: KeptStack) -> None:
    """Remove the record and the run dir of a stack whose resources are gone (its emulator stopped)."""
    shutil.rmtree(stack.workdir, ignore_errors=True)


def destroy(stack: KeptStack, log: Callable[[str], None] = print) -> None:
    """``terraform destroy`` on the kept state, then remove the run dir (kept when destroy fails)."""
    from pytest_mlinfra.terraform.stack import Stack
    from pytest_mlinfra.terraform.toolchain import Toolchain, find_terraform

    holder = stack.lock_holder()
    if holder is not None and holder != os.getpid():
        raise MlinfraError(
            f"kept stack {stack.run_id} is in use by a running session (pid {holder})",
            "let that session finish, then run mlinfra down again",
        )
    tf = Stack(
        source=Path(stack.source),
        workdir=stack.workdir,
        toolchain=Toolchain(find_terraform(None)),
        variables={},
        env=stack.env,
        log=log,
        run_id=stack.run_id,
        applied=True,
    )
    if tf.state_file.exists():
        tf.destroy()
    tf.cleanup()


def destroy_all(target: str, log: Callable[[str], None] = print, runs_dir: Path | None = None) -> int:
    """Destroy every stack kept on ``target``; for ``local``, those in the running emulator (the
    others went with the emulator they lived in: forgotten). Returns how many could not be destroyed."""
    from pytest_mlinfra.service import running_service

    in_emulator = target_class(target).deployed_in_emulator
    running = running_service() if in_emulator else None
    failed = 0
    for stack in all_kept(runs_dir):
        if stack.target != target:
            continue
        if in_emulator and (running is None or stack.instance != running.instance):
            forget(stack)
            log(f"forgot kept stack {stack.run_id}: its embedded AWS has stopped, nothing of it remains")
            continue
        try:
            destroy(stack, log)
        except MlinfraError as exc:
            failed += 1
            log(f"mlinfra down: {exc}")
            continue
        log(f"destroyed kept stack {stack.run_id} ({stack.source})")
    return failed
