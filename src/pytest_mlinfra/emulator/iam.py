"""IAM with AWS-managed policies, as every AWS account has them.

moto loads its copy of the AWS-managed policies (``arn:aws:iam::aws:policy/...``, ~1,600) only when
``MOTO_IAM_LOAD_MANAGED_POLICIES=true``; without them ``data "aws_iam_policy"`` by ARN,
``GetPolicy`` and attaching e.g. ``AWSLambdaVPCAccessExecutionRole`` fail where AWS succeeds. Here
they are loaded by default; ``MOTO_IAM_LOAD_MANAGED_POLICIES=false`` turns them off. The policy
documents are parsed once per process (~35 ms) and each account's IAM backend builds its policy
objects from that (~60 ms, at the account's first IAM call).
"""

from __future__ import annotations

import functools
import json
import os
from typing import Any

from moto.iam.models import AWSManagedPolicy, ManagedPolicy

from pytest_mlinfra.emulator.tagging import TaggedIAMBackend


def managed_policies_wanted() -> bool:
    return os.environ.get("MOTO_IAM_LOAD_MANAGED_POLICIES", "").lower() != "false"


@functools.cache
def _policy_data() -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    data: dict[str, Any] = json.loads(aws_managed_policies_data)
    return data


class ManagedPoliciesIAMBackend(TaggedIAMBackend):
    """moto's IAM backend (with roles in the tagging API) plus the AWS-managed policies."""

    def _init_aws_policies(self) -> list[ManagedPolicy]:
        if not managed_policies_wanted():
            return []
        return [
            AWSManagedPolicy.from_data(name, self.account_id, self.region_name, document)
            for name, document in _policy_data().items()
        ]
