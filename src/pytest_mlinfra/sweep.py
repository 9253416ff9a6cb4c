"""The tag sweep: find what carries a run's ``mlinfra:run-id`` tag and delete it in dependency order.

Used by ``mlinfra reap`` when a run's state is gone, and after a destroy to prove nothing is left.
Resources are found through the Resource Groups Tagging API plus the service APIs for what the
tagging API does not list (IAM roles on AWS, buckets on LocalStack, HTTP APIs by their own tags).
Children that cannot carry a tag are found through their tagged parent: an EFS file system's mount
targets (AWS cannot tag them) and access points (DescribeMountTargets/DescribeAccessPoints by
FileSystemId); a role's policies, a bucket's objects and versions, a route table's associations and
a security group's references to other groups are removed with their parent. S3 buckets are
never tagged in the call that creates them (PutBucketTagging follows CreateBucket): a bucket is also
found by the run's name prefix (``mlinfra-<run-id>-``). A killed run's Terraform gets SIGTERM (the
parent-death signal) and lets its in-flight calls, tagging included, finish before it exits. Only
resources carrying the run's tag or name prefix, and the children of those, are touched.

Order: HTTP API -> function -> DataSync task/locations -> mount targets (waited for until deleted, as
the provider does) / access points -> file system -> security groups -> subnets -> route
tables/gateways -> VPC -> bucket (emptied) -> roles -> log groups.

A VPC-attached Lambda's ENIs outlive the function on AWS for up to tens of minutes
(hashicorp/terraform-provider-aws#10329): security groups and subnets then answer
``DependencyViolation``. The sweep retries those with a progress line at the first refusal, then
each ``progress_s``, until ``timeout_s`` (45 min by default), never a silent hang.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.ledger import Ledger
from pytest_mlinfra.settings import RUN_ID_TAG
from pytest_mlinfra.targets.base import Target

ORDER = (
    "http-api",
    "lambda-function",
    "datasync-task",
    "datasync-location",
    "efs-mount-target",
    "efs-access-point",
    "efs-file-system",
    "security-group",
    "subnet",
    "route-table",
    "internet-gateway",
    "vpc",
    "s3-bucket",
    "iam-role",
    "log-group",
)
#  How long a DependencyViolation (Lambda ENIs still attached) is retried before giving up.
DEPENDENCY_TIMEOUT_S = 45 * 60.0
#  Kinds found only through a tagged parent, deleted by reap before ``terraform destroy`` (a state
#  that lacks them would otherwise wait on FileSystemInUse / DependencyViolation until its timeout).
UNTRACKED_CHILDREN = ("efs-mount-target", "efs-access-point")
_RETRYABLE = {"DependencyViolation", "FileSystemInUse", "ResourceInUseException", "InvalidParameterValue"}


@dataclass(frozen=True)
class Resource:
    kind: str
    ident: str  # the id the service's delete call takes (name, id or ARN)
    arn: str = ""


def kind_of(arn: str) -> tuple[str, str] | None:
    """(kind, delete id) for an ARN the sweep knows how to delete; None for others."""
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return None
    service, resource = parts[2], parts[5]
    if service == "apigateway" and resource.startswith("/apis/") and resource.count("/") == 2:
        return "http-api", resource.split("/")[2]
    if service == "lambda" and resource.startswith("function:"):
        return "lambda-function", resource.split(":")[1]
    if service == "datasync" and resource.startswith("task/"):
        return "datasync-task", arn
    if service == "datasync" and resource.startswith("location/"):
        return "datasync-location", arn
    if service == "elasticfilesystem" and resource.startswith("access-point/"):
        return "efs-access-point", resource.split("/", 1)[1]
    if service == "elasticfilesystem" and resource.startswith("file-system/"):
        return "efs-file-system", resource.split("/", 1)[1]
    if service == "ec2":
        for prefix, kind in (
            ("security-group/", "security-group"),
            ("subnet/", "subnet"),
            ("route-table/", "route-table"),
            ("internet-gateway/", "internet-gateway"),
            ("vpc/", "vpc"),
        ):
            if resource.startswith(prefix):
                return kind, resource.split("/", 1)[1]
        return None
    if service == "s3":
        return "s3-bucket", resource
    if service == "iam" and resource.startswith("role/"):
        return "iam-role", resource.rsplit("/", 1)[1]
    if service == "logs" and resource.startswith("log-group:"):
        return "log-group", resource.split(":", 1)[1].removesuffix(":*")
    return None


class _EndpointTarget(Target):
    """A target known only by its endpoint (what a ledger records), for clients."""

    def __init__(self, name: str, endpoint: str | None, region: str) -> None:
        self.name = name
        self._endpoint = endpoint
        self.region = region

    @property
    def endpoint_url(self) -> str | None:
        return self._endpoint


def target_for(ledger: Ledger) -> Target:
    """A started-able target for the run's endpoint and region (AWS: the current credentials)."""
    if ledger.target == "aws":
        from pytest_mlinfra.targets.aws import AwsTarget

        return AwsTarget(ledger.region, opt_in=True)
    return _EndpointTarget(ledger.target, ledger.endpoint, ledger.region)


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


class Sweep:
    def __init__(
        self,
        target: Target,
        run_id: str,
        log: Callable[[str], None] = print,
        timeout_s: float | None = None,
        progress_s: float = 30.0,
        retry_s: float = 5.0,
    ) -> None:
        self.target = target
        self.run_id = run_id
        self.log = log
        self.timeout_s = DEPENDENCY_TIMEOUT_S if timeout_s is None else timeout_s
        self.progress_s = progress_s
        self.retry_s = retry_s
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.target.client(service)
        return self._clients[service]

    # -- finding ------------------------------------------------------------------------------------

    @property
    def name_prefix(self) -> str:
        """What every name the run gives starts with (the stacks' ``name_prefix`` variable): the
        link to a bucket whose tags come in a second call (PutBucketTagging after CreateBucket),
        when the run died between the two."""
        return f"mlinfra-{self.run_id}-"

    def _tagged(self, tags: Any) -> bool:
        if isinstance(tags, dict):
            return tags.get(RUN_ID_TAG) == self.run_id
        return any(t.get("Key") == RUN_ID_TAG and t.get("Value") == self.run_id for t in tags or [])

    def find(self) -> list[Resource]:
        """Everything carrying the run's tag, and the untaggable children of those, in order."""
        from botocore.exceptions import BotoCoreError, ClientError

        found: dict[tuple[str, str], Resource] = {}
        pages = self.client("resourcegroupstaggingapi").get_paginator("get_resources")
        for page in pages.paginate(TagFilters=[{"Key": RUN_ID_TAG, "Values": [self.run_id]}]):
            for item in page["ResourceTagMappingList"]:
                known = kind_of(item["ResourceARN"])
                if known:
                    found[known] = Resource(known[0], known[1], item["ResourceARN"])
        for finder in (self._buckets, self._roles, self._http_apis, self._efs_children):
            try:
                for resource in finder(found):
                    found[(resource.kind, resource.ident)] = resource
            except (BotoCoreError, ClientError):
                continue  # a service the target lacks (LocalStack Community has no EFS)
        return sorted(found.values(), key=lambda r: (ORDER.index(r.kind), r.ident))

    def _buckets(self, found: dict[tuple[str, str], Resource]) -> list[Resource]:
        """Buckets by their own tags (LocalStack's tagging API lists EC2 resources only), or by
        the run's name prefix when untagged."""
        from botocore.exceptions import ClientError

        s3 = self.client("s3")
        buckets = []
        for bucket in s3.list_buckets().get("Buckets", []):
            name = bucket["Name"]
            if ("s3-bucket", name) in found:
                continue
            if name.startswith(self.name_prefix):
                buckets.append(Resource("s3-bucket", name, f"arn:aws:s3:::{name}"))
                continue
            try:
                tags = s3.get_bucket_tagging(Bucket=name).get("TagSet", [])
            except ClientError:
                continue  # NoSuchTagSet
            if self._tagged(tags):
                buckets.append(Resource("s3-bucket", name, f"arn:aws:s3:::{name}"))
        return buckets

    def _roles(self, found: dict[tuple[str, str], Resource]) -> list[Resource]:
        iam = self.client("iam")
        roles = []
        for page in iam.get_paginator("list_roles").paginate():
            for role in page["Roles"]:
                if ("iam-role", role["RoleName"]) in found:
                    continue
                if self._tagged(iam.list_role_tags(RoleName=role["RoleName"]).get("Tags", [])):
                    roles.append(Resource("iam-role", role["RoleName"], role["Arn"]))
        return roles

    def _http_apis(self, found: dict[tuple[str, str], Resource]) -> list[Resource]:
        """API Gateway HTTP APIs by their own tags (not every target's tagging API lists them)."""
        apis = []
        for page in self.client("apigatewayv2").get_paginator("get_apis").paginate():
            for api in page.get("Items", []):
                if ("http-api", api["ApiId"]) not in found and self._tagged(api.get("Tags") or {}):
                    apis.append(Resource("http-api", api["ApiId"]))
        return apis

    def _efs_children(self, found: dict[tuple[str, str], Resource]) -> list[Resource]:
        """Mount targets (no tags on AWS) and access points of the run's tagged file systems."""
        efs = self.client("efs")
        children = []
        for kind, fs_id in list(found):
            if kind != "efs-file-system":
                continue
            for page in efs.get_paginator("describe_mount_targets").paginate(FileSystemId=fs_id):
                for target in page["MountTargets"]:
                    if target.get("LifeCycleState") != "deleted":
                        children.append(Resource("efs-mount-target", target["MountTargetId"]))
            for page in efs.get_paginator("describe_access_points").paginate(FileSystemId=fs_id):
                for point in page["AccessPoints"]:
                    if point.get("LifeCycleState") != "deleted":
                        children.append(
                            Resource(
                                "efs-access-point", point["AccessPointId"], point.get("AccessPointArn", "")
                            )
                        )
        return children

    # -- deleting -----------------------------------------------------------------------------------

    def run(self, kinds: tuple[str, ...] | None = None) -> list[Resource]:
        """Delete everything found (only ``kinds``, when given), in dependency order; returns what
        was deleted."""
        from botocore.exceptions import BotoCoreError, ClientError

        deleted = []
        found = [r for r in self.find() if kinds is None or r.kind in kinds]
        groups = [r.ident for r in found if r.kind == "security-group"]
        if groups:
            try:
                self._unlink_groups(groups)
            except (BotoCoreError, ClientError) as exc:
                self.log(f"  could not remove the rules between security groups {groups}: {exc}")
        for resource in found:
            try:
                self._delete_waiting(resource)
            except MlinfraError as exc:
                self.log(f"  {exc}")
                continue
            except (BotoCoreError, ClientError) as exc:
                if _code(exc) in {
                    "NoSuchEntity",
                    "ResourceNotFoundException",
                    "NoSuchBucket",
                } or "NotFound" in _code(exc):
                    continue
                self.log(f"  could not delete {resource.kind} {resource.ident}: {exc}")
                continue
            self.log(f"  deleted {resource.kind} {resource.ident}")
            deleted.append(resource)
        return deleted

    def _delete_waiting(self, resource: Resource) -> None:
        """Delete, retrying while dependencies (Lambda ENIs, mount targets) are being released."""
        from botocore.exceptions import ClientError

        started = time.monotonic()
        last_progress: float | None = None  # the first refusal is said at once, then every progress_s
        while True:
            try:
                self.delete(resource)
                return
            except ClientError as exc:
                if _code(exc) not in _RETRYABLE:
                    raise
                waited = time.monotonic() - started
                if waited >= self.timeout_s:
                    raise MlinfraError(
                        f"{resource.kind} {resource.ident} still in use after {waited:.0f} s ({_code(exc)})",
                        f"run mlinfra reap {self.run_id} again later",
                    ) from None
                if last_progress is None or time.monotonic() - last_progress >= self.progress_s:
                    self.log(
                        f"  waiting for {resource.kind} {resource.ident} to lose its dependencies "
                        f"({_code(exc)}; a deleted VPC Lambda's network interfaces can hold it for up "
                        f"to ~40 min): {waited:.0f} s of {self.timeout_s:.0f} s"
                    )
                    last_progress = time.monotonic()
                time.sleep(self.retry_s)

    def delete(self, resource: Resource) -> None:
        kind, ident = resource.kind, resource.ident
        if kind == "lambda-function":
            self.client("lambda").delete_function(FunctionName=ident)
        elif kind == "datasync-task":
            self.client("datasync").delete_task(TaskArn=ident)
        elif kind == "datasync-location":
            self.client("datasync").delete_location(LocationArn=ident)
        elif kind == "efs-mount-target":
            self.client("efs").delete_mount_target(MountTargetId=ident)
            self._wait_mount_target_deleted(ident)
        elif kind == "efs-access-point":
            self.client("efs").delete_access_point(AccessPointId=ident)
        elif kind == "efs-file-system":
            self.client("efs").delete_file_system(FileSystemId=ident)
        elif kind == "security-group":
            self.client("ec2").delete_security_group(GroupId=ident)
        elif kind == "subnet":
            self.client("ec2").delete_subnet(SubnetId=ident)
        elif kind == "route-table":
            ec2 = self.client("ec2")
            for table in ec2.describe_route_tables(RouteTableIds=[ident])["RouteTables"]:
                for association in table.get("Associations", []):
                    if not association.get("Main"):
                        ec2.disassociate_route_table(AssociationId=association["RouteTableAssociationId"])
            ec2.delete_route_table(RouteTableId=ident)
        elif kind == "internet-gateway":
            ec2 = self.client("ec2")
            for attachment in ec2.describe_internet_gateways(InternetGatewayIds=[ident])["InternetGateways"][
                0
            ].get("Attachments", []):
                ec2.detach_internet_gateway(InternetGatewayId=ident, VpcId=attachment["VpcId"])
            ec2.delete_internet_gateway(InternetGatewayId=ident)
        elif kind == "vpc":
            self.client("ec2").delete_vpc(VpcId=ident)
        elif kind == "s3-bucket":
            self._empty_bucket(ident)
            self.client("s3").delete_bucket(Bucket=ident)
        elif kind == "iam-role":
            self._delete_role(ident)
        elif kind == "log-group":
            self.client("logs").delete_log_group(logGroupName=ident)
        elif kind == "http-api":
            self.client("apigatewayv2").delete_api(ApiId=ident)

    def _wait_mount_target_deleted(self, mount_target_id: str) -> None:
        """DeleteMountTarget only starts the deletion; the file system stays in use until the mount
        target is gone (the provider waits the same way)."""
        from botocore.exceptions import ClientError

        started = time.monotonic()
        efs = self.client("efs")
        while True:
            try:
                targets = efs.describe_mount_targets(MountTargetId=mount_target_id)["MountTargets"]
            except ClientError as exc:
                if _code(exc) == "MountTargetNotFound":
                    return
                raise
            if not targets or targets[0].get("LifeCycleState") == "deleted":
                return
            if time.monotonic() - started >= self.timeout_s:
                raise MlinfraError(
                    f"efs-mount-target {mount_target_id} still {targets[0].get('LifeCycleState')} after "
                    f"{time.monotonic() - started:.0f} s",
                    f"run mlinfra reap {self.run_id} again later",
                )
            time.sleep(min(self.retry_s, 2.0))

    def _unlink_groups(self, group_ids: list[str]) -> None:
        """Revoke the rules of the run's security groups that name another group: AWS refuses to
        delete a group another one still references (DependencyViolation, at any wait)."""
        ec2 = self.client("ec2")
        for group in ec2.describe_security_groups(GroupIds=group_ids)["SecurityGroups"]:
            for field, revoke in (
                ("IpPermissions", ec2.revoke_security_group_ingress),
                ("IpPermissionsEgress", ec2.revoke_security_group_egress),
            ):
                linked = [
                    {
                        **{k: rule[k] for k in ("IpProtocol", "FromPort", "ToPort") if k in rule},
                        "UserIdGroupPairs": pairs,
                    }
                    for rule in group.get(field, [])
                    if (pairs := [{"GroupId": p["GroupId"]} for p in rule.get("UserIdGroupPairs", [])])
                ]
                if linked:
                    revoke(GroupId=group["GroupId"], IpPermissions=linked)

    def _empty_bucket(self, bucket: str) -> None:
        s3 = self.client("s3")
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            objects = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            if objects:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            objects = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if objects:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})

    def _delete_role(self, name: str) -> None:
        iam = self.client("iam")
        for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=name):
            for policy in page["AttachedPolicies"]:
                iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
        for page in iam.get_paginator("list_role_policies").paginate(RoleName=name):
            for policy_name in page["PolicyNames"]:
                iam.delete_role_policy(RoleName=name, PolicyName=policy_name)
        for page in iam.get_paginator("list_instance_profiles_for_role").paginate(RoleName=name):
            for profile in page["InstanceProfiles"]:
                iam.remove_role_from_instance_profile(
                    RoleName=name, InstanceProfileName=profile["InstanceProfileName"]
                )
        iam.delete_role(RoleName=name)
