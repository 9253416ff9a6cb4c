"""Terraform (and any other child of a run) as a process the run owns, even when the run dies.

tftest spawns every Terraform command in ``TerraformTest.execute_command``; :class:`TerraformProcess`
overrides exactly that, keeping tftest's parsing of plan/output/state on top. Each child:

- runs in its own session (own process group): a terminal's Ctrl-C reaches pytest only, and the
  run decides what the child gets: one graceful interrupt, then a wait while Terraform saves its
  state and stops its providers (the providers share the group, so a final ``killpg`` reaches them);
- gets ``PR_SET_PDEATHSIG`` (Linux): SIGTERM when the run's process dies, even by SIGKILL. For
  Terraform a SIGTERM is a graceful interrupt, so even a killed run leaves a written state behind.
- writes the state under a :class:`~.state_guard.StateGuard` (apply, destroy, import, refresh): a
  state left torn by a Terraform that exited mid-write (a second interrupt) is put back.

Spawning (own session, parent-death signal from a long-lived thread) lives in
:mod:`pytest_mlinfra.children`, re-exported here: use ``spawn(argv, ...)`` instead of
``subprocess.Popen`` for any child that must not outlive the run.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import tftest

from pytest_mlinfra import interrupts
from pytest_mlinfra.children import KILL_AFTER_S, child_preexec, group_alive, kill_group, spawn
from pytest_mlinfra.terraform.state_guard import StateGuard

__all__ = [
    "TerraformInterrupted",
    "TerraformProcess",
    "child_preexec",
    "group_alive",
    "kill_group",
    "spawn",
]

#  How long an interrupted Terraform may take to finish its in-flight calls and write its state.
INTERRUPT_GRACE_S = 300.0
#  Commands that write terraform.tfstate (guarded against a torn write, see state_guard).
STATE_WRITERS = frozenset({"apply", "destroy", "import", "refresh"})


class TerraformInterrupted(KeyboardInterrupt):
    """Terraform was interrupted by a signal and has stopped (its state is written)."""

    def __init__(self, command: str, signal_name: str, seconds: float) -> None:
        super().__init__(f"{signal_name} during terraform {command}")
        self.command = command
        self.signal_name = signal_name
        self.seconds = seconds


class TerraformProcess(tftest.TerraformTest):  # type: ignore[misc]
    """tftest's Terraform wrapper with an owned child process.

    ``on_line`` gets each stdout line (without the newline) as Terraform writes it, on a reader
    thread; pass ``-json`` to apply/destroy to get Terraform's machine-readable UI events.
    ``attach(command, env)`` gives extra environment held for one command (provider reattach, see
    :mod:`.reattach`).
    """

    def __init__(
        self,
        tfdir: str,
        binary: str = "terraform",
        env: dict[str, str] | None = None,
        on_line: Callable[[str], None] | None = None,
        interrupt_grace_s: float = INTERRUPT_GRACE_S,
        attach: Callable[[str, Mapping[str, str]], AbstractContextManager[dict[str, str]]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(tfdir, binary=binary, env=env, **kwargs)
        self.on_line = on_line
        self.interrupt_grace_s = interrupt_grace_s
        self.attach = attach

    def execute_command(self, cmd: str, *cmd_args: str) -> tftest.TerraformCommandOutput:
        if self.attach is None:
            return self._execute(cmd, cmd_args, self.env)
        with self.attach(cmd, self.env) as extra:
            return self._execute(cmd, cmd_args, {**self.env, **extra})

    def _execute(
        self, cmd: str, cmd_args: tuple[str, ...], env: dict[str, str]
    ) -> tftest.TerraformCommandOutput:
        if cmd not in STATE_WRITERS:
            return self._execute_child(cmd, cmd_args, env)
        with StateGuard(Path(self.tfdir) / "terraform.tfstate", interrupts.report):
            return self._execute_child(cmd, cmd_args, env)

    def _execute_child(
        self, cmd: str, cmd_args: tuple[str, ...], env: dict[str, str]
    ) -> tftest.TerraformCommandOutput:
        out_lines: list[str] = []
        err_chunks: list[str] = []
        proc = spawn(
            [self.binary, cmd, *cmd_args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=self.tfdir,
            env=env,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        readers = [
            threading.Thread(target=self._read_stdout, args=(proc, out_lines), daemon=True),
            threading.Thread(target=_drain, args=(proc.stderr, err_chunks), daemon=True),
        ]
        for reader in readers:
            reader.start()
        with interrupts.child_group(proc.pid, f"terraform {cmd}"):
            try:
                retcode = proc.wait()
            except KeyboardInterrupt as exc:
                raise self._stop(proc, cmd, exc) from None
            finally:
                # Terraform stops its providers itself; anything left in the group goes now.
                if group_alive(proc.pid):
                    kill_group(proc)
                for reader in readers:
                    reader.join(timeout=KILL_AFTER_S)
        out, err = "".join(out_lines), "".join(err_chunks)
        if retcode < 0:  # killed by a signal (the OOM killer, a SIGKILL): no success to report
            err += f"\nterraform {cmd} was killed by {signal.Signals(-retcode).name}\n"
        if retcode in (1, 11) or retcode < 0:
            raise tftest.TerraformTestError(f"Error running command {cmd}: {retcode} {out} {err}", err)
        return tftest.TerraformCommandOutput(retcode, out, err)

    def _read_stdout(self, proc: subprocess.Popen[str], lines: list[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if self.on_line is not None:
                with contextlib.suppress(Exception):  # a broken progress printer must not stop Terraform
                    self.on_line(line.rstrip("\n"))

    def _stop(self, proc: subprocess.Popen[str], cmd: str, exc: KeyboardInterrupt) -> TerraformInterrupted:
        """Graceful interrupt, wait while Terraform saves its state; a second signal cuts it short."""
        name = str(exc) or "SIGINT"
        started = time.monotonic()
        interrupts.forward(proc.pid, signal.SIGINT)
        interrupts.report(f"{name}: stopping terraform {cmd} (waiting for it to finish what is in flight)")
        deadline = started + self.interrupt_grace_s
        while proc.poll() is None:
            try:
                proc.wait(timeout=max(0.1, min(5.0, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                if time.monotonic() >= deadline:
                    interrupts.report(
                        f"terraform {cmd} did not stop in {self.interrupt_grace_s:.0f} s: killed"
                    )
                    break
            except KeyboardInterrupt:  # a second signal without our handlers installed
                interrupts.note(signal.SIGINT)
                interrupts.forward(proc.pid, signal.SIGINT)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=KILL_AFTER_S)
                break
        seconds = time.monotonic() - started
        if proc.poll() is None:
            kill_group(proc)
        else:
            interrupts.report(f"terraform {cmd} stopped after {seconds:.1f} s")
        return TerraformInterrupted(cmd, name, seconds)


def _drain(stream: Any, chunks: list[str]) -> None:
    if stream is not None:
        chunks.extend(stream)
