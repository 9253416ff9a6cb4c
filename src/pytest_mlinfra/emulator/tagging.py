"""IAM roles in the Resource Groups Tagging API, which moto's IAM backend does not join.

moto's ``GetResources`` asks every backend that mixes in ``TaggableResourcesMixin``; IAM does
not, so a cost-tag audit through the tagging API would miss the stack's roles. (EFS, Lambda,
S3, EC2 and CloudWatch Logs already take part; DataSync does through
:class:`pytest_mlinfra.emulator.datasync.TransferDataSyncBackend`.)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from moto.core.resource_tagging import TaggableResourcesMixin, TaggedResource
from moto.iam.models import IAMBackend


class TaggedIAMBackend(IAMBackend, TaggableResourcesMixin):
    SERVICE_NAMESPACE = "iam"

    @property
    def _url_module(self) -> Any:
        import moto.iam.urls

        return moto.iam.urls

    def iter_tagged_resources(self) -> Iterator[TaggedResource]:
        for role in list(self.roles.values()):
            tags = {tag["Key"]: tag["Value"] for tag in role.tags or []}
            yield TaggedResource(arn=role.arn, tags=tags, resource_type="iam:role")
