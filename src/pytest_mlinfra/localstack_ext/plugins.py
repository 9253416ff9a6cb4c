"""What LocalStack's plugin manager loads from this package (the targets of our entry points).

``localstack.aws.provider``: ``efs:mlinfra``, ``datasync:mlinfra`` (moto-ext backends extended like
the embedded AWS's; the operations the emulator's operation layer owns answered by its handlers,
every other operation dispatched to moto) and ``lambda:mlinfra`` (LocalStack's
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
    """Operations the emulator's operation layer owns go to its handlers (which ask moto through
    ``call_moto`` when they need to); the rest go to moto unchanged."""
    from localstack.aws.api import CommonServiceException
    from localstack.services.moto import call_moto, call_moto_with_request

    from pytest_mlinfra.emulator.operations import AwsError, Call, answer, handler_for

    def dispatch(context: Any, request: Any) -> Any:
        name = context.operation.name
        if handler_for(provider.service, name) is None:
            return call_moto(context)

        def ask_moto(params: dict[str, Any] | None) -> dict[str, Any]:
            reply = call_moto(context) if params is None else call_moto_with_request(context, params)
            return dict(reply)

        call = Call(
            service=provider.service,
            operation=name,
            params=dict(request or {}),
            region=context.region,
            account_id=context.account_id,
            ask_moto=ask_moto,
        )
        try:
            return answer(call)
        except AwsError as exc:
            raise CommonServiceException(exc.code, exc.message, status_code=exc.status) from None

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
