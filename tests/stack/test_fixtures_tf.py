"""The bundled example stack: valid offline, applies on the local target, re-plans clean, carries its
cost tags, moves the model where the function reads it, and leaves nothing behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_mlinfra.run import Run
from pytest_mlinfra.settings import Settings, bundled_stack
from pytest_mlinfra.terraform.stack import Stack
from pytest_mlinfra.terraform.toolchain import Toolchain, find_terraform

pytestmark = pytest.mark.slow

HANDLER = Path(__file__).with_name("handler")


AWS = "registry.terraform.io/hashicorp/aws"
FLOOR = Path(__file__).parents[1] / "stacks" / "floor_339"


def _diagnostics(stack: Stack) -> list[str]:
    raw = stack._run("validate", lambda tf: tf.execute_command("validate", "-json", "-no-color").out)
    return [f"{d['severity']}: {d['summary']}" for d in json.loads(raw).get("diagnostics", [])]


def test_validates_on_5x_without_a_warning(tmp_path: Path) -> None:
    """The example is what a 2026 user writes: no deprecated argument, so not one warning."""
    stack = Stack(bundled_stack(), tmp_path, Toolchain(find_terraform()), variables={})
    stack.prepare()
    stack.init()
    assert stack.installed[AWS].startswith("5."), stack.provider_line()
    assert _diagnostics(stack) == []


def test_the_3_39_floor_stack_still_validates(tmp_path: Path) -> None:
    """The same stack as written for 3.39 (inline S3 blocks) inits and validates on 3.39.0."""
    stack = Stack(FLOOR, tmp_path, Toolchain(find_terraform()), variables={})
    stack.prepare()
    stack.init()
    assert stack.installed[AWS] == "3.39.0", stack.provider_line()
    assert stack.validate() == []


@pytest.mark.parametrize(
    ("model_source", "stack_dir"),
    [("efs", None), ("s3", None), pytest.param("efs", FLOOR, id="efs-floor-3.39")],
)
def test_applies_replans_clean_serves_the_model_and_destroys(
    tmp_path: Path, model_source: str, stack_dir: Path | None
) -> None:
    artifact = tmp_path / "model.pt"
    artifact.write_bytes(b"weights " * 1000)
    settings = Settings(
        stack_dir=stack_dir or bundled_stack(),
        handler_dir=HANDLER,
        model_path=artifact,
        runs_dir=tmp_path,
        model_source=model_source,
        # A package the function imports from EFS (PYTHONPATH on the mount), uploaded for real.
        efs_packages=("certifi",) if model_source == "efs" else (),
    )
    run = Run(settings)
    try:
        outputs = run.deploy().outputs
        assert run.stack is not None and run.stack.pending_changes() == [], "no perpetual diff"
        assert run.stack.installed[AWS].startswith("3.39" if stack_dir else "5."), run.stack.provider_line()
        assert (outputs["efs_file_system_id"] is None) == (model_source == "s3")

        model = run.sync_model()
        answer = run.function().invoke({})
        assert answer.function_error is None, answer.payload
        assert answer.payload["sha256"] == model.sha256
        expected = "/mnt/shared-storage/model.pt" if model_source == "efs" else "/tmp/model/model.pt"
        assert (answer.payload["path"], answer.payload["from_s3"]) == (expected, model_source == "s3")
        if model_source == "efs":
            assert model.packages is not None and model.packages.uploaded == model.packages.files > 0
            found = run.function().invoke({"import": "certifi"})
            assert found.payload == {"file": "/mnt/shared-storage/python/certifi/__init__.py"}
            missing = run.function().invoke({"import": "pytest"})  # in the host venv, not deployed
            assert missing.function_error == "Unhandled"
            assert missing.payload["errorMessage"] == "No module named 'pytest'"
            again = run.sync_model().packages  # content addressed: nothing unchanged is uploaded again
            assert again is not None and (again.uploaded, again.unchanged) == (0, again.files)

        assert run.stack.pending_changes() == [], "using the stack does not make it drift"
        assert run.audit() == [], "every taggable resource carries Name, Environment, Project, Owner"
        leftovers = run.leftovers()
        kinds = {arn.split(":")[2] for arn in leftovers}
        expected_kinds = {"s3", "lambda", "ec2", "logs", "iam"}
        if model_source == "efs":
            expected_kinds |= {"elasticfilesystem", "datasync"}
        assert expected_kinds <= kinds
        run.destroy_stack()
        assert run.leftovers() == [], "destroy leaves nothing carrying the run's tag"
    finally:
        run.teardown()
