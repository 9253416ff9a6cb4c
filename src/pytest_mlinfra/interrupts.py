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
"""

from __future__ import annotations

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
    note(signum)
    if len(_state.received) > 1:
        return
    if _state.shield_depth:
        _state.noted_in_shield = True
        report(
            f"{signal.Signals(signum).name} received: finishing the destroy first "
            "(a second signal stops it; resources may then remain)"
        )
        return
    report(
        f"{signal.Signals(signum).name} received: stopping; the stack is destroyed and the target "
        "stopped first (a second signal skips that)"
    )
    raise KeyboardInterrupt(signal.Signals(signum).name)


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
