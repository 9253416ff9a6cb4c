"""A real LocalStack (host mode, started by our launcher) for the tests of the ``localstack`` target.

Skipped with the reason when no LocalStack virtualenv exists ($MLINFRA_LOCALSTACK_VENV or
./.venv-localstack with ``localstack-core[runtime]`` and this package installed). The Lambda
handler runs on this interpreter (it has awslambdaric and boto3).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_mlinfra.localstack_ext.launcher import LocalStack, find_venv

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def localstack_venv() -> Path:
    venv = find_venv() or find_venv(REPO / ".venv-localstack")
    if venv is None:
        pytest.skip(
            "no LocalStack virtualenv (.venv-localstack or $MLINFRA_LOCALSTACK_VENV); see docs/localstack.md"
        )
    if not list((venv / "lib").glob("python3*/site-packages/*pytest_mlinfra*")):
        pytest.skip(f"pytest-mlinfra is not installed in {venv}: {venv}/bin/pip install --no-deps -e {REPO}")
    if importlib.util.find_spec("awslambdaric") is None:
        pytest.skip("awslambdaric is not installed here (the Lambda handler runs on this Python)")
    return venv


@pytest.fixture(scope="session")
def localstack_plugin(
    localstack_venv: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalStack]:
    """LocalStack with this package's EFS, DataSync, Lambda provider and executor."""
    with LocalStack(localstack_venv, plugin=True, workdir=tmp_path_factory.mktemp("ls-plugin")) as ls:
        yield ls


@pytest.fixture(scope="session")
def localstack_community(
    localstack_venv: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalStack]:
    """LocalStack as Community has it (no EFS, no DataSync), Lambda run by our executor (no Docker here)."""
    with LocalStack(
        localstack_venv, plugin=False, executor=True, workdir=tmp_path_factory.mktemp("ls-community")
    ) as ls:
        yield ls
