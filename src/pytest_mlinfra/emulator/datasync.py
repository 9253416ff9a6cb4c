"""DataSync beyond moto: EFS locations, tags, full DescribeTask, executions that move bytes.

Extends moto's DataSync backend and response classes (registered in moto's backend dict by
:mod:`pytest_mlinfra.emulator.install`). What the Terraform AWS provider 3.39 sends and reads back
is covered: ``aws_datasync_location_efs`` (``Ec2Config``, ``EfsFilesystemArn``, ``Subdirectory``,
``Tags``), ``TagResource``/``UntagResource``/``ListTagsForResource`` on every location and task,
and ``DescribeTask`` with the full ``Options`` AWS fills in, so a second plan is clean.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from moto.datasync.models import DataSyncBackend, Location, datasync_backends
from moto.efs.models import efs_backends
from moto.s3.models import FakeKey, s3_backends

from pytest_mlinfra.emulator import context, moto_surface
from pytest_mlinfra.emulator.datasync_transfer import (
    Endpoints,
    SourceObject,
    TransferError,
    TransferExecution,
)
from pytest_mlinfra.emulator.operations import AwsError, Call, operation

if TYPE_CHECKING:
    from moto.core.resource_tagging import TaggableResourcesMixin, TaggedResource
else:
    try:
        from moto.core.resource_tagging import TaggableResourcesMixin, TaggedResource
    except ImportError:  # LocalStack's moto-ext has no tagging-API hook; the rest works unchanged

        class TaggableResourcesMixin:
            pass

        TaggedResource = None

# What AWS returns in DescribeTask.Options when the task was created without them.
DEFAULT_OPTIONS: dict[str, Any] = {
    "VerifyMode": "POINT_IN_TIME_CONSISTENT",
    "OverwriteMode": "ALWAYS",
    "Atime": "BEST_EFFORT",
    "Mtime": "PRESERVE",
    "Uid": "INT_VALUE",
    "Gid": "INT_VALUE",
    "PreserveDeletedFiles": "PRESERVE",
    "PreserveDevices": "NONE",
    "PosixPermissions": "PRESERVE",
    "BytesPerSecond": -1,
    "TaskQueueing": "ENABLED",
    "LogLevel": "OFF",
    "TransferMode": "CHANGED",
    "SecurityDescriptorCopyFlags": "NONE",
    "ObjectTags": "PRESERVE",
}


def normalize_subdirectory(subdirectory: str | None) -> str:
    """``"models"``, ``"/models"`` and ``"/models/"`` all mean ``"/models/"``; nothing means ``"/"``."""
    inner = (subdirectory or "").strip("/")
    return f"/{inner}/" if inner else "/"


def _tag_list(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {tag["Key"]: tag.get("Value", "") for tag in tags or []}


class TransferDataSyncBackend(DataSyncBackend, TaggableResourcesMixin):
    """moto's DataSync backend with tags, EFS locations and byte-moving executions."""

    SERVICE_NAMESPACE = "datasync"

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        self.tags: dict[str, dict[str, str]] = {}
        self.created: dict[str, float] = {}

    @property
    def _url_module(self) -> Any:
        return moto_surface.url_module("datasync")

    # -- locations and tasks ------------------------------------------------------------------
    def _own_account(self, arn: str, table: dict[str, Any]) -> str:
        """moto writes ARNs with a fixed account (111222333444); use the caller's, as AWS does."""
        fixed = arn.replace(":111222333444:", f":{self.account_id}:", 1)
        if fixed != arn:
            table[fixed] = table.pop(arn)
            table[fixed].arn = fixed
        self.created[fixed] = time.time()
        return fixed

    def create_location(self, location_uri: str, typ: str, metadata: dict[str, Any]) -> str:
        return self._own_account(super().create_location(location_uri, typ, metadata), self.locations)

    def create_task(self, *args: Any, **kwargs: Any) -> str:
        return self._own_account(super().create_task(*args, **kwargs), self.tasks)

    def delete_location(self, location_arn: str) -> None:
        super().delete_location(location_arn)
        self.tags.pop(location_arn, None)

    def delete_task(self, task_arn: str) -> None:
        super().delete_task(task_arn)
        self.tags.pop(task_arn, None)

    # -- tags -----------------------------------------------------------------------------------
    def _check_taggable(self, arn: str) -> None:
        if arn not in self.locations and arn not in self.tasks:
            raise AwsError("InvalidRequestException", f"Resource {arn} is not found.")

    def list_tags(self, arn: str) -> dict[str, str]:
        self._check_taggable(arn)
        return dict(self.tags.get(arn, {}))

    def tag_resource(self, arn: str, tags: dict[str, str]) -> None:
        self._check_taggable(arn)
        self.tags.setdefault(arn, {}).update(tags)

    def untag_resource(self, arn: str, tag_keys: list[str]) -> None:
        self._check_taggable(arn)
        for key in tag_keys:
            self.tags.get(arn, {}).pop(key, None)

    def owns_arn(self, arn: str) -> bool:
        return arn in self.locations or arn in self.tasks

    def iter_tagged_resources(self) -> Any:
        for arn in list(self.locations):
            yield TaggedResource(
                arn=arn, tags=dict(self.tags.get(arn, {})), resource_type="datasync:location"
            )
        for arn in list(self.tasks):
            yield TaggedResource(arn=arn, tags=dict(self.tags.get(arn, {})), resource_type="datasync:task")

    # -- executions -----------------------------------------------------------------------------
    def start_task_execution(
        self,
        task_arn: str,
        override_options: dict[str, Any] | None = None,
        includes: list[dict[str, Any]] | None = None,
        excludes: list[dict[str, Any]] | None = None,
    ) -> str:
        """Start an execution; ``includes``/``excludes`` given here replace the task's for this run."""
        task = self.tasks.get(task_arn)
        if task is None:
            raise AwsError(
                "InvalidRequestException", f"The request is not valid. Task {task_arn} is not found."
            )
        if task.status != "AVAILABLE":
            raise AwsError(
                "InvalidRequestException", f"Task {task_arn} is {task.status}; wait for its execution to end."
            )
        options = {**DEFAULT_OPTIONS, **(task.metadata.get("Options") or {}), **(override_options or {})}
        self.arn_counter += 1
        execution = TransferExecution(
            task_arn,
            self.arn_counter,
            options,
            self._execution_done,
            includes=includes if includes is not None else task.metadata.get("Includes"),
            excludes=excludes if excludes is not None else task.metadata.get("Excludes"),
        )
        self.task_executions[execution.arn] = execution
        task.current_task_execution_arn = execution.arn
        task.status = "RUNNING"
        execution.run_in_background(self._endpoints(task.source_location_arn, task.destination_location_arn))
        return execution.arn

    def _execution_done(self, execution: TransferExecution) -> None:
        task = self.tasks.get(execution.task_arn)
        if task is not None:
            task.status = "AVAILABLE"

    def _endpoints(self, source_arn: str, destination_arn: str) -> Endpoints:
        source = self.locations.get(source_arn)
        destination = self.locations.get(destination_arn)

        def fail(code: str, detail: str) -> Any:
            def raise_it() -> Any:
                raise TransferError(code, detail)

            return raise_it

        if source is None or destination is None:
            return Endpoints(
                fail("LocationNotFound", "a location of this task was deleted"), Path("/nonexistent")
            )
        if source.typ != "S3" or destination.typ != "EFS":
            detail = f"the emulator copies S3 -> EFS only, not {source.typ} -> {destination.typ}"
            return Endpoints(fail("UnsupportedLocation", detail), Path("/nonexistent"))
        try:
            target = self._efs_directory(destination)
        except TransferError as exc:
            return Endpoints(fail(exc.code, exc.detail), Path("/nonexistent"))
        return Endpoints(lambda: self._list_s3(source), target)

    def _efs_directory(self, location: Location) -> Path:
        file_system_id = str(location.metadata["EfsFilesystemArn"]).rsplit("/", 1)[-1]
        root = context.efs_dir(file_system_id)
        if root is None:
            raise TransferError("EfsFileSystemNotFound", f"EFS file system {file_system_id} does not exist")
        subdirectory = location.metadata["Subdirectory"].strip("/")
        return root / subdirectory if subdirectory else root

    def _list_s3(self, location: Location) -> list[SourceObject]:
        bucket_name = str(location.metadata["S3BucketArn"]).split(":")[-1]
        prefix = location.metadata["Subdirectory"].lstrip("/")
        prefix = "" if prefix in ("", "/") else prefix
        try:
            bucket = s3_backends[self.account_id][self.partition].get_bucket(bucket_name)
        except Exception:
            raise TransferError("S3BucketNotFound", f"source bucket {bucket_name!r} does not exist") from None
        objects = []
        for key_name, key in list(bucket.keys.items()):
            if not isinstance(key, FakeKey) or not key_name.startswith(prefix) or key_name.endswith("/"):
                continue
            relative = key_name[len(prefix) :]
            mtime = _timestamp(key.last_modified)
            objects.append(SourceObject(key_name, relative, key.size, lambda k=key: k.value, mtime))
        if not objects:
            where = f"s3://{bucket_name}/{prefix}"
            raise TransferError("SourceNotFound", f"no objects under {where} (source location is empty)")
        return objects


def _timestamp(moment: datetime) -> float:
    """moto keeps naive UTC datetimes."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def check_mount_target(account_id: str, region: str, file_system_id: str, subnet_arn: str) -> None:
    """DataSync reaches EFS through a mount target in the Availability Zone of ``Ec2Config.SubnetArn``.

    AWS's rule (DataSync user guide, "Creating your Amazon EFS transfer location"): the subnet must
    be in the file system's VPC and in the same Availability Zone as one of its mount targets.
    """
    from moto.ec2.models import ec2_backends

    subnet_id = subnet_arn.rsplit("/", 1)[-1]
    try:
        subnet = ec2_backends[account_id][region].get_subnet(subnet_id)
    except Exception:
        raise AwsError(
            "InvalidRequestException", f"Subnet {subnet_id} of Ec2Config.SubnetArn does not exist."
        ) from None
    file_system = efs_backends[account_id][region].file_systems_by_id[file_system_id]
    zone = subnet.availability_zone
    if not file_system.has_mount_target(subnet):
        raise AwsError(
            "InvalidRequestException",
            f"EFS file system {file_system_id} has no mount target in Availability Zone {zone} of subnet "
            f"{subnet_id}: DataSync connects to the file system through a mount target in that zone. "
            "Create the mount target (aws_efs_mount_target) before the location.",
        )


# -- the DataSync operations the emulator answers (the rest are moto's) ---------------------------


def _backend(call: Call) -> TransferDataSyncBackend:
    return datasync_backends[call.account_id][call.region]  # type: ignore[return-value]


def _tag_new(call: Call, arn: str) -> None:
    tags = _tag_list(call.params.get("Tags"))
    if tags:
        _backend(call).tag_resource(arn, tags)


def _location_body(backend: TransferDataSyncBackend, location: Location) -> dict[str, Any]:
    return {
        "LocationArn": location.arn,
        "LocationUri": location.uri,
        "CreationTime": backend.created.get(location.arn, 0.0),
    }


def _location(backend: TransferDataSyncBackend, arn: str, typ: str) -> Location:
    location = backend.locations.get(arn)
    if location is None:
        raise AwsError("InvalidRequestException", f"Location {arn} is not found.")
    if location.typ != typ:
        raise AwsError("InvalidRequestException", f"Invalid Location type: {location.typ}")
    return location


def _task(backend: TransferDataSyncBackend, arn: str) -> Any:
    task = backend.tasks.get(arn)
    if task is None:
        raise AwsError("InvalidRequestException", f"The request is not valid. Task {arn} is not found.")
    return task


@operation("datasync", "CreateLocationS3")
def create_location_s3(call: Call) -> dict[str, Any]:
    """S3 locations with a normalised URI (``s3://bucket/sub/``), storage class and tags."""
    params = call.params
    bucket_arn = params.get("S3BucketArn") or ""
    subdirectory = normalize_subdirectory(params.get("Subdirectory"))
    metadata = {
        "S3Config": params.get("S3Config"),
        "S3BucketArn": bucket_arn,
        "Subdirectory": subdirectory,
        "S3StorageClass": params.get("S3StorageClass") or "STANDARD",
    }
    uri = f"s3://{bucket_arn.split(':')[-1]}{subdirectory}"
    arn = _backend(call).create_location(uri, metadata=metadata, typ="S3")
    _tag_new(call, arn)
    return {"LocationArn": arn}


@operation("datasync", "DescribeLocationS3")
def describe_location_s3(call: Call) -> dict[str, Any]:
    backend = _backend(call)
    location = _location(backend, call.params.get("LocationArn", ""), "S3")
    body = _location_body(backend, location)
    body["S3Config"] = location.metadata["S3Config"]
    body["S3StorageClass"] = location.metadata.get("S3StorageClass", "STANDARD")
    return body


@operation("datasync", "CreateLocationEfs")
def create_location_efs(call: Call) -> dict[str, Any]:
    params = call.params
    fs_arn = params.get("EfsFilesystemArn") or ""
    if "file-system/" not in fs_arn:
        raise AwsError("InvalidRequestException", "EfsFilesystemArn must be an EFS file system ARN.")
    file_system_id = fs_arn.rsplit("/", 1)[-1]
    if file_system_id not in efs_backends[call.account_id][call.region].file_systems_by_id:
        raise AwsError("InvalidRequestException", f"EFS file system {file_system_id} is not found.")
    ec2_config = params.get("Ec2Config")
    if not ec2_config or not ec2_config.get("SubnetArn"):
        raise AwsError("InvalidRequestException", "Ec2Config.SubnetArn is required.")
    check_mount_target(call.account_id, call.region, file_system_id, ec2_config["SubnetArn"])
    subdirectory = normalize_subdirectory(params.get("Subdirectory"))
    metadata = {
        "EfsFilesystemArn": fs_arn,
        "Ec2Config": ec2_config,
        "Subdirectory": subdirectory,
        "AccessPointArn": params.get("AccessPointArn"),
        "FileSystemAccessRoleArn": params.get("FileSystemAccessRoleArn"),
        "InTransitEncryption": params.get("InTransitEncryption"),
    }
    uri = f"efs://{call.region}.{file_system_id}{subdirectory}"
    arn = _backend(call).create_location(uri, metadata=metadata, typ="EFS")
    _tag_new(call, arn)
    return {"LocationArn": arn}


@operation("datasync", "DescribeLocationEfs")
def describe_location_efs(call: Call) -> dict[str, Any]:
    backend = _backend(call)
    location = _location(backend, call.params.get("LocationArn", ""), "EFS")
    body = _location_body(backend, location)
    body["Ec2Config"] = location.metadata["Ec2Config"]
    for key in ("AccessPointArn", "FileSystemAccessRoleArn", "InTransitEncryption"):
        if location.metadata.get(key):
            body[key] = location.metadata[key]
    return body


@operation("datasync", "ListTagsForResource")
def list_tags_for_resource(call: Call) -> dict[str, Any]:
    tags = _backend(call).list_tags(call.params.get("ResourceArn", ""))
    return {"Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]}


@operation("datasync", "TagResource")
def tag_resource(call: Call) -> dict[str, Any]:
    _backend(call).tag_resource(call.params.get("ResourceArn", ""), _tag_list(call.params.get("Tags")))
    return {}


@operation("datasync", "UntagResource")
def untag_resource(call: Call) -> dict[str, Any]:
    _backend(call).untag_resource(call.params.get("ResourceArn", ""), call.params.get("Keys") or [])
    return {}


@operation("datasync", "CreateTask")
def create_task(call: Call) -> dict[str, Any]:
    """moto creates the task; ``Includes`` (moto drops it) and the tags are kept here."""
    answer = call.moto()
    arn = answer["TaskArn"]
    task = _task(_backend(call), arn)
    task.metadata["Includes"] = call.params.get("Includes")
    _tag_new(call, arn)
    return {"TaskArn": arn}


@operation("datasync", "UpdateTask")
def update_task(call: Call) -> dict[str, Any]:
    """UpdateTask changes only what it is given (moto's replaces everything)."""
    task = _task(_backend(call), call.params.get("TaskArn", ""))
    for key in ("CloudWatchLogGroupArn", "Options", "Excludes", "Schedule", "Includes"):
        if call.params.get(key) is not None:
            task.metadata[key] = call.params[key]
    if call.params.get("Name") is not None:
        task.name = call.params["Name"]
    return {}


@operation("datasync", "DescribeTask")
def describe_task(call: Call) -> dict[str, Any]:
    backend = _backend(call)
    task = _task(backend, call.params.get("TaskArn", ""))
    body: dict[str, Any] = {
        "TaskArn": task.arn,
        "Status": task.status,
        "Name": task.name,
        "SourceLocationArn": task.source_location_arn,
        "DestinationLocationArn": task.destination_location_arn,
        "Options": {**DEFAULT_OPTIONS, **(task.metadata.get("Options") or {})},
        "Excludes": task.metadata.get("Excludes") or [],
        "Includes": task.metadata.get("Includes") or [],
        "CreationTime": backend.created.get(task.arn, 0.0),
    }
    for key in ("CloudWatchLogGroupArn", "Schedule"):
        if task.metadata.get(key):
            body[key] = task.metadata[key]
    if task.current_task_execution_arn:
        body["CurrentTaskExecutionArn"] = task.current_task_execution_arn
    return body


@operation("datasync", "StartTaskExecution")
def start_task_execution(call: Call) -> dict[str, Any]:
    _task(_backend(call), call.params.get("TaskArn", ""))
    arn = _backend(call).start_task_execution(
        call.params["TaskArn"],
        override_options=call.params.get("OverrideOptions"),
        includes=call.params.get("Includes"),
        excludes=call.params.get("Excludes"),
    )
    return {"TaskExecutionArn": arn}


@operation("datasync", "DescribeTaskExecution")
def describe_task_execution(call: Call) -> dict[str, Any]:
    arn = call.params.get("TaskExecutionArn", "")
    execution = _backend(call).task_executions.get(arn)
    if execution is None:
        raise AwsError("InvalidRequestException", f"The request is not valid. Execution {arn} is not found.")
    if isinstance(execution, TransferExecution):
        return execution.describe()
    return {"TaskExecutionArn": execution.arn, "Status": execution.status}


@operation("datasync", "ListTaskExecutions")
def list_task_executions(call: Call) -> dict[str, Any]:
    task_arn = call.params.get("TaskArn")
    executions = [
        {"TaskExecutionArn": arn, "Status": execution.status}
        for arn, execution in _backend(call).task_executions.items()
        if not task_arn or execution.task_arn == task_arn
    ]
    return {"TaskExecutions": executions}
