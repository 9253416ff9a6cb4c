"""Live progress lines on pytest's terminal during the long stages (apply, destroy, upload, sync,
property tests), respecting how the user asked pytest to talk.

- ``-p no:terminal``: there is no terminal reporter, so nothing is shown;
- ``-q`` (verbosity < 0): nothing is shown;
- a TTY: one line per stage, rewritten in place, ended when pytest writes its next result;
- not a TTY (CI logs): each line of a stage as it comes, plain text, no carriage returns; the
  property tests' example counts wait for the summary (a line between two results makes pytest
  print the test file's name again).

Lines can arrive from a reader thread (Terraform's stdout), hence the lock.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any


class TerminalProgress:
    def __init__(self, reporter: Any, capture: Any = None) -> None:
        self._reporter = reporter
        self._capture = capture
        self._lock = threading.Lock()
        self._open = False  # a rewritten line is on screen without its newline
        self._stage = ""
        self.tty = bool(getattr(reporter, "isatty", False))

    @classmethod
    def for_config(cls, config: Any) -> TerminalProgress | None:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None or config.get_verbosity() < 0:
            return None
        return cls(reporter, config.pluginmanager.get_plugin("capturemanager"))

    @contextlib.contextmanager
    def _terminal(self) -> Iterator[None]:
        """Past pytest's output capture, as its live logging does (stages run inside test setup)."""
        with self._lock:
            if self._capture is None:
                yield
                return
            with self._capture.global_and_fixture_disabled():
                yield

    def __call__(self, line: str) -> None:
        stage = line.split(" ", 1)[0]
        with self._terminal():
            if not self.tty:
                self._start_line()
                self._reporter.write_line(f"mlinfra: {line}")
                self._reporter.currentfspath = None  # pytest re-prints the file name it was on
                return
            if self._open and stage != self._stage:
                self._reporter.write("\n")
                self._open = False
            if not self._open:
                self._start_line()
            self._reporter.rewrite(f"mlinfra: {line}", erase=True)
            self._open = True
            self._stage = stage

    def _start_line(self) -> None:
        """Begin on a line of our own: pytest may be half way through ``test_x.py ..``."""
        if getattr(self._reporter._tw, "width_of_current_line", 0):
            self._reporter.write("\n")

    def finish(self) -> None:
        """End a line left open (called before pytest writes a result or its summary)."""
        if not self._open:
            return
        with self._terminal():
            if self._open:
                self._reporter.write("\n")
                self._open = False
                self._reporter.currentfspath = None  # pytest re-prints the file name it was on
