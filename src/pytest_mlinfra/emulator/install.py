"""Register the emulator's backend classes in moto's backend dicts (the one place moto is changed).

moto serves each service from a module-level ``BackendDict`` that builds backends lazily from its
``backend`` class. Pointing those at our subclasses (which add EFS storage, DataSync EFS
locations, tags and transfers, a Docker-free Lambda invoke and VPC Lambda ENIs, EC2's dependency
checks on subnets and security groups, IAM roles in the tagging API and AWS-managed policies, S3
default encryption, SNS delivering to Lambda asynchronously) is the
supported extension point: moto's server, its Resource Groups Tagging API and its other
services then see the extended backends without any moto function being patched. Idempotent;
existing backends of those services are dropped once, at the first install, so every region is
built from the new class.
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_installed = False


def use_backend(backend_dict: Any, cls: type) -> None:
    """Build ``backend_dict``'s backends from ``cls`` from now on (also used by the LocalStack plugin)."""
    if backend_dict.backend is not cls:
        backend_dict.backend = cls
        backend_dict.clear()


def install() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        from moto.awslambda.models import lambda_backends
        from moto.datasync.models import datasync_backends
        from moto.ec2.models import ec2_backends
        from moto.efs.models import efs_backends
        from moto.iam.models import iam_backends
        from moto.s3.models import s3_backends
        from moto.sns.models import sns_backends

        from pytest_mlinfra.emulator.datasync import TransferDataSyncBackend
        from pytest_mlinfra.emulator.ec2 import DependentEC2Backend
        from pytest_mlinfra.emulator.efs import StorageEFSBackend
        from pytest_mlinfra.emulator.iam import ManagedPoliciesIAMBackend
        from pytest_mlinfra.emulator.lambda_backend import RunningLambdaBackend
        from pytest_mlinfra.emulator.s3 import EncryptedS3Backend
        from pytest_mlinfra.emulator.sns import LambdaDeliveringSNSBackend

        for backend_dict, cls in (
            (efs_backends, StorageEFSBackend),
            (datasync_backends, TransferDataSyncBackend),
            (lambda_backends, RunningLambdaBackend),
            (iam_backends, ManagedPoliciesIAMBackend),
            (s3_backends, EncryptedS3Backend),
            (ec2_backends, DependentEC2Backend),
            (sns_backends, LambdaDeliveringSNSBackend),
        ):
            use_backend(backend_dict, cls)
        _installed = True
