"""The network interfaces of VPC Lambda functions (Hyperplane ENIs), and how long AWS keeps them.

On AWS a function with a ``VpcConfig`` gets a Lambda-owned ENI in each of its subnets, carrying its
security groups, shared by every function of the account with the same subnet and security groups.
When the last such function is deleted (or moves to other subnets or groups) the ENI stays
``in-use`` for a while, ~20 min typically, P99 ~35 min (hashicorp/terraform-provider-aws#10329),
then turns ``available`` and Lambda deletes it. Meanwhile its subnet and security groups cannot be
deleted (``DependencyViolation``, see :mod:`pytest_mlinfra.emulator.ec2`).

moto creates no ENI for a function. Here they are made, off by default, with a release delay of
``release_s`` seconds (``EmbeddedAWS(lambda_eni_release_s=...)``, ``--mlinfra-lambda-eni-release-s``,
env ``MLINFRA_LAMBDA_ENI_RELEASE_S``). Time is read when the ENI is looked at, so no thread runs: an
ENI is ``in-use`` until ``released_at``, ``available`` (no attachment) for :data:`AVAILABLE_S`
after that, then gone. Fields as DescribeNetworkInterfaces shows a Hyperplane ENI: description
``AWS Lambda VPC ENI-<function>-<uuid>``, ``InterfaceType`` ``lambda``, ``RequesterManaged`` false
(as observed on AWS), attachment ``ela-attach-…`` owned by ``amazon-aws`` that only Lambda may detach.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from moto.ec2.models.elastic_network_interfaces import NetworkInterface

DESCRIPTION_PREFIX = "AWS Lambda VPC ENI-"
# How long a released ENI shows "available" before Lambda deletes it. AWS's "up to ~40 min" covers
# both; provider 3.39 waits until the ENI is gone (two "not found" reads 10 s apart), so this adds
# straight to a destroy: kept short.
AVAILABLE_S = 2.0

_lock = threading.RLock()
_now = time.monotonic  # the clock ENIs age by (tests advance it instead of sleeping)


class LambdaAttachment:
    """The attachment of a Hyperplane ENI: Lambda's, not an instance's (``ela-attach-…``)."""

    def __init__(self, eni: LambdaNetworkInterface) -> None:
        self.attachment_id = eni.attachment_id
        self.attach_time = eni.attach_time
        self.delete_on_termination = False
        self.device_index = 1
        self.network_card_index = 0
        self.instance_owner_id = "amazon-aws"
        self.status = "attached"


class LambdaNetworkInterface(NetworkInterface):
    """A moto ENI whose status and attachment follow Lambda's use of it (re-classed after creation)."""

    users: set[str]  # names of the functions (this account and region) with this subnet + groups
    released_at: float | None  # when (``_now()``) it turns available; None while a function uses it
    combination: tuple[str, frozenset[str]]

    def adopt(self, function_name: str, combination: tuple[str, frozenset[str]]) -> None:
        self.combination = combination
        self.users = {function_name}
        self.released_at = None
        self.interface_type = "lambda"
        self.requester_managed = False
        self.attachment_id = "ela-attach-" + secrets.token_hex(9)[:17]
        self.attach_time = datetime.now(UTC)

    def in_use(self, now: float | None = None) -> bool:
        return self.released_at is None or (now if now is not None else _now()) < self.released_at

    def expired(self, now: float) -> bool:
        return self.released_at is not None and now >= self.released_at + AVAILABLE_S

    @property
    def status(self) -> str:
        return "in-use" if self.in_use() else "available"

    @status.setter
    def status(self, value: str) -> None:  # moto's __init__ sets it; Lambda decides it here
        pass

    @property
    def attachment(self) -> Any:
        return LambdaAttachment(self) if self.in_use() else None

    def get_filter_value(self, filter_name: str, method_name: str | None = None) -> Any:
        if filter_name == "status":
            return self.status
        if filter_name == "interface-type":
            return self.interface_type
        if filter_name == "requester-managed":
            return self.requester_managed
        if filter_name == "attachment.instance-owner-id":
            return "amazon-aws" if self.in_use() else None
        if filter_name == "attachment.attachment-id":
            return self.attachment_id if self.in_use() else None
        if filter_name == "attachment.status":
            return "attached" if self.in_use() else None
        return super().get_filter_value(filter_name, method_name)


def combinations(vpc_config: dict[str, Any] | None) -> set[tuple[str, frozenset[str]]]:
    """(subnet, security groups) pairs a VpcConfig puts the function's ENIs in (none outside a VPC)."""
    config = vpc_config or {}
    groups = frozenset(config.get("SecurityGroupIds") or [])
    subnets = config.get("SubnetIds") or []
    if not groups or not subnets:
        return set()
    return {(subnet, groups) for subnet in subnets}


def _lambda_enis(ec2: Any) -> list[LambdaNetworkInterface]:
    return [eni for eni in ec2.enis.values() if isinstance(eni, LambdaNetworkInterface)]


def attach(ec2: Any, function_name: str, wanted: Iterable[tuple[str, frozenset[str]]]) -> None:
    """Give the function an in-use ENI for each (subnet, groups) pair: a shared one when there is."""
    with _lock:
        expire(ec2)
        for combination in wanted:
            shared = next(
                (eni for eni in _lambda_enis(ec2) if eni.combination == combination and eni.in_use()), None
            )
            if shared is not None:
                shared.users.add(function_name)
                continue
            subnet, groups = combination
            eni = ec2.create_network_interface(
                subnet,
                None,
                group_ids=sorted(groups),
                description=f"{DESCRIPTION_PREFIX}{function_name}-{uuid.uuid4()}",
            )
            eni.__class__ = LambdaNetworkInterface
            eni.adopt(function_name, combination)


def detach(
    ec2: Any, function_name: str, keep: Iterable[tuple[str, frozenset[str]]], release_s: float
) -> None:
    """The function no longer uses the ENIs outside ``keep``: those left unused are released after
    ``release_s`` seconds (in-use until then, as AWS keeps them)."""
    kept = set(keep)
    with _lock:
        now = _now()
        for eni in _lambda_enis(ec2):
            if function_name not in eni.users or eni.combination in kept:
                continue
            eni.users.discard(function_name)
            if not eni.users and eni.released_at is None:
                eni.released_at = now + release_s


def expire(ec2: Any) -> None:
    """Forget the ENIs Lambda has deleted by now (released and past their ``available`` time)."""
    with _lock:
        now = _now()
        for eni in _lambda_enis(ec2):
            if eni.expired(now):
                ec2.enis.pop(eni.id, None)
