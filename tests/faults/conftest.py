"""Fixtures of the fault-injection suite: a shared provider cache, and LocalStack as a persistent
endpoint for the cases whose resources must outlive the pytest run (SIGKILL, a killed target)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_mlinfra.localstack_ext.launcher import LocalStack, find_venv

from .harness import FaultRun

REPO = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.faults)
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def plugin_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("plugin-cache")


@pytest.fixture
def cache(tmp_path: Path, plugin_cache: Path) -> Path:
    """A private cache (its runs dir holds this test's run only) sharing one provider plugin cache."""
    root = tmp_path / "cache"
    root.mkdir()
    (root / "plugin-cache").symlink_to(plugin_cache)
    return root


@pytest.fixture
def cleanup() -> Iterator[list[FaultRun]]:
    """Runs registered here are killed (with all their processes) if the test failed half way."""
    runs: list[FaultRun] = []
    yield runs
    for run in runs:
        run.kill_all()


@pytest.fixture
def localstack(tmp_path: Path) -> Iterator[LocalStack]:
    venv = find_venv() or find_venv(REPO / ".venv-localstack")
    if venv is None:
        pytest.skip("no LocalStack virtualenv (.venv-localstack or $MLINFRA_LOCALSTACK_VENV)")
    with LocalStack(venv, plugin=False, executor=False, workdir=tmp_path / "localstack") as running:
        yield running
