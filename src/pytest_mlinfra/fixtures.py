"""The public fixtures: thin wrappers over :class:`pytest_mlinfra.run.Run`.

Each takes what it needs as an argument, starting from ``mlinfra_run`` (defined by the plugin, which
owns the session's state); nothing here imports the plugin, and nothing heavy is imported until a
fixture is used. An error the user can fix (target not running, stack fails to apply, provider
cannot be installed) stops the whole session with one line instead of erroring every test with the
same traceback; teardown still runs, so nothing is left running or deployed. The failed stage is
reported as one failing test case (``mlinfra::apply``, ...), so JUnit shows the failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, NoReturn, TypeVar

import pytest

from pytest_mlinfra import interrupts
from pytest_mlinfra.errors import MlinfraError

if TYPE_CHECKING:
    from pytest_mlinfra.function import FunctionClient
    from pytest_mlinfra.http_client import HttpClient
    from pytest_mlinfra.run import Run
    from pytest_mlinfra.sync import SyncedModel
    from pytest_mlinfra.targets.base import Target
    from pytest_mlinfra.terraform.stack import Stack

__all__ = ["mlinfra_function", "mlinfra_http", "mlinfra_model", "mlinfra_stack", "mlinfra_target"]

T = TypeVar("T")


def _stop_session(stage: str) -> NoReturn:
    """The error itself was reported once, as the failing case; the exit line only says why we stop."""
    pytest.exit(
        f"mlinfra: {stage} failed, so the session stopped (the error is under mlinfra::{stage})",
        returncode=pytest.ExitCode.USAGE_ERROR,
    )


def _or_stop(request: pytest.FixtureRequest, run: Run, stage: str, action: Callable[[], T]) -> T:
    """``action()``, or: record the failed stage, report it as one failing case, stop the session.

    ``stage`` is the default name; a Terraform failure names its own (init, apply, output).
    """
    started = time.perf_counter()
    try:
        return action()
    except MlinfraError as exc:
        from pytest_mlinfra.checks import report_stage_failure

        failed = str(getattr(exc, "stage", stage))
        reason = f"{failed} failed: {getattr(exc, 'reason', exc.what)}"
        run.failure = (failed, reason)
        seconds = time.perf_counter() - started
        report_stage_failure(request.config, failed, reason, f"mlinfra: {exc}", seconds)
        _stop_session(failed)


@pytest.fixture(scope="session")
def mlinfra_target(request: pytest.FixtureRequest, mlinfra_run: Run) -> Iterator[Target]:
    """The started target: ``.name``, ``.endpoint_url``, ``.client(service)``."""
    _or_stop(request, mlinfra_run, "deploy", mlinfra_run.check_model)  # a bad model: stop before starting
    try:
        yield _or_stop(request, mlinfra_run, "target start", mlinfra_run.start_target)
    finally:
        mlinfra_run.stop_target()


@pytest.fixture(scope="session")
def mlinfra_stack(
    request: pytest.FixtureRequest, mlinfra_run: Run, mlinfra_target: Target
) -> Iterator[Stack]:
    """The applied stack: ``.outputs``, ``.run_id``, ``.workdir``. Destroyed after the session."""
    try:
        yield _or_stop(request, mlinfra_run, "deploy", mlinfra_run.deploy)
    finally:
        try:
            mlinfra_run.destroy_stack()
        except MlinfraError as exc:
            # Interrupted, what remains was printed at once (by the destroy, or the second signal's
            # line); failing here would turn the interrupt into a setup error that every test
            # repeats, and the session would go on.
            if not interrupts.interrupted():
                pytest.fail(f"mlinfra: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def mlinfra_model(request: pytest.FixtureRequest, mlinfra_run: Run, mlinfra_stack: Stack) -> SyncedModel:
    """The model synced to where the function reads it: ``.s3_uri``, ``.sha256`` (verified)."""
    return _or_stop(request, mlinfra_run, "sync", mlinfra_run.sync_model)


@pytest.fixture(scope="session")
def mlinfra_function(
    request: pytest.FixtureRequest, mlinfra_run: Run, mlinfra_model: SyncedModel
) -> FunctionClient:
    """The deployed function, for any model: ``fn(event) -> dict``, ``fn.invoke(event)`` (raw answer
    with timing), ``fn.latencies``; using it adds the session's latency-budget check."""
    from pytest_mlinfra.hypothesis_profile import register_profile

    register_profile(mlinfra_run.settings)
    return _or_stop(request, mlinfra_run, "function", mlinfra_run.function)


@pytest.fixture(scope="session")
def mlinfra_http(
    request: pytest.FixtureRequest, mlinfra_run: Run, mlinfra_function: FunctionClient
) -> Iterator[HttpClient]:
    """The deployed HTTP endpoint named by the ``http_output`` stack output (default ``http_url``;
    the bundled stack has it with ``--mlinfra-http-api``): ``http.request(method, path, body,
    headers)``, ``http.post_json(doc)``, ``http(event) -> dict``, ``http.signed()`` (SigV4, for
    ``AWS_IAM`` URLs). Its latencies go into the same budget and report as the Invoke client's."""
    client = _or_stop(request, mlinfra_run, "http", mlinfra_run.http)
    try:
        yield client
    finally:
        client.close()
