"""The public fixtures: thin wrappers over :class:`pytest_mlinfra.run.Run`.

An error the user can fix (target not running, stack fails to apply, provider cannot be installed)
stops the whole session with one line instead of erroring every test with the same traceback;
teardown still runs, so nothing is left running or deployed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import NoReturn, TypeVar

import pytest

from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.predictor import NerPredictor
from pytest_mlinfra.run import Run
from pytest_mlinfra.sync import SyncedModel
from pytest_mlinfra.targets.base import Target
from pytest_mlinfra.terraform.stack import Stack

__all__ = ["mlinfra_model", "mlinfra_run", "mlinfra_stack", "mlinfra_target", "ner_predictor"]

T = TypeVar("T")


def _stop_session(exc: MlinfraError) -> NoReturn:
    pytest.exit(f"mlinfra: {exc}", returncode=pytest.ExitCode.USAGE_ERROR)


def _or_stop(action: Callable[[], T]) -> T:
    try:
        return action()
    except MlinfraError as exc:
        _stop_session(exc)


@pytest.fixture(scope="session")
def mlinfra_run(pytestconfig: pytest.Config) -> Run:
    """The run object: settings, run id, work dir, stage timings."""
    from pytest_mlinfra.plugin import RUN_KEY

    return pytestconfig.stash[RUN_KEY]


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
def ner_predictor(mlinfra_run: Run, mlinfra_model: SyncedModel) -> NerPredictor:
    """``ner_predictor(text)``, ``ner_predictor.batch(texts)``, ``ner_predictor.latencies``."""
    return mlinfra_run.predictor()
