"""The execution environments of one running emulator, and the guarantee that none outlives it.

As on AWS, each concurrent invocation of a function gets an execution environment of its own: an
idle one of the same version and configuration when there is one (warm), else a new one (a cold
start with its own ``Init Duration``). How many may run at once is the function's reserved
concurrency (``PutFunctionConcurrency`` / Terraform's ``reserved_concurrent_executions``) or else
the emulator's concurrency limit (the account's unreserved concurrency here; default
:func:`default_concurrency`); an invocation beyond it is throttled with AWS's 429
``TooManyRequestsException`` (``Rate Exceeded.``). ``Event`` invocations that meet the limit wait
for a free environment (AWS queues and retries them). Environments idle longer than the keep-warm
time are reaped; those of a deleted or updated function are killed, busy ones when their
invocation ends. ``stop_all`` runs on ``EmbeddedAWS.stop()`` and, as a safety net, at interpreter exit.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from pytest_mlinfra.emulator.lambda_worker import LambdaWorker, Outcome, WorkerSpec

_pools: weakref.WeakSet[WorkerPool] = weakref.WeakSet()
KEEP_WARM_S = 300.0  # AWS keeps idle environments for minutes, then reclaims them


def default_concurrency() -> int:
    """Concurrent environments when nothing is reserved and nothing is configured: twice the cores,
    at least 4. Each environment is a whole interpreter, and a torch handler holds a few hundred MB,
    so the account's 1,000 would only thrash a small machine."""
    return max(4, 2 * (os.cpu_count() or 1))


class Throttled(Exception):
    """No environment may start: AWS answers 429 TooManyRequestsException."""

    def __init__(self, reason: str) -> None:
        super().__init__("Rate Exceeded.")
        self.reason = (
            reason  # ReservedFunctionConcurrentInvocationLimitExceeded / ConcurrentInvocationLimitExceeded
        )


class WorkerPool:
    def __init__(self, max_concurrency: int | None = None, keep_warm_s: float | None = None) -> None:
        self.max_concurrency = max_concurrency or default_concurrency()
        self.keep_warm_s = KEEP_WARM_S if keep_warm_s is None else keep_warm_s
        self._lock = threading.Lock()
        self._workers: list[LambdaWorker] = []
        # function ARN -> when it was deleted or updated: environments started before die when done
        self._retired: dict[str, float] = {}
        self._events = ThreadPoolExecutor(max_workers=8, thread_name_prefix="lambda-event")
        self._closed = threading.Event()
        self.cold_starts = 0
        self.throttles = 0
        self._reaper = threading.Thread(target=self._reap_loop, name="lambda-reaper", daemon=True)
        self._reaper.start()
        _pools.add(self)

    def acquire(self, spec: WorkerSpec, reserved: int | None = None) -> LambdaWorker:
        """An environment for one invocation (marked busy), or :class:`Throttled`."""
        stale: list[LambdaWorker] = []
        with self._lock:
            mine = [w for w in self._workers if w.spec.function_arn == spec.function_arn]
            for worker in mine:
                if worker.spec.version == spec.version and worker.spec != spec and not worker.busy:
                    stale.append(worker)  # configuration changed: a new environment, cold
            self._workers = [w for w in self._workers if w not in stale]
            idle = [w for w in self._workers if w.spec == spec and not w.busy]
            if idle:
                worker = max(idle, key=lambda w: w.last_used)
            else:
                busy_here = sum(
                    1 for w in self._workers if w.spec.function_arn == spec.function_arn and w.busy
                )
                busy_all = sum(1 for w in self._workers if w.busy)
                if reserved is not None and busy_here >= reserved:
                    self.throttles += 1
                    raise Throttled("ReservedFunctionConcurrentInvocationLimitExceeded")
                if busy_all >= self.max_concurrency:
                    self.throttles += 1
                    raise Throttled("ConcurrentInvocationLimitExceeded")
                idle_others = sorted((w for w in self._workers if not w.busy), key=lambda w: w.last_used)
                while idle_others and len(self._workers) >= self.max_concurrency:
                    victim = idle_others.pop(0)  # make room: reclaim the longest-idle environment
                    self._workers.remove(victim)
                    stale.append(victim)
                worker = LambdaWorker(spec)
                self._workers.append(worker)
                self.cold_starts += 1
            worker.busy = True
        for old in stale:
            old.kill()
        return worker

    def release(self, worker: LambdaWorker) -> None:
        with self._lock:
            worker.busy = False
            worker.last_used = time.monotonic()
            retired = worker.created < self._retired.get(_base_arn(worker.spec.function_arn), float("-inf"))
            dead = not worker.alive or retired or self._closed.is_set()
            if dead and worker in self._workers:
                self._workers.remove(worker)
        if dead:
            worker.kill()

    def invoke(
        self, spec: WorkerSpec, payload: bytes, request_id: str | None = None, reserved: int | None = None
    ) -> Outcome:
        worker = self.acquire(spec, reserved)
        try:
            return worker.invoke(payload, request_id)
        finally:
            self.release(worker)

    def submit(
        self,
        spec: WorkerSpec,
        payload: bytes,
        done: Callable[[Outcome], None] | None = None,
        reserved: int | None = None,
    ) -> None:
        """An ``Event`` invocation: run in the background (waiting while throttled), result only logged."""

        def run() -> None:
            while not self._closed.is_set():
                try:
                    outcome = self.invoke(spec, payload, reserved=reserved)
                except Throttled:
                    self._closed.wait(0.1)
                    continue
                if done is not None:
                    done(outcome)
                return

        if not self._closed.is_set():
            self._events.submit(run)

    def retire(self, function_arn: str) -> None:
        """The function was deleted or updated: kill its idle environments now, busy ones when done."""
        base = _base_arn(function_arn)
        with self._lock:
            self._retired[base] = time.monotonic()
            idle = [w for w in self._workers if _base_arn(w.spec.function_arn) == base and not w.busy]
            self._workers = [w for w in self._workers if w not in idle]
        for worker in idle:
            worker.kill()

    def environments(self, function_arn: str | None = None) -> list[LambdaWorker]:
        with self._lock:
            return [w for w in self._workers if function_arn is None or w.spec.function_arn == function_arn]

    def pids(self) -> list[int]:
        with self._lock:
            return [w.pid for w in self._workers if w.pid is not None]

    def _reap_loop(self) -> None:
        while not self._closed.wait(min(1.0, max(0.05, self.keep_warm_s / 4))):
            now = time.monotonic()
            with self._lock:
                expired = [w for w in self._workers if not w.busy and now - w.last_used > self.keep_warm_s]
                self._workers = [w for w in self._workers if w not in expired]
            for worker in expired:
                worker.kill()

    def stop_all(self) -> None:
        self._closed.set()
        with self._lock:
            workers, self._workers = list(self._workers), []
        for worker in workers:
            worker.kill()
        self._events.shutdown(wait=False, cancel_futures=True)


def _base_arn(function_arn: str) -> str:
    """``arn:aws:lambda:r:a:function:name`` without a ``:version`` / ``:alias`` qualifier."""
    head, sep, tail = function_arn.partition(":function:")
    return head + sep + tail.split(":", 1)[0] if sep else function_arn


@atexit.register
def _stop_everything() -> None:
    for pool in list(_pools):
        pool.stop_all()
