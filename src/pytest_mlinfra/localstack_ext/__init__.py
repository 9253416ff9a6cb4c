"""pytest-mlinfra's LocalStack plugin: EFS, DataSync and a Docker-free Lambda for LocalStack host mode.

LocalStack Community has no EFS or DataSync and runs Lambda only in Docker. Installed into
LocalStack's own virtualenv (``pip install --no-deps -e .`` plus ``awslambdaric``), this package
offers through LocalStack's entry points what the ``local`` target's embedded AWS already does,
reusing :mod:`pytest_mlinfra.emulator`:

- ``localstack.aws.provider`` ``efs:mlinfra`` / ``datasync:mlinfra``: EFS with storage on disk and
  DataSync S3 -> EFS that moves bytes (moto-ext backends extended like the embedded AWS's);
- ``localstack.aws.provider`` ``lambda:mlinfra``: LocalStack's Lambda plus ``FileSystemConfigs``;
- ``localstack.lambda.runtime_executor`` ``mlinfra``: the handler runs in an ``awslambdaric``
  worker process with the EFS access point bind-mounted, no Docker and no runtime download.

Nothing is active until selected (see :data:`PLUGIN_ENV`). Only this ``__init__`` and
:mod:`~pytest_mlinfra.localstack_ext.launcher` import without LocalStack installed.
"""

from __future__ import annotations

PROVIDER_NAME = "mlinfra"

# LocalStack configuration that selects everything this plugin offers.
SERVICES_ENV = {
    "PROVIDER_OVERRIDE_EFS": PROVIDER_NAME,
    "PROVIDER_OVERRIDE_DATASYNC": PROVIDER_NAME,
    "PROVIDER_OVERRIDE_LAMBDA": PROVIDER_NAME,
}
EXECUTOR_ENV = {"LAMBDA_RUNTIME_EXECUTOR": PROVIDER_NAME}
PLUGIN_ENV = {**SERVICES_ENV, **EXECUTOR_ENV}

# The interpreter that runs the handler (awslambdaric + the handler's imports must be there);
# default: LocalStack's own Python.
LAMBDA_PYTHON_ENV = "MLINFRA_LAMBDA_PYTHON"
# Where EFS storage and Lambda logs go; default: <LocalStack tmp dir>/mlinfra.
STATE_DIR_ENV = "MLINFRA_LOCALSTACK_STATE_DIR"

__all__ = [
    "EXECUTOR_ENV",
    "LAMBDA_PYTHON_ENV",
    "PLUGIN_ENV",
    "PROVIDER_NAME",
    "SERVICES_ENV",
    "STATE_DIR_ENV",
]
