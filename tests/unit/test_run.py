"""Run-level behaviour that needs no deployment: keep messages, model source, target choice."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.run import Run
from pytest_mlinfra.settings import Settings
from pytest_mlinfra.targets import TARGET_NAMES, target_class
from pytest_mlinfra.terraform.stack import Stack
from pytest_mlinfra.terraform.toolchain import Toolchain, find_terraform


def _stack(tmp_path: Path) -> Stack:
    return Stack(tmp_path / "src", tmp_path / "run", Toolchain(find_terraform(), root=tmp_path), variables={})


def test_keep_on_a_remote_target_prints_the_exact_destroy_command(tmp_path: Path) -> None:
    run = Run(Settings(target="localstack", keep=True, runs_dir=tmp_path))
    message = run.keep_message(_stack(tmp_path))
    assert message.startswith("--mlinfra-keep: stack left deployed; destroy it later with: cd ")
    assert f"{tmp_path / 'run' / 'stack'} && " in message
    assert "TF_CLI_CONFIG_FILE=" in message and message.endswith("destroy -auto-approve")


def test_model_source_s3_and_efs_requirements(tmp_path: Path) -> None:
    run = Run(Settings(target="localstack", model_source="efs", runs_dir=tmp_path))
    run.target.health = {"services": {"s3": "running", "lambda": "running", "efs": "disabled"}}  # type: ignore[attr-defined]
    with pytest.raises(MlinfraError, match="has no EFS/DataSync"):
        run.model_on_efs()
    assert Run(Settings(model_source="s3", runs_dir=tmp_path)).model_on_efs() is False


def test_targets_are_built_by_name(tmp_path: Path) -> None:
    for name in TARGET_NAMES:
        assert target_class(name).name == name
    assert Run(Settings(target="aws", runs_dir=tmp_path)).target.name == "aws"
    with pytest.raises(MlinfraError, match="target 'gcp' is unknown"):
        target_class("gcp")


def test_run_without_pytest_has_the_plugins_defaults() -> None:
    """``Run(Settings())`` behaves as the plugin does with nothing set (the latency budget included)."""
    assert Settings().latency_budgets == {"p50": 250.0, "p95": 1000.0, "p99": 2000.0, "cold": 30000.0}


@pytest.mark.parametrize("model_source", ["s3", "efs"])
def test_plain_sync_model_on_a_stack_without_contract_outputs_is_the_preflight_line(
    tmp_path: Path, model_source: str
) -> None:
    """``Run.sync_model()`` without pytest (no fixtures known before the deploy): the applied stack's
    outputs are checked as the pre-flight checks the declared ones, no raw KeyError from sync.py."""
    model = tmp_path / "model.pt"
    model.write_bytes(b"weights")
    run = Run(Settings(model_path=model, model_source=model_source, runs_dir=tmp_path))
    stack = _stack(tmp_path)
    stack.outputs, stack.applied = {"model_key": "models/", "function_name": "f"}, True
    run.stack = stack
    with pytest.raises(MlinfraError) as caught:
        run.sync_model()
    missing = "bucket_name" if model_source == "s3" else "bucket_name, datasync_task_arn, efs_file_system_id"
    assert str(caught.value) == (
        f"the stack {stack.source} lacks output {missing}, which mlinfra_model need(s). declare output "
        f"{missing} in the stack (see docs/contract.md)"
    )
    stack.outputs = {"bucket_name": "b", "model_key": "models/"}
    with pytest.raises(MlinfraError, match="lacks output function_name, which mlinfra_function need"):
        run.function()
