"""The bundled example stack: valid offline, applies on the local target, re-plans clean, carries its
cost tags, moves the model where the function reads it, and leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_mlinfra.run import Run
from pytest_mlinfra.settings import Settings, bundled_stack
from pytest_mlinfra.terraform.stack import Stack
from pytest_mlinfra.terraform.toolchain import Toolchain, find_terraform

pytestmark = pytest.mark.slow

HANDLER = Path(__file__).with_name("handler")


def test_validates_with_the_offline_toolchain(tmp_path: Path) -> None:
    stack = Stack(bundled_stack(), tmp_path, Toolchain(find_terraform()), variables={})
    stack.prepare()
    stack.init()
    assert stack.validate() == []


@pytest.mark.parametrize("model_source", ["efs", "s3"])
def test_applies_replans_clean_serves_the_model_and_destroys(tmp_path: Path, model_source: str) -> None:
    artifact = tmp_path / "model.pt"
    artifact.write_bytes(b"weights " * 1000)
    settings = Settings(
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
