"""The public fixtures: thin wrappers over :class:`pytest_mlinfra.run.Run`.

Each takes what it needs as an argument, starting from ``mlinfra_run`` (defined by the plugin, which
owns the session's state); nothing here imports the plugin, and nothing heavy is imported until a
fixture is used. An error the user can fix (target not running, stack fails to apply, provider
cannot be installed) stops the whole session with one line instead of erroring every test with the
same traceback; teardown still runs, so nothing is left running or deployed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, NoReturn, TypeVar

import pytest

from pytest_mlinfra.errors import MlinfraError

if TYPE_CHECKING:
    from pytest_mlinfra.function import FunctionClient
    from pytest_mlinfra.run import Run
    from pytest_mlinfra.sync import SyncedModel
    from pytest_mlinfra.targets.base import Target
    from pytest_mlinfra.terraform.stack import Stack

__all__ = ["mlinfra_function", "mlinfra_model", "mlinfra_stack", "mlinfra_target"]

T = TypeVar("T")


def _stop_session(exc: MlinfraError) -> NoReturn:
    pytest.exit(f"mlinfra: {exc}", returncode=pytest.ExitCode.USAGE_ERROR)


def _or_stop(action: Callable[[], T]) -> T:
    try:
        return action()
    except MlinfraError as exc:
        _stop_session(exc)


@pytest.fixture(scope="session")
def mlinfra_target(mlinfra_run: Run) -> Iterator[Target]:
    """The started target: ``.name``, ``.endpoint_url``, ``.client(service)``."""
    try:
        yield _or_stop(mlinfra_run.start_target)
    finally:
        mlinfra_run.stop_target()


@pytest.fixture(scope="session")
def mlinfra_stack(mlinfra_run: Run, mlinfra_target: Target) -> Iterator[Stack]:
    """The applied stack: ``.outputs``, ``.run_id``, ``.workdir``. Destroyed after the session."""
    try:
        yield _or_stop(mlinfra_run.deploy)
    finally:
        try:
            mlinfra_run.destroy_stack()
        except MlinfraError as exc:
            pytest.fail(f"mlinfra: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def mlinfra_model(mlinfra_run: Run, mlinfra_stack: Stack) -> SyncedModel:
    """The model synced to where the function reads it: ``.s3_uri``, ``.sha256`` (verified)."""
    return _or_stop(mlinfra_run.sync_model)


@pytest.fixture(scope="session")
def mlinfra_function(mlinfra_run: Run, mlinfra_model: SyncedModel) -> FunctionClient:
    """The deployed function, for any model: ``fn(event) -> dict``, ``fn.invoke(event)`` (raw answer
    with timing), ``fn.latencies``; using it adds the session's latency-budget check."""
    from pytest_mlinfra.hypothesis_profile import register_profile

    register_profile(mlinfra_run.settings)
    return _or_stop(mlinfra_run.function)
