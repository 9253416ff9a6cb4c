"""A signal that lands where an exception is swallowed is raised at the next safe point (issue 24).

Real processes, real SIGTERM to their process group: the script spends most of its time in a gc
callback or a ``__del__`` (where CPython prints and drops what is raised) and between them in plain
code. With the handlers of :mod:`pytest_mlinfra.interrupts` the KeyboardInterrupt reaches the loop;
with a handler that raises wherever it runs, it is swallowed and the script runs to its end.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

SCRIPT = textwrap.dedent(
    """
    import gc, signal, sys, time
    from pytest_mlinfra import interrupts

    def busy(seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:  # Python code: a signal handler runs in here
            pass

    def slow_gc_callback(phase, info):
        if phase == "start":
            busy(0.5)

    class Slow:
        def __del__(self):
            busy(0.5)

    if sys.argv[1] == "mlinfra":
        interrupts.install()
    else:
        def raise_here(signum, frame):
            raise KeyboardInterrupt("SIGTERM")
        signal.signal(signal.SIGTERM, raise_here)
    if sys.argv[2] == "gc":
        gc.callbacks.append(slow_gc_callback)
    print("READY", flush=True)
    started = time.monotonic()
    try:
        while time.monotonic() - started < 6:
            if sys.argv[2] == "gc":
                gc.collect()
            else:
                Slow()
            time.sleep(0.2)
        print("RAN ON", flush=True)
    except KeyboardInterrupt as exc:
        print(f"INTERRUPTED {exc}", flush=True)
    """
)


def _signalled(tmp_path: Path, handler: str, where: str) -> tuple[str, float]:
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    proc = subprocess.Popen(
        [sys.executable, str(script), handler, where],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "READY"
    time.sleep(0.1)  # inside the first slow callback
    os.killpg(proc.pid, signal.SIGTERM)
    sent = time.monotonic()
    out, _ = proc.communicate(timeout=30)
    return out, time.monotonic() - sent


@pytest.mark.parametrize("where", ["gc", "del"])
def test_the_interrupt_reaches_the_code_after_the_callback(tmp_path: Path, where: str) -> None:
    out, seconds = _signalled(tmp_path, "mlinfra", where)
    assert "INTERRUPTED SIGTERM" in out, out
    assert "Exception ignored" not in out, out
    assert seconds < 3, f"{seconds:.1f} s"


def test_a_handler_that_raises_anywhere_is_swallowed_there(tmp_path: Path) -> None:
    """The failure this guards against, shown on the same script."""
    out, _ = _signalled(tmp_path, "plain", "gc")
    assert "RAN ON" in out and "Exception ignored" in out, out
