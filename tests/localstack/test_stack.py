"""The bundled stack through ``Run`` on a real LocalStack: applies, re-plans clean (the Lambda
provider returns ``FileSystemConfigs``), serves the model from EFS or S3, destroys to nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_mlinfra.localstack_ext.launcher import LocalStack
from pytest_mlinfra.run import Run
from pytest_mlinfra.settings import Settings

pytestmark = pytest.mark.slow

HANDLER = Path(__file__).resolve().parents[1] / "stack" / "handler"


@pytest.mark.parametrize("ls_fixture", ["localstack_plugin", "localstack_community"])
def test_applies_replans_clean_serves_the_model_and_destroys(
    tmp_path: Path, ls_fixture: str, request: pytest.FixtureRequest
) -> None:
    ls: LocalStack = request.getfixturevalue(ls_fixture)
    artifact = tmp_path / "model.pt"
    artifact.write_bytes(b"weights " * 1000)
    settings = Settings(
        target="localstack",
        localstack_endpoint=ls.endpoint_url,
        handler_dir=HANDLER,
        model_path=artifact,
        runs_dir=tmp_path,
    )
    run = Run(settings, log=lambda line: None)
    try:
        outputs = run.deploy().outputs
        assert run.stack is not None and run.stack.pending_changes() == [], "no perpetual diff"
        assert (outputs["efs_file_system_id"] is not None) == ls.plugin

        model = run.sync_model()
        answer = run.function().invoke({})
        assert answer.function_error is None, answer.payload
        assert answer.payload["sha256"] == model.sha256
        expected = "/mnt/shared-storage/model.pt" if ls.plugin else "/tmp/model/model.pt"
        assert (answer.payload["path"], answer.payload["from_s3"]) == (expected, not ls.plugin)
        assert run.stack.pending_changes() == [], "using the stack does not make it drift"
        run.destroy_stack()
        assert run.leftovers() == [], "destroy leaves nothing carrying the run's tag"
    finally:
        run.teardown()
