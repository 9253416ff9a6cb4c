"""EC2 that refuses to delete what a network interface still uses, as AWS does.

moto deletes a subnet or a security group whatever still sits in it. AWS refuses while a network
interface is in the subnet or carries the group, or another group's rule names the group: 400
``DependencyViolation``, "The subnet 'subnet-…' has dependencies and cannot be deleted." and
"resource sg-… has a dependent object".
That is what a VPC Lambda's ENIs (:mod:`pytest_mlinfra.emulator.lambda_eni`) do to a destroy on
AWS for tens of minutes after the function is gone. Lambda's attachments cannot be detached by
anyone else (``OperationNotPermitted``), nor its in-use ENIs deleted (``InvalidNetworkInterface.InUse``).
Lambda ENIs whose time is up are forgotten before every call that lists or checks ENIs.
"""

from __future__ import annotations

from typing import Any

from moto.ec2.exceptions import DependencyViolationError, EC2ClientError, OperationNotPermitted
from moto.ec2.models import EC2Backend

from pytest_mlinfra.emulator import lambda_eni


class NetworkInterfaceInUse(EC2ClientError):
    def __init__(self, eni_id: str) -> None:
        super().__init__(
            "InvalidNetworkInterface.InUse", f"The network interface '{eni_id}' is currently in use."
        )


class DependentEC2Backend(EC2Backend):
    """moto's EC2 backend with AWS's dependency checks on subnets, security groups and Lambda ENIs."""

    @property
    def _url_module(self) -> Any:
        import moto.ec2.urls

        return moto.ec2.urls

    def _enis_using(self, subnet_id: str | None = None, group_id: str | None = None) -> list[Any]:
        lambda_eni.expire(self)
        return [
            eni
            for eni in list(self.enis.values())
            if (subnet_id is not None and eni.subnet.id == subnet_id)
            or (group_id is not None and group_id in [group.id for group in eni._group_set])
        ]

    def _referenced(self, group_id: str) -> bool:
        """Whether another security group's ingress or egress rule names this group."""
        for other in self.describe_security_groups():
            if other.id == group_id:
                continue
            for rule in [*other.ingress_rules, *other.egress_rules]:
                if (getattr(rule, "source_group", None) or {}).get("GroupId") == group_id:
                    return True
        return False

    def delete_subnet(self, subnet_id: str) -> Any:
        if self._enis_using(subnet_id=subnet_id):
            raise DependencyViolationError(
                f"The subnet '{subnet_id}' has dependencies and cannot be deleted."
            )
        return super().delete_subnet(subnet_id)

    def delete_security_group(self, name: str | None = None, group_id: str | None = None) -> None:
        wanted = group_id or name
        group = self.get_security_group_by_name_or_id(wanted) if wanted else None
        if group is not None and (self._enis_using(group_id=group.id) or self._referenced(group.id)):
            raise DependencyViolationError(f"resource {group.id} has a dependent object")
        super().delete_security_group(name, group_id)

    def get_all_network_interfaces(self, eni_ids: list[str] | None = None, filters: Any = None) -> list[Any]:
        lambda_eni.expire(self)
        result: list[Any] = super().get_all_network_interfaces(eni_ids, filters)
        return result

    def delete_network_interface(self, eni_id: str) -> None:
        lambda_eni.expire(self)
        eni = self.enis.get(eni_id)
        if isinstance(eni, lambda_eni.LambdaNetworkInterface) and eni.in_use():
            raise NetworkInterfaceInUse(eni_id)
        super().delete_network_interface(eni_id)

    def detach_network_interface(self, attachment_id: str) -> None:
        if attachment_id.startswith("ela-attach-"):
            raise OperationNotPermitted("You are not allowed to manage 'ela-attach' attachments.")
        super().detach_network_interface(attachment_id)
