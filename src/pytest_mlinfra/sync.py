"""Get the model to where the function reads it, and prove the bytes arrived.

Upload the artifact to S3 with a SHA-256 checksum, run the stack's DataSync task, wait with
backoff and a timeout, then verify: on the embedded AWS by hashing the file in the EFS storage,
elsewhere by the task execution's own verification result. Without EFS (LocalStack Community) the
function reads the model from S3, so the S3 checksum is the proof.

The function's EFS packages (:mod:`pytest_mlinfra.packages`, e.g. torch) travel the same way: uploaded
under ``<model_key>/python/`` (unchanged files skipped), copied by the same task execution, checked
on EFS where the target can look.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.packages import PACKAGES_DIR, PackageReport, PackageSync

MODEL_FILE = "model.pt"  # the name when none is known (a plain ModelSync); runs pass the artifact's own
_DONE = {"SUCCESS", "ERROR"}


@dataclass(frozen=True)
class SyncedModel:
    """The model as the deployed function sees it."""

    s3_uri: str
    sha256: str
    size: int
    on_efs: bool
    execution_arn: str | None = None
    verified_by: str = ""
    packages: PackageReport | None = None  # the function's EFS packages, when it has any

    def __repr__(self) -> str:
        where = "EFS" if self.on_efs else "S3"
        return f"SyncedModel({self.s3_uri!r}, sha256={self.sha256[:12]}, {self.size} bytes, on {where})"


def megabytes(count: float) -> str:
    return f"{count / 1e6:.1f} MB"


class _CountingReader:
    """A file wrapper that reports how many bytes the S3 client has read (the upload's progress)."""

    def __init__(self, handle: IO[bytes], size: int, report: Callable[[int, int], None]) -> None:
        self._handle = handle
        self._size = size
        self._report = report

    def read(self, amount: int = -1) -> bytes:
        chunk = self._handle.read(amount)
        if chunk:
            self._report(self._handle.tell(), self._size)
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._handle.seek(offset, whence)

    def tell(self) -> int:
        return self._handle.tell()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class ModelSync:
    """Upload + DataSync + verification for one applied stack.

    ``client`` is a boto3 client factory for the target; ``efs_storage`` maps a file system id to a
    local directory when the target can show its EFS contents (the embedded AWS can; others can't).
    """

    client: Callable[[str], Any]
    outputs: Mapping[str, Any]
    efs_storage: Callable[[str], Path] | None = None
    timeout_s: float = 300.0
    poll_s: float = 0.05
    max_poll_s: float = 2.0
    packages: PackageSync | None = None
    # mlinfra_lambda_provided packages are stood in (linked on the emulated EFS where it can be
    # seen, else provided by the target's Lambda executor), not uploaded
    stand_in: bool = False
    progress: Callable[[str], None] = lambda _line: None
    execution: dict[str, Any] | None = None
    # the artifact keeps its file name: s3://<bucket>/<model_key>/<model_file>, and on EFS likewise
    model_file: str = MODEL_FILE

    @property
    def location(self) -> tuple[str, str]:
        """(bucket, key) the model is uploaded to, from the stack's outputs."""
        prefix = str(self.outputs["model_key"]).strip("/")
        return str(self.outputs["bucket_name"]), f"{prefix}/{self.model_file}"

    def upload(self, artifact: Path) -> tuple[str, str]:
        if not artifact.is_file():
            raise MlinfraError(
                f"model artifact {artifact} does not exist", "train it or point --mlinfra-model at it"
            )
        digest = sha256_file(artifact)
        bucket, key = self.location
        size = artifact.stat().st_size
        shown = [-1]

        def report(sent: int, total: int) -> None:
            # at most ~10 lines per upload, whatever the chunking; the client may read the body twice
            # (checksum, then send), so only progress beyond what was shown is news
            step = sent * 10 // max(total, 1)
            if step > shown[0]:
                shown[0] = step
                self.progress(f"upload {self.model_file} {megabytes(sent)}/{megabytes(total)}")

        with open(artifact, "rb") as handle:
            self.client("s3").put_object(
                Bucket=bucket,
                Key=key,
                Body=_CountingReader(handle, size, report),
                ContentLength=size,
                ChecksumSHA256=base64.b64encode(bytes.fromhex(digest)).decode(),
                Metadata={"sha256": digest},
            )
        return f"s3://{bucket}/{key}", digest

    def run_task(self) -> dict[str, Any]:
        """Start the task and wait for a final status; a failure or a stall is one clear error."""
        datasync = self.client("datasync")
        task_arn = self.outputs["datasync_task_arn"]
        execution_arn = datasync.start_task_execution(TaskArn=task_arn)["TaskExecutionArn"]
        deadline = time.monotonic() + self.timeout_s
        delay = self.poll_s
        shown: tuple[str, int] | None = None
        while True:
            execution: dict[str, Any] = datasync.describe_task_execution(TaskExecutionArn=execution_arn)
            self.execution = execution
            status = execution["Status"]
            moved = int(execution.get("BytesTransferred", 0))
            if (status, moved) != shown:
                shown = (status, moved)
                estimated = int(execution.get("EstimatedBytesToTransfer", 0))
                total = f"/{megabytes(estimated)}" if estimated else ""
                self.progress(f"sync DataSync {status} {megabytes(moved)}{total}")
            if status in _DONE:
                break
            if time.monotonic() > deadline:
                raise MlinfraError(
                    f"DataSync task execution {execution_arn} still {status} after {self.timeout_s:.0f} s",
                    "check the task's CloudWatch logs, or raise the sync timeout",
                )
            time.sleep(delay)
            delay = min(delay * 1.6, self.max_poll_s)
        if status == "ERROR":
            result = execution.get("Result", {})
            reason = result.get("ErrorDetail") or result.get("ErrorCode") or "no reason given"
            raise MlinfraError(
                f"DataSync task execution {execution_arn} failed: {reason}",
                "check that the model was uploaded under the task's S3 location",
            )
        return execution

    def sync(self, artifact: Path) -> SyncedModel:
        s3_uri, digest = self.upload(artifact)
        size = artifact.stat().st_size
        if not self.outputs.get("datasync_task_arn"):
            if self.packages is not None and not (self.stand_in and self.packages.all_provided()):
                raise MlinfraError(
                    "the function's EFS packages cannot reach it: this stack has no EFS/DataSync",
                    "use a target with EFS (model source efs), or drop mlinfra_efs_packages",
                )
            bucket, key = self.location
            head = self.client("s3").head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
            if head["ContentLength"] != size:
                raise MlinfraError(f"the model on {s3_uri} has {head['ContentLength']} bytes, not {size}")
            report = self.packages.report(True) if self.packages is not None else None
            verified_by = "S3 object size and checksum"
            return SyncedModel(s3_uri, digest, size, on_efs=False, verified_by=verified_by, packages=report)
        report = None
        if self.packages is not None:
            bucket, _ = self.location
            prefix = str(self.outputs["model_key"])
            report = self.packages.upload(self.client("s3"), bucket, prefix, self.stand_in)
        execution = self.run_task()
        execution_arn = str(execution["TaskExecutionArn"])
        if self.efs_storage is not None:
            landed = self.efs_storage(str(self.outputs["efs_file_system_id"]))
            root = landed / str(self.outputs.get("efs_root_path", "/")).strip("/")
            path = root / self.model_file
            if not path.is_file():
                raise MlinfraError(
                    f"DataSync execution {execution_arn} succeeded but {path} is missing",
                    "check the task's source and destination subdirectories",
                )
            found = sha256_file(path)
            if found != digest:
                raise MlinfraError(f"the model on EFS ({path}) has sha256 {found}, expected {digest}")
            if self.packages is not None and report is not None:
                if report.provided:
                    self.packages.stand_in(root / PACKAGES_DIR)
                self.packages.verify(root / PACKAGES_DIR, report)
            return SyncedModel(
                s3_uri, digest, size, True, execution_arn, verified_by=f"sha256 of {path}", packages=report
            )
        verify = execution.get("Result", {}).get("VerifyStatus")
        if verify not in ("SUCCESS", None):
            raise MlinfraError(f"DataSync execution {execution_arn} verification: {verify}")
        return SyncedModel(
            s3_uri,
            digest,
            size,
            True,
            execution_arn,
            verified_by=f"DataSync verify {verify}",
            packages=report,
        )

    def already_synced(self, artifact: Path, previous: SyncedModel) -> SyncedModel | None:
        """``previous`` again, when the artifact's sha256 is still the one synced and it is still
        there: in S3 (its recorded checksum) and, where the target shows EFS, on EFS (hashed again).
        None: sync it. Elsewhere DataSync's verification of the previous sync stands."""
        from botocore.exceptions import ClientError

        if not artifact.is_file() or sha256_file(artifact) != previous.sha256:
            return None
        bucket, key = self.location
        if previous.s3_uri != f"s3://{bucket}/{key}":
            return None
        try:
            head = self.client("s3").head_object(Bucket=bucket, Key=key)
        except ClientError:
            return None
        if head.get("Metadata", {}).get("sha256") != previous.sha256:
            return None
        if not previous.on_efs:  # the function reads S3: the checksum there is the proof, as in sync()
            return replace(previous, packages=self.packages.report(True) if self.packages else None)
        if not self.outputs.get("datasync_task_arn"):
            return None
        if self.efs_storage is None:
            return previous if self.packages is None else None
        try:
            landed = self.efs_storage(str(self.outputs["efs_file_system_id"]))
        except MlinfraError:
            return None
        root = landed / str(self.outputs.get("efs_root_path", "/")).strip("/")
        if not (root / self.model_file).is_file() or sha256_file(root / self.model_file) != previous.sha256:
            return None
        if self.packages is None:
            return previous
        if not (self.stand_in and self.packages.all_provided()):
            return None  # shipped packages: their content-addressed upload decides what to copy
        report = self.packages.report(True)
        self.packages.stand_in(root / PACKAGES_DIR)  # idempotent: the links are already there
        self.packages.verify(root / PACKAGES_DIR, report)
        return replace(previous, packages=report)
