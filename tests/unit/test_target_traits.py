"""What code outside ``targets/`` asks of a target comes from the target's class, not its name: a
target registered in a test gets the local or the aws behaviour by declaring the trait."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_mlinfra import targets
from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.ledger import Ledger, may_remain
from pytest_mlinfra.reap import embedded_and_gone
from pytest_mlinfra.runtimes import check_runtime
from pytest_mlinfra.targets.localstack import LocalStackTarget

TODAY = "2026-12-06"


class EmulatedTarget(LocalStackTarget):
    name = "emulated"
    deployed_in_emulator = True


class CloudTarget(LocalStackTarget):
    name = "cloud"
    real_aws = True


@pytest.fixture(autouse=True)
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(targets.TARGETS, "emulated", f"{__name__}:EmulatedTarget")
    monkeypatch.setitem(targets.TARGETS, "cloud", f"{__name__}:CloudTarget")


def _dead_run(tmp_path: Path, target: str) -> Ledger:
    # a pid no process has, and nothing listens on port 9: the run and its endpoint are gone
    return Ledger(
        "r1", tmp_path, target, "us-east-1", endpoint="http://127.0.0.1:9", pid=2**22, started_at=1.0
    )


def test_an_emulated_targets_dead_run_left_nothing(tmp_path: Path) -> None:
    assert embedded_and_gone(_dead_run(tmp_path, "emulated"))
    assert not may_remain(_dead_run(tmp_path, "emulated"))
    assert not embedded_and_gone(_dead_run(tmp_path, "cloud"))
    assert may_remain(_dead_run(tmp_path, "cloud"))


def test_aws_rules_hold_on_a_real_aws_target_only() -> None:
    with pytest.raises(MlinfraError):
        check_runtime("python3.8", "cloud", "warn", "5.100.0", explicit=False, today=TODAY)
    assert check_runtime("python3.8", "emulated", "warn", "5.100.0", explicit=False, today=TODAY)
