"""A DataSync task execution that really moves bytes, S3 -> EFS storage on disk.

moto's executions only advance a status per describe call. Here a background thread walks the
phases DataSync reports (QUEUED, LAUNCHING, PREPARING, TRANSFERRING, VERIFYING, SUCCESS or ERROR)
in real time: PREPARING lists the objects under the source location's subdirectory, keeps those the
include/exclude filters select (:mod:`~pytest_mlinfra.emulator.datasync_filters`) and, with
``TransferMode=CHANGED`` (the default), drops those the destination already has with the same size
and modification time; TRANSFERRING writes the rest under the destination location's subdirectory
in the EFS file system's directory (mtime preserved unless ``Mtime=NONE``); VERIFYING compares sha256
of source and destination: every selected file for ``POINT_IN_TIME_CONSISTENT``, the transferred
ones for ``ONLY_FILES_TRANSFERRED``, none for ``NONE``.
A missing bucket, an empty source prefix or an unreadable object ends in ERROR with
``Result.ErrorCode``/``ErrorDetail`` (an empty prefix is an error here, unlike AWS, because a sync
that copies nothing is always a mistake in a test).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moto.datasync.models import TaskExecution

from pytest_mlinfra.emulator import datasync_filters

# Seconds spent in each bookkeeping phase, so callers polling the status can see it move.
PHASE_DELAY_S = 0.05
_CHUNK = 1 << 20


class TransferError(Exception):
    """Ends an execution in ERROR; ``code`` becomes ``Result.ErrorCode``."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass
class SourceObject:
    key: str
    relative: str
    size: int
    read: Any  # () -> bytes
    mtime: float | None = None  # the object's LastModified (what DataSync preserves as mtime)


@dataclass
class Endpoints:
    """Where an execution reads from and writes to (resolved when it starts)."""

    list_source: Any  # () -> list[SourceObject], raises TransferError
    destination: Path


@dataclass
class Counters:
    files_estimated: int = 0
    bytes_estimated: int = 0
    files_transferred: int = 0
    bytes_transferred: int = 0
    files_verified: int = 0
    files_prepared: int = 0
    phase_ms: dict[str, int] = field(default_factory=dict)


class TransferExecution(TaskExecution):
    """A moto TaskExecution driven by a worker thread instead of by describe calls."""

    TASK_EXECUTION_INTERMEDIATE_STATES = ("QUEUED", "LAUNCHING", "PREPARING", "TRANSFERRING", "VERIFYING")  # type: ignore[assignment]

    def __init__(
        self,
        task_arn: str,
        arn_counter: int,
        options: dict[str, Any],
        on_done: Any,
        includes: list[dict[str, Any]] | None = None,
        excludes: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(task_arn, arn_counter=arn_counter)
        self.status = "QUEUED"
        self.options = options
        self.includes = list(includes or [])
        self.excludes = list(excludes or [])
        self.start_time = time.time()
        self.counters = Counters()
        self.error: TransferError | None = None
        self._cancelled = threading.Event()
        self._on_done = on_done
        self._thread: threading.Thread | None = None

    def iterate_status(self) -> None:
        """Status moves with time in the worker thread, never because someone looked."""

    def cancel(self) -> None:
        super().cancel()
        self._cancelled.set()

    def run_in_background(self, endpoints: Endpoints) -> None:
        self._thread = threading.Thread(
            target=self._run, args=(endpoints,), name=f"datasync-{self.arn[-8:]}", daemon=True
        )
        self._thread.start()

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _phase(self, status: str) -> None:
        if self._cancelled.is_set():
            raise TransferError("Cancelled", "the task execution was cancelled")
        self.status = status

    def _run(self, endpoints: Endpoints) -> None:
        try:
            for status in ("QUEUED", "LAUNCHING"):
                self._phase(status)
                time.sleep(PHASE_DELAY_S)
            self._phase("PREPARING")
            started = time.monotonic()
            selected = self._select(endpoints.list_source())
            objects = [obj for obj in selected if self._changed(obj, endpoints.destination)]
            self.counters.files_prepared = len(objects)
            self.counters.files_estimated = len(objects)
            self.counters.bytes_estimated = sum(obj.size for obj in objects)
            time.sleep(PHASE_DELAY_S)
            self.counters.phase_ms["Prepare"] = _ms_since(started)
            self._phase("TRANSFERRING")
            started = time.monotonic()
            digests = self._transfer(objects, endpoints.destination)
            self.counters.phase_ms["Transfer"] = _ms_since(started)
            self._phase("VERIFYING")
            started = time.monotonic()
            verify_mode = self.options.get("VerifyMode", "POINT_IN_TIME_CONSISTENT")
            if verify_mode == "POINT_IN_TIME_CONSISTENT":
                unchanged = [obj for obj in selected if obj.relative not in digests]
                digests.update(self._source_digests(unchanged))
            if verify_mode != "NONE":
                self._verify(digests, endpoints.destination)
            self.counters.phase_ms["Verify"] = _ms_since(started)
            self.status = "SUCCESS"
        except TransferError as exc:
            self.error = exc
            self.status = "ERROR"
        except Exception as exc:  # an emulator bug must still end the execution, not hang it
            self.error = TransferError("InternalError", f"{type(exc).__name__}: {exc}")
            self.status = "ERROR"
        finally:
            self._on_done(self)

    def _select(self, objects: list[SourceObject]) -> list[SourceObject]:
        includes = datasync_filters.patterns(self.includes)
        excludes = datasync_filters.patterns(self.excludes)
        return [obj for obj in objects if datasync_filters.selected(obj.relative, includes, excludes)]

    def _changed(self, obj: SourceObject, destination: Path) -> bool:
        """``TransferMode=CHANGED``: copy only what differs from the destination (size or mtime)."""
        if self.options.get("TransferMode", "CHANGED") != "CHANGED" or obj.mtime is None:
            return True
        try:
            stat = (destination / obj.relative).stat()
        except OSError:
            return True
        return stat.st_size != obj.size or int(stat.st_mtime) != int(obj.mtime)

    def _source_digests(self, objects: list[SourceObject]) -> dict[str, str]:
        digests = {}
        for obj in objects:
            try:
                digests[obj.relative] = hashlib.sha256(obj.read()).hexdigest()
            except Exception as exc:
                raise TransferError("SourceReadError", f"cannot read s3 object {obj.key!r}: {exc}") from None
        return digests

    def _transfer(self, objects: list[SourceObject], destination: Path) -> dict[str, str]:
        digests: dict[str, str] = {}
        for obj in objects:
            if self._cancelled.is_set():
                raise TransferError("Cancelled", "the task execution was cancelled")
            try:
                data = obj.read()
            except Exception as exc:
                raise TransferError("SourceReadError", f"cannot read s3 object {obj.key!r}: {exc}") from None
            target = destination / obj.relative
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                partial = target.with_name(f".{target.name}.datasync-partial")
                with open(partial, "wb") as handle:
                    for offset in range(0, len(data), _CHUNK):
                        handle.write(data[offset : offset + _CHUNK])
                        self.counters.bytes_transferred += min(_CHUNK, len(data) - offset)
                if obj.mtime is not None and self.options.get("Mtime", "PRESERVE") == "PRESERVE":
                    os.utime(partial, (obj.mtime, obj.mtime))
                partial.replace(target)
            except OSError as exc:
                raise TransferError(
                    "DestinationWriteError", f"cannot write {obj.relative!r}: {exc}"
                ) from None
            digests[obj.relative] = hashlib.sha256(data).hexdigest()
            self.counters.files_transferred += 1
        return digests

    def _verify(self, digests: dict[str, str], destination: Path) -> None:
        for relative, expected in digests.items():
            actual = hashlib.sha256()
            try:
                with open(destination / relative, "rb") as handle:
                    for block in iter(lambda: handle.read(_CHUNK), b""):
                        actual.update(block)
            except OSError as exc:
                raise TransferError("VerificationFailed", f"cannot read back {relative!r}: {exc}") from None
            if actual.hexdigest() != expected:
                raise TransferError("VerificationFailed", f"checksum mismatch for {relative!r}")
            self.counters.files_verified += 1

    def describe(self) -> dict[str, Any]:
        """The DescribeTaskExecution body."""
        c = self.counters
        result: dict[str, Any] = {
            "PrepareDuration": c.phase_ms.get("Prepare", 0),
            "PrepareStatus": _phase_status(self, "Prepare"),
            "TransferDuration": c.phase_ms.get("Transfer", 0),
            "TransferStatus": _phase_status(self, "Transfer"),
            "VerifyDuration": c.phase_ms.get("Verify", 0),
            "VerifyStatus": _phase_status(self, "Verify"),
            "TotalDuration": sum(c.phase_ms.values()),
        }
        if self.error is not None:
            result["ErrorCode"] = self.error.code
            result["ErrorDetail"] = self.error.detail
        return {
            "TaskExecutionArn": self.arn,
            "Status": self.status,
            "Options": self.options,
            "Excludes": self.excludes,
            "Includes": self.includes,
            "StartTime": self.start_time,
            "EstimatedFilesToTransfer": c.files_estimated,
            "EstimatedBytesToTransfer": c.bytes_estimated,
            "FilesTransferred": c.files_transferred,
            "BytesWritten": c.bytes_transferred,
            "BytesTransferred": c.bytes_transferred,
            "BytesCompressed": c.bytes_transferred,
            "FilesVerified": c.files_verified,
            "FilesPrepared": c.files_prepared,
            "Result": result,
        }


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _phase_status(execution: TransferExecution, phase: str) -> str:
    if phase in execution.counters.phase_ms:
        return "SUCCESS"
    if execution.status == "ERROR":
        return "ERROR"
    return "PENDING"
