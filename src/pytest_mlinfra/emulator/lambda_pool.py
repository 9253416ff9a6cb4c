"""The warm workers of one running emulator, and the guarantee that none outlives it.

Workers are keyed by function ARN and version; a worker whose ``WorkerSpec`` differs from the
function's current one (new code, handler, memory, timeout, environment or file system config) is
killed and replaced, which is the cold start AWS gives after an update. ``stop_all`` runs on
``EmbeddedAWS.stop()`` and, as a safety net, at interpreter exit.
"""

from __future__ import annotations

import atexit
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from pytest_mlinfra.emulator.lambda_worker import LambdaWorker, Outcome, WorkerSpec

_pools: weakref.WeakSet[WorkerPool] = weakref.WeakSet()


class WorkerPool:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._workers: dict[tuple[str, str], LambdaWorker] = {}
        self._events = ThreadPoolExecutor(max_workers=4, thread_name_prefix="lambda-event")
        self._closed = False
        _pools.add(self)

    def worker_for(self, spec: WorkerSpec) -> LambdaWorker:
        key = (spec.function_arn, spec.version)
        stale = None
        with self._lock:
            worker = self._workers.get(key)
            if worker is None or worker.spec != spec:
                stale, worker = worker, LambdaWorker(spec)
                self._workers[key] = worker
        if stale is not None:
            stale.kill()
        return worker

    def invoke(self, spec: WorkerSpec, payload: bytes, request_id: str | None = None) -> Outcome:
        return self.worker_for(spec).invoke(payload, request_id)

    def submit(self, spec: WorkerSpec, payload: bytes, done: Callable[[Outcome], None] | None = None) -> None:
        """An ``Event`` invocation: run in the background, result only logged."""

        def run() -> None:
            outcome = self.invoke(spec, payload)
            if done is not None:
                done(outcome)

        if not self._closed:
            self._events.submit(run)

    def pids(self) -> list[int]:
        with self._lock:
            return [w.pid for w in self._workers.values() if w.pid is not None]

    def stop_all(self) -> None:
        self._closed = True
        with self._lock:
            workers, self._workers = list(self._workers.values()), {}
        for worker in workers:
            worker.kill()
        self._events.shutdown(wait=False, cancel_futures=True)


@atexit.register
def _stop_everything() -> None:
    for pool in list(_pools):
        pool.stop_all()
