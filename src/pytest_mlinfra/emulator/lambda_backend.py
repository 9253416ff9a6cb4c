"""Lambda that runs the real handler: moto's Lambda backend with a Docker-free invoke.

moto stores functions but drops ``FileSystemConfigs`` and needs Docker to invoke. Here functions
keep their ``FileSystemConfigs`` (returned by GetFunction / GetFunctionConfiguration, so Terraform
sees no diff) and ``Invoke`` runs the handler in a warm ``awslambdaric`` worker
(:mod:`pytest_mlinfra.emulator.lambda_worker`) with the access point mounted at ``LocalMountPath``
(:mod:`pytest_mlinfra.emulator.mounts`). ``RequestResponse``, ``Event`` (202, run in the background)
and ``DryRun`` (204) are supported; errors come back as AWS returns them
(``X-Amz-Function-Error: Unhandled`` and a payload with errorType/errorMessage/stackTrace).

Each invocation gets an execution environment of its own up to the concurrency limit, then a 429
``TooManyRequestsException`` (:mod:`pytest_mlinfra.emulator.lambda_pool`). A deleted or updated
function's environments are killed. Package limits are AWS's: 50 MB zipped for a direct upload,
250 MB unzipped including layers; layers are extracted in order and seen at ``/opt``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import time
import zipfile
from pathlib import Path
from typing import Any

from moto.awslambda.exceptions import InvalidParameterValueException, LambdaClientError
from moto.awslambda.models import LambdaBackend, LambdaFunction
from moto.core.exceptions import JsonRESTError

from pytest_mlinfra.emulator import context, efs, lambda_eni, lambda_pythons, mounts
from pytest_mlinfra.emulator.lambda_pool import Throttled
from pytest_mlinfra.emulator.lambda_report import tail
from pytest_mlinfra.emulator.lambda_worker import Outcome, WorkerSpec
from pytest_mlinfra.errors import MlinfraError

ZIPPED_LIMIT = 52_428_800  # 50 MB: a deployment package uploaded directly (not through S3)
REQUEST_LIMIT = 69_905_067  # what AWS names in the error: that zip, base64 encoded, in the request
UNZIPPED_LIMIT = 262_144_000  # 250 MB: the package and all its layers, extracted


class TooManyRequestsException(JsonRESTError):
    """429 as AWS sends it: header ``X-Amzn-ErrorType`` and ``{Reason, Type, message}``."""

    code = 429

    def __init__(self, reason: str) -> None:
        super().__init__("TooManyRequestsException", "Rate Exceeded.")
        self.description = json.dumps({"Reason": reason, "Type": "User", "message": "Rate Exceeded."})


class InvalidRuntimeException(JsonRESTError):
    """502: the function's runtime cannot run (here: no interpreter for its Python version)."""

    code = 502

    def __init__(self, message: str) -> None:
        super().__init__("InvalidRuntimeException", message)


class RequestEntityTooLargeException(JsonRESTError):
    code = 413

    def __init__(self, operation: str) -> None:
        super().__init__(
            "RequestEntityTooLargeException",
            f"Request must be smaller than {REQUEST_LIMIT} bytes for the {operation} operation",
        )


def _unzipped_size(code: bytes) -> int:
    try:
        with zipfile.ZipFile(io.BytesIO(code)) as archive:
            return sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        raise InvalidParameterValueException(
            "Could not unzip uploaded file. Please check your file, then try to upload again."
        ) from None


def _direct_zip(code: dict[str, Any] | None) -> bytes | None:
    """The bytes of a ``ZipFile`` upload (base64 in the request), None for S3 or image code."""
    data = (code or {}).get("ZipFile")
    if not data:
        return None
    if isinstance(data, bytes):
        return data
    try:
        return base64.b64decode(data)
    except (binascii.Error, ValueError):
        raise InvalidParameterValueException("Could not decode the ZipFile parameter.") from None


def check_package(code: bytes | None, layers: list[bytes], operation: str, direct: bool) -> None:
    """AWS's deployment package limits, with its error codes and messages."""
    if code is None:
        return
    if direct and len(code) > ZIPPED_LIMIT:
        raise RequestEntityTooLargeException(operation)
    total = _unzipped_size(code)
    if not layers and total >= UNZIPPED_LIMIT:
        raise InvalidParameterValueException(f"Unzipped size must be smaller than {UNZIPPED_LIMIT} bytes")
    total += sum(_unzipped_size(layer) for layer in layers)
    if total > UNZIPPED_LIMIT:
        raise InvalidParameterValueException(
            f"Function code combined with layers exceeds the maximum allowed size of {UNZIPPED_LIMIT} bytes. "
            f"The actual size is {total} bytes."
        )


class MountingLambdaFunction(LambdaFunction):
    """A moto function that also keeps ``FileSystemConfigs``."""

    file_system_configs: list[dict[str, str]]

    def get_configuration(self, on_create: bool = False) -> dict[str, Any]:
        config: dict[str, Any] = super().get_configuration(on_create)
        if getattr(self, "file_system_configs", None):
            config["FileSystemConfigs"] = self.file_system_configs
        return config

    @property
    def vpc_config(self) -> dict[str, Any] | None:
        """moto answers VpcId ``vpc-123abc`` for every function; AWS names the subnets' VPC."""
        config: dict[str, Any] | None = super().vpc_config
        if config and config.get("SubnetIds"):
            from moto.ec2.models import ec2_backends

            subnet = _find_subnet(ec2_backends[self.account_id][self.region], config["SubnetIds"][0])
            if subnet is not None:
                config["VpcId"] = subnet.vpc_id
        return config

    def update_configuration(self, config_updates: dict[str, Any]) -> dict[str, Any]:
        if "FileSystemConfigs" in config_updates:
            self.file_system_configs = _check_file_system_configs(config_updates["FileSystemConfigs"])
        result: dict[str, Any] = super().update_configuration(config_updates)
        return result


def _find_subnet(ec2: Any, subnet_id: str) -> Any:
    return next((s for subnets in ec2.subnets.values() for s in subnets.values() if s.id == subnet_id), None)


def _check_file_system_configs(configs: list[dict[str, str]] | None) -> list[dict[str, str]]:
    for config in configs or []:
        try:
            mounts.check_mount_path(config.get("LocalMountPath", ""))
        except MlinfraError as exc:
            raise InvalidParameterValueException(str(exc)) from None
        if not config.get("Arn", "").startswith("arn:") or ":access-point/" not in config.get("Arn", ""):
            raise InvalidParameterValueException("FileSystemConfigs.Arn must be an EFS access point ARN.")
    return list(configs or [])


class RunningLambdaBackend(LambdaBackend):
    """moto's Lambda backend whose ``invoke`` runs the handler through awslambdaric."""

    @property
    def _url_module(self) -> Any:
        import moto.awslambda.urls

        return moto.awslambda.urls

    def _layer_bytes(self, arns: list[str]) -> list[bytes]:
        result = []
        for arn in arns:
            layer = self.layers_versions_by_arn(arn)
            if layer is not None:
                result.append(getattr(layer, "code_bytes", b"") or b"")
        return result

    def create_function(self, spec: dict[str, Any]) -> LambdaFunction:
        spec = dict(spec)
        direct = _direct_zip(spec.get("Code"))
        check_package(direct, self._layer_bytes(spec.get("Layers") or []), "CreateFunction", direct=True)
        publish = bool(spec.pop("Publish", False))
        configs = _check_file_system_configs(spec.pop("FileSystemConfigs", None))
        self._check_vpc_config(spec.get("VpcConfig"))
        function = super().create_function(spec)
        code_bytes: bytes = getattr(function, "code_bytes", b"") or b""
        if direct is None and code_bytes:  # from S3: only the unzipped limit applies
            try:
                layers = self._layer_bytes(spec.get("Layers") or [])
                check_package(code_bytes, layers, "CreateFunction", direct=False)
            except LambdaClientError:
                self._lambdas.del_function(function.function_name, None)
                raise
        # Same object, one more field (moto builds LambdaFunction itself, so we re-class it here).
        setattr(function, "__class__", MountingLambdaFunction)  # noqa: B010
        function.file_system_configs = configs  # type: ignore[attr-defined]
        self._network_interfaces(function.function_name)
        if publish:
            published = self.publish_version(spec["FunctionName"])
            if published is not None:
                return published
        return function

    def update_function_code(
        self, function_name: str, qualifier: str, body: dict[str, Any]
    ) -> dict[str, Any] | None:
        function = self.get_function(function_name, qualifier)
        layers = [layer["Arn"] for layer in getattr(function, "layers", None) or []]
        check_package(_direct_zip(body), self._layer_bytes(layers), "UpdateFunctionCode", direct=True)
        result = super().update_function_code(function_name, qualifier, body)
        context.current().pool.retire(function.function_arn)
        return result

    def update_function_configuration(
        self, function_name: str, qualifier: str, body: dict[str, Any]
    ) -> dict[str, Any] | None:
        if "VpcConfig" in body:
            self._check_vpc_config(body["VpcConfig"])
        result = super().update_function_configuration(function_name, qualifier, body)
        function = self.get_function(function_name, qualifier)
        context.current().pool.retire(function.function_arn)
        self._network_interfaces(function.function_name)
        return result

    def delete_function(self, function_name: str, qualifier: str | None = None) -> None:
        function = self.get_function(function_name, qualifier)
        arn = function.function_arn
        name = function.function_name
        super().delete_function(function_name, qualifier)
        if qualifier is None:
            context.current().pool.retire(arn)  # workers die with their function
        self._network_interfaces(name)

    # -- VPC network interfaces (only when the emulator's ENI release delay is set) -----------------

    def _ec2(self) -> Any:
        from moto.ec2.models import ec2_backends

        return ec2_backends[self.account_id][self.region_name]

    def _check_vpc_config(self, vpc_config: dict[str, Any] | None) -> None:
        """Subnets and security groups must exist, or CreateFunction fails as on AWS."""
        if context.current().lambda_eni_release_s <= 0 or not lambda_eni.combinations(vpc_config):
            return
        ec2 = self._ec2()
        for subnet_id in (vpc_config or {}).get("SubnetIds") or []:
            if _find_subnet(ec2, subnet_id) is None:
                raise InvalidParameterValueException(
                    "Error occurred while DescribeSubnets. EC2 Error Code: InvalidSubnetID.NotFound. "
                    f"EC2 Error Message: The subnet ID '{subnet_id}' does not exist"
                )
        for group_id in (vpc_config or {}).get("SecurityGroupIds") or []:
            if ec2.get_security_group_from_id(group_id) is None:
                raise InvalidParameterValueException(
                    "Error occurred while DescribeSecurityGroups. EC2 Error Code: InvalidGroup.NotFound. "
                    f"EC2 Error Message: The security group '{group_id}' does not exist"
                )

    def _network_interfaces(self, function_name: str) -> None:
        """Bring the function's Hyperplane ENIs in line with the VpcConfig of all its versions: new
        pairs get one (or share one), pairs no longer used are released after the delay."""
        release_s = context.current().lambda_eni_release_s
        if release_s <= 0:
            return
        versions = self._versions_of(function_name)
        wanted: set[tuple[str, frozenset[str]]] = set()
        for version in versions:
            wanted |= lambda_eni.combinations(getattr(version, "_vpc_config", None))
        ec2 = self._ec2()
        lambda_eni.attach(ec2, function_name, wanted)
        lambda_eni.detach(ec2, function_name, wanted, release_s)

    def _versions_of(self, function_name: str) -> list[LambdaFunction]:
        """$LATEST and the published versions of a function (none once it is deleted)."""
        entry = self._lambdas._functions.get(function_name)
        if not entry:
            return []
        return [version for version in (entry["latest"], *entry.get("versions", [])) if version is not None]

    def invoke(
        self, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
    ) -> bytes | None:
        function = self.get_function(function_name, qualifier)
        invocation_type = headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        response_headers["X-Amz-Executed-Version"] = str(function.version)
        if invocation_type == "DryRun":
            return b""
        payload = body.encode() if isinstance(body, str) else (body or b"{}")
        spec = self._worker_spec(function)
        pool = context.current().pool
        reserved = _reserved(function)
        if invocation_type == "Event":
            pool.submit(spec, payload, lambda outcome: self._log(function, outcome), reserved=reserved)
            return b""
        try:
            outcome = pool.invoke(spec, payload, reserved=reserved)
        except Throttled as exc:
            raise TooManyRequestsException(exc.reason) from None
        self._log(function, outcome)
        if outcome.error:
            response_headers["X-Amz-Function-Error"] = "Unhandled"
        response_headers["x-amz-log-result"] = tail(outcome.log)
        response_headers["Content-Length"] = str(len(outcome.payload))
        return outcome.payload

    def _worker_spec(self, function: LambdaFunction) -> WorkerSpec:
        state = context.current()
        task_root = _unpack(function, state.state_dir / "lambda")
        runtime = function.run_time or "python3.11"
        architecture = (getattr(function, "architectures", None) or ["x86_64"])[0]
        try:
            host = state.config.lambda_host_python if state.config is not None else None
            python = lambda_pythons.resolve(runtime, architecture, _runtimes_cache(), host=host)
        except MlinfraError as exc:
            raise InvalidRuntimeException(str(exc)) from None
        return WorkerSpec(
            function_name=function.function_name,
            function_arn=function.function_arn,
            version=str(function.version),
            handler=function.handler or "lambda_function.handler",
            runtime=runtime,
            task_root=task_root,
            memory_mb=int(function.memory_size),
            timeout_s=float(function.timeout),
            env=tuple(sorted((function.environment_vars or {}).items())),
            mounts=tuple(self._mounts(function)),
            region=self.region_name,
            endpoint_url=state.endpoint_url,
            log_dir=state.state_dir / "lambda-logs",
            tmp_mb=int(getattr(function, "ephemeral_storage", 512) or 512),
            opt_dir=self._layers_dir(function, state.state_dir / "lambda-layers"),
            python=python.python,
            runtime_packages=python.packages,
        )

    def _layers_dir(self, function: LambdaFunction, root: Path) -> Path | None:
        """The function's layers extracted in order into one directory (``/opt``), once per set."""
        arns = [layer["Arn"] for layer in getattr(function, "layers", None) or []]
        if not arns:
            return None
        target = root / hashlib.sha256("\n".join(arns).encode()).hexdigest()[:16]
        if not target.exists():
            partial = target.with_name(target.name + ".partial")
            partial.mkdir(parents=True, exist_ok=True)
            for code in self._layer_bytes(arns):
                with zipfile.ZipFile(io.BytesIO(code)) as archive:
                    archive.extractall(partial)
            partial.rename(target)
        return target

    def _mounts(self, function: LambdaFunction) -> list[mounts.Mount]:
        result = []
        for config in getattr(function, "file_system_configs", None) or []:
            arn = config.get("Arn", "")
            mount = efs.access_point_mount(self.account_id, self.region_name, arn, config["LocalMountPath"])
            if mount is None:
                raise LambdaClientError(
                    "EFSMountFailureException",
                    f"EFS access point {arn} of function {function.function_name} does not exist.",
                )
            result.append(mount)
        return result

    def _log(self, function: LambdaFunction, outcome: Outcome) -> None:
        """Append the invocation's log to ``/aws/lambda/<name>`` when that log group exists."""
        group = f"/aws/lambda/{function.function_name}"
        logs = function.logs_backend
        if group not in logs.groups:
            return
        stream = f"{function.version}-mlinfra"
        try:
            if stream not in logs.groups[group].streams:
                logs.create_log_stream(group, stream)
            now = int(time.time() * 1000)
            events = [{"timestamp": now, "message": line} for line in outcome.log.splitlines() if line]
            logs.put_log_events(group, stream, events)
        except Exception:  # logs are a courtesy; never fail an invoke for them
            pass


def _runtimes_cache() -> Path:
    """Runtime packages are built once per machine, shared by every emulator (the plugin's cache)."""
    from pytest_mlinfra.terraform.toolchain import cache_root

    return cache_root() / "lambda-runtimes"


def _reserved(function: LambdaFunction) -> int | None:
    value = getattr(function, "reserved_concurrency", None)
    return None if value in (None, "") else int(value)


def _unpack(function: LambdaFunction, root: Path) -> Path:
    """The function's zip, unpacked once per code hash (the task root, like ``/var/task``)."""
    code: bytes = getattr(function, "code_bytes", b"") or b""
    digest = hashlib.sha256(code).hexdigest()[:16]
    target: Path = root / str(function.function_name) / digest
    if not target.exists():
        partial = target.with_name(digest + ".partial")
        partial.mkdir(parents=True, exist_ok=True)
        try:
            with zipfile.ZipFile(io.BytesIO(code)) as archive:
                archive.extractall(partial)
        except zipfile.BadZipFile:
            raise InvalidParameterValueException(
                f"The code of function {function.function_name} is not a zip archive."
            ) from None
        partial.rename(target)
    return target
