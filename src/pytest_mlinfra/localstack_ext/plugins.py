"""What LocalStack's plugin manager loads from this package (the targets of our entry points).

``localstack.aws.provider``: ``efs:mlinfra``, ``datasync:mlinfra`` (moto-ext backends extended like
the embedded AWS's, every operation dispatched to them) and ``lambda:mlinfra`` (LocalStack's
provider that keeps ``FileSystemConfigs``); picked with ``PROVIDER_OVERRIDE_<SERVICE>=mlinfra``.
``localstack.lambda.runtime_executor``: ``mlinfra``, picked with ``LAMBDA_RUNTIME_EXECUTOR=mlinfra``.
Importing this module needs LocalStack; it is only ever imported inside LocalStack.
"""

from __future__ import annotations

from typing import Any

from localstack.aws.spec import load_service
from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin
from localstack.services.plugins import Service, aws_provider

from pytest_mlinfra.localstack_ext import PROVIDER_NAME


class _MotoBacked:
    """An ASF provider with no handlers of its own: the dispatch table sends every call to moto."""

    def __init__(self, service: str) -> None:
        self.service = service


def _to_moto(provider: _MotoBacked) -> dict[str, Any]:
    from localstack.services.moto import call_moto

    def dispatch(context: Any, request: Any) -> Any:
        return call_moto(context)

    return {operation: dispatch for operation in load_service(provider.service).operation_names}


def _moto_service(name: str) -> Service:
    from pytest_mlinfra.localstack_ext.state import ensure_state

    ensure_state()  # moto-ext's backend dicts point at the extended classes before the first call
    return Service.for_provider(_MotoBacked(name), dispatch_table_factory=_to_moto)


@aws_provider(api="efs", name=PROVIDER_NAME)  # type: ignore[untyped-decorator,unused-ignore]
def efs() -> Service:
    return _moto_service("efs")


@aws_provider(api="datasync", name=PROVIDER_NAME)  # type: ignore[untyped-decorator,unused-ignore]
def datasync() -> Service:
    return _moto_service("datasync")


@aws_provider(api="lambda", name=PROVIDER_NAME)  # type: ignore[untyped-decorator,unused-ignore]
def lambda_() -> Service:
    from pytest_mlinfra.localstack_ext.lambda_provider import MountingLambdaProvider

    return Service.for_provider(MountingLambdaProvider())


class MlinfraRuntimeExecutorPlugin(RuntimeExecutorPlugin):  # type: ignore[misc]
    """``LAMBDA_RUNTIME_EXECUTOR=mlinfra``: Lambda through awslambdaric, no Docker."""

    name = PROVIDER_NAME

    def load(self, *args: Any, **kwargs: Any) -> type:
        from pytest_mlinfra.localstack_ext.executor import MlinfraRuntimeExecutor

        return MlinfraRuntimeExecutor
