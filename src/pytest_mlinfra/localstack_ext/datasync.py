"""DataSync on LocalStack: the embedded AWS's backend, reading the source from LocalStack's S3.

LocalStack's S3 is its own provider, not moto's, so the one thing that changes is where an
execution lists and reads the source objects: through LocalStack's internal S3 client, as the
caller's account. Everything else (EFS locations, tags, phases, sha256 verification) is
:class:`pytest_mlinfra.emulator.datasync.TransferDataSyncBackend` unchanged.
"""

from __future__ import annotations

from typing import Any

from moto.datasync.models import Location

from pytest_mlinfra.emulator.datasync import TransferDataSyncBackend
from pytest_mlinfra.emulator.datasync_transfer import SourceObject, TransferError


class LocalStackDataSyncBackend(TransferDataSyncBackend):
    """Executions read ``s3://bucket/subdirectory/`` from LocalStack's S3 provider."""

    def _s3(self) -> Any:
        from localstack.aws.connect import connect_to

        # A 12-digit access key id is read by LocalStack as the account to act in.
        return connect_to(region_name=self.region_name, aws_access_key_id=self.account_id).s3

    def _list_s3(self, location: Location) -> list[SourceObject]:
        bucket = str(location.metadata["S3BucketArn"]).split(":")[-1]
        prefix = location.metadata["Subdirectory"].lstrip("/")
        prefix = "" if prefix in ("", "/") else prefix
        s3 = self._s3()
        objects: list[SourceObject] = []
        try:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    key = str(item["Key"])
                    if key.endswith("/"):
                        continue
                    relative, size = key[len(prefix) :], int(item["Size"])
                    mtime = item["LastModified"].timestamp()
                    objects.append(SourceObject(key, relative, size, _reader(s3, bucket, key), mtime))
        except s3.exceptions.NoSuchBucket:
            raise TransferError("S3BucketNotFound", f"source bucket {bucket!r} does not exist") from None
        if not objects:
            where = f"s3://{bucket}/{prefix}"
            raise TransferError("SourceNotFound", f"no objects under {where} (source location is empty)")
        return objects


def _reader(s3: Any, bucket: str, key: str) -> Any:
    def read() -> bytes:
        body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return body

    return read
