"""SIGINT, SIGTERM and SIGHUP as one interrupt path, with a second signal that gives up.

pytest turns SIGINT into ``KeyboardInterrupt`` and tears the session down (session fixtures destroy
the stack, then the target stops). SIGTERM (a CI cancel, ``timeout``) and SIGHUP (a closed terminal)
kill Python outright by default, so nothing is torn down. :func:`install` makes all three raise
``KeyboardInterrupt`` once, so every signal takes pytest's path.

The *second* signal does not raise (raising again would abort the teardown half way through): it
records that the user gave up, forwards an interrupt to the running Terraform children (Terraform
exits at once on its second interrupt) and prints what may remain. Code that is about to start
another long step (the destroy after an interrupted apply) asks :func:`abandoned` first.

While :func:`shielded` is active (a destroy in progress), the first signal is noted, not raised: the
destroy finishes, which is what an interrupt would have asked for anyway. Plain module state: there
is one set of signal handlers per process.

A handler runs wherever the main thread happens to be, and some places swallow what it raises: a gc
callback or ``__del__`` (the exception becomes an "unraisable" warning and the run goes on) and
Hypothesis' engine internals (the interrupt turns into a flaky-test failure and the next example is
drawn). So the first signal raises ``KeyboardInterrupt`` only in a safe frame; elsewhere it is
pending, and re-delivered to the main thread every :data:`REDELIVER_S` until it lands in one (see
:func:`_unsafe`). A pending interrupt is dropped once a destroy starts or a second signal arrives.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#  How often a pending interrupt (one that arrived in an unsafe frame) is re-delivered.
REDELIVER_S = 0.05
#  Packages whose frames must not see the KeyboardInterrupt raised (they would swallow or misreport it).
_UNSAFE_PACKAGES = ("hypothesis",)
_STDLIB = os.path.dirname(os.__file__)


def _in_stdlib(filename: str) -> bool:
    return filename.startswith(_STDLIB) and "-packages" not in filename


def _say(line: str) -> None:
    sys.stderr.write(f"\nmlinfra: {line}\n")
    sys.stderr.flush()


@dataclass
class _State:
    received: list[str] = field(default_factory=list)
    shield_depth: int = 0
    noted_in_shield: bool = False
    #  process groups of running children that get the interrupt forwarded (pgid -> what it is)
    children: dict[int, str] = field(default_factory=dict)
    #  what to tell the user when they give up (set by the run: where its state is, how to reap)
    leftover_hint: Callable[[], str] = lambda: ""
    previous: dict[int, Any] = field(default_factory=dict)
    say: Callable[[str], None] = _say
    lock: threading.Lock = field(default_factory=threading.Lock)
    #  the first signal's KeyboardInterrupt, not yet raised in a safe frame (its signal name)
    pending: str = ""
    redeliveries: int = 0  # re-deliveries sent and not yet handled (not counted as user signals)


_state = _State()


def received() -> list[str]:
    """Names of the signals received so far (``["SIGTERM"]``); empty when none."""
    return list(_state.received)


def interrupted() -> bool:
    return bool(_state.received)


def abandoned() -> bool:
    """True after a second signal: stop now, leave the rest to ``mlinfra reap``."""
    return len(_state.received) >= 2


def set_leftover_hint(hint: Callable[[], str]) -> None:
    """What the second signal prints: where the state is and the one command that finishes the job."""
    _state.leftover_hint = hint


def set_reporter(say: Callable[[str], None]) -> None:
    _state.say = say


def report(line: str) -> None:
    """One line to the user, at once (not in the terminal summary that a second signal may skip)."""
    _state.say(line)


def note(signum: int) -> None:
    """Record one signal; the first returns normally, the second announces the give-up."""
    name = signal.Signals(signum).name
    with _state.lock:
        _state.received.append(name)
        count = len(_state.received)
        children = dict(_state.children)
    if count == 1:
        return
    if count == 2:
        hint = _state.leftover_hint()
        report(f"second signal ({name}): stopping now, without finishing destroy. " + hint)
    for pgid in children:  # Terraform's own rule: a second interrupt means exit now
        forward(pgid, signal.SIGINT)


def _handle(signum: int, frame: FrameType | None) -> None:
    with _state.lock:
        redelivered = _state.redeliveries > 0
        if redelivered:
            _state.redeliveries -= 1
    if redelivered:
        _deliver(frame)
        return
    note(signum)
    if len(_state.received) > 1:
        _state.pending = ""
        return
    name = signal.Signals(signum).name
    if _state.shield_depth:
        _state.noted_in_shield = True
        report(
            f"{name} received: finishing the destroy first "
            "(a second signal stops it; resources may then remain)"
        )
        return
    report(
        f"{name} received: stopping; the stack is destroyed and the target "
        "stopped first (a second signal skips that)"
    )
    _state.pending = name
    _deliver(frame)


def _deliver(frame: FrameType | None) -> None:
    """Raise the pending interrupt here if this frame is safe, else try again shortly."""
    name = _state.pending
    if not name or _state.shield_depth or abandoned():
        _state.pending = ""
        return
    if _unsafe(frame):
        threading.Timer(REDELIVER_S, _redeliver).start()
        return
    _state.pending = ""
    raise KeyboardInterrupt(name)


def _redeliver() -> None:
    """From a timer thread: run the handler again in the main thread (a real signal, so a blocking
    call there is interrupted too; the handler does not count it as the user's)."""
    if not _state.pending or not _state.previous:
        return
    main = threading.main_thread()
    if not main.is_alive() or main.ident is None:
        return
    with _state.lock:
        _state.redeliveries += 1
    try:
        signal.pthread_kill(main.ident, signal.SIGINT)
    except (OSError, ValueError):
        with _state.lock:
            _state.redeliveries -= 1


def _unsafe(frame: FrameType | None) -> bool:
    """Whether an exception raised in this frame could be swallowed on its way to pytest.

    Unsafe: anywhere under a gc callback or a ``__del__`` (CPython prints and drops what they
    raise), or where the innermost frame outside the standard library is Hypothesis' own code
    (its engine turns an interrupt in its bookkeeping into a flaky failure)."""
    callbacks = {getattr(cb, "__code__", None) for cb in gc.callbacks}
    owner = ""
    while frame is not None:
        code = frame.f_code
        if code in callbacks or code.co_name == "__del__":
            return True
        if not owner and not _in_stdlib(code.co_filename):
            owner = str(frame.f_globals.get("__name__", "")) or "?"
        frame = frame.f_back
    return owner.split(".")[0] in _UNSAFE_PACKAGES


def install() -> bool:
    """Route SIGINT/SIGTERM/SIGHUP through one handler (main thread only).

    Returns whether this call installed them (False when already installed): only that caller
    should :func:`restore`."""
    if threading.current_thread() is not threading.main_thread() or _state.previous:
        return False
    for signum in SIGNALS:
        _state.previous[signum] = signal.signal(signum, _handle)
    return True


def restore() -> None:
    """Put back the handlers :func:`install` replaced and forget what was received."""
    for signum, previous in _state.previous.items():
        signal.signal(signum, previous)
    _state.previous.clear()
    reset()


def reset() -> None:
    """Forget received signals and registered children (keeps the installed handlers)."""
    with _state.lock:
        _state.received.clear()
        _state.children.clear()
        _state.noted_in_shield = False
        _state.pending = ""
        _state.redeliveries = 0
        _state.leftover_hint = lambda: ""
        _state.say = _say  # a session's reporter must not outlive it (its terminal is closed)


def installed() -> bool:
    return bool(_state.previous)


@contextmanager
def shielded() -> Iterator[None]:
    """A first signal during this block is noted, not raised (only with :func:`install` handlers)."""
    _state.shield_depth += 1
    try:
        yield
    finally:
        _state.shield_depth -= 1


def noted_in_shield() -> bool:
    return _state.noted_in_shield


@contextmanager
def child_group(pgid: int, what: str) -> Iterator[None]:
    """Register a running child's process group, so a second signal reaches it."""
    with _state.lock:
        _state.children[pgid] = what
    try:
        yield
    finally:
        with _state.lock:
            _state.children.pop(pgid, None)


def forward(pgid: int, signum: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)
