"""LocalStack's Lambda provider, plus the ``FileSystemConfigs`` Community drops.

Community's Lambda ignores ``FileSystemConfigs``: the function would not mount EFS and Terraform
would see a diff. This subclass validates them (an access point ARN, ``LocalMountPath`` under
``/mnt``), keeps them per function, returns them from CreateFunction, GetFunction,
GetFunctionConfiguration and UpdateFunctionConfiguration, and lets the ``mlinfra`` runtime
executor look them up. Everything else is LocalStack's provider unchanged.
"""

from __future__ import annotations

import threading
from typing import Any

from localstack.aws.api import RequestContext
from localstack.aws.api.lambda_ import InvalidParameterValueException
from localstack.services.lambda_ import api_utils
from localstack.services.lambda_.provider import LambdaProvider

from pytest_mlinfra.emulator import mounts
from pytest_mlinfra.errors import MlinfraError

_lock = threading.Lock()
_configs: dict[tuple[str, str, str], list[dict[str, str]]] = {}


def file_system_configs(account_id: str, region: str, function_name: str) -> list[dict[str, str]]:
    """The ``FileSystemConfigs`` the function was created or last updated with."""
    with _lock:
        return list(_configs.get((account_id, region, function_name), []))


def _check(configs: Any) -> list[dict[str, str]]:
    checked = []
    for config in configs or []:
        arn, path = str(config.get("Arn", "")), str(config.get("LocalMountPath", ""))
        try:
            mounts.check_mount_path(path)
        except MlinfraError as exc:
            raise InvalidParameterValueException(str(exc)) from None
        if not arn.startswith("arn:") or ":access-point/" not in arn:
            raise InvalidParameterValueException("FileSystemConfigs.Arn must be an EFS access point ARN.")
        checked.append({"Arn": arn, "LocalMountPath": path})
    return checked


def _key(context: RequestContext, function_name: str) -> tuple[str, str, str]:
    account_id, region = api_utils.get_account_and_region(function_name, context)
    name, _ = api_utils.get_name_and_qualifier(function_name, None, context)
    return account_id, region, name


class MountingLambdaProvider(LambdaProvider):  # type: ignore[misc]
    """LocalStack's Lambda provider that keeps and returns ``FileSystemConfigs``."""

    def _remember(self, key: tuple[str, str, str], configs: list[dict[str, str]]) -> None:
        with _lock:
            if configs:
                _configs[key] = configs
            else:
                _configs.pop(key, None)

    @staticmethod
    def _show(key: tuple[str, str, str], configuration: dict[str, Any]) -> None:
        configs = file_system_configs(*key)
        if configs:
            configuration["FileSystemConfigs"] = configs

    def create_function(self, context: RequestContext, request: Any) -> Any:
        configs = _check(request.get("FileSystemConfigs"))
        response = super().create_function(context, request)
        key = _key(context, str(request["FunctionName"]))
        self._remember(key, configs)
        self._show(key, response)
        return response

    def update_function_configuration(self, context: RequestContext, request: Any) -> Any:
        configs = _check(request.get("FileSystemConfigs")) if "FileSystemConfigs" in request else None
        response = super().update_function_configuration(context, request)
        key = _key(context, str(request["FunctionName"]))
        if configs is not None:
            self._remember(key, configs)
        self._show(key, response)
        return response

    def get_function(
        self, context: RequestContext, function_name: str, qualifier: Any = None, **kwargs: Any
    ) -> Any:
        response = super().get_function(context, function_name, qualifier, **kwargs)
        self._show(_key(context, function_name), response["Configuration"])
        return response

    def get_function_configuration(
        self, context: RequestContext, function_name: str, qualifier: Any = None, **kwargs: Any
    ) -> Any:
        response = super().get_function_configuration(context, function_name, qualifier, **kwargs)
        self._show(_key(context, function_name), response)
        return response

    def delete_function(
        self, context: RequestContext, function_name: str, qualifier: Any = None, **kwargs: Any
    ) -> Any:
        response = super().delete_function(context, function_name, qualifier, **kwargs)
        if not qualifier:
            self._remember(_key(context, function_name), [])
        return response
