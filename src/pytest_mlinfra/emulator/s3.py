"""S3 buckets encrypted by default, as on AWS since January 2023.

AWS applies SSE-S3 (``AES256``, no bucket key) to every new bucket: ``GetBucketEncryption`` returns
that rule, new objects report ``x-amz-server-side-encryption: AES256``, and
``DeleteBucketEncryption`` goes back to it instead of leaving the bucket unencrypted. moto creates
buckets without encryption (``GetBucketEncryption`` answers
``ServerSideEncryptionConfigurationNotFoundError``), so a Terraform stack would see no drift
locally where it drifts on AWS. LocalStack behaves as AWS here.
"""

from __future__ import annotations

import copy
from typing import Any

from moto.s3.models import FakeBucket, S3Backend

# What GetBucketEncryption returns on AWS for a bucket nobody configured.
DEFAULT_ENCRYPTION: dict[str, Any] = {
    "Rule": {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}
}


def default_encryption() -> dict[str, Any]:
    return copy.deepcopy(DEFAULT_ENCRYPTION)


class EncryptedS3Backend(S3Backend):
    """moto's S3 backend whose buckets start with, and fall back to, SSE-S3."""

    @property
    def _url_module(self) -> Any:
        import moto.s3.urls

        return moto.s3.urls

    def create_bucket(self, *args: Any, **kwargs: Any) -> FakeBucket:
        bucket = super().create_bucket(*args, **kwargs)
        bucket.encryption = default_encryption()
        return bucket

    def delete_bucket_encryption(self, bucket_name: str) -> None:
        self.get_bucket(bucket_name).encryption = default_encryption()
