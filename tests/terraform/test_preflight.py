"""Pre-flight: each problem is one line and a usage error before anything is deployed, and
"DESTROY FAILED" never appears (the false alarms of issue #12)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_mlinfra.run import Run
from pytest_mlinfra.settings import Settings
from pytest_mlinfra.terraform.stack import Stack
from pytest_mlinfra.terraform.toolchain import Toolchain, find_terraform

HANDLER = Path(__file__).resolve().parents[1] / "stack" / "handler"
PREDICTOR_TEST = "def test_predicts(ner_predictor):\n    assert ner_predictor('Tom Cruise is overrated')\n"


def _one_error(result: pytest.RunResult, needle: str) -> str:
    output = result.stdout.str() + "\n" + result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR, output
    lines = [line for line in output.splitlines() if needle in line]
    assert len(lines) == 1, output
    assert "DESTROY FAILED" not in output
    assert "Traceback" not in output
    assert "terraform apply" not in output and "apply failed" not in output, "nothing was applied"
    return lines[0]


def test_no_handler_configured_names_the_setting_to_add(pytester: pytest.Pytester) -> None:
    # A test file in another repo that takes ner_predictor, no ini: the bundled stack needs a zip.
    pytester.makepyfile(PREDICTOR_TEST)
    line = _one_error(pytester.runpytest("--mlinfra-runs-dir=runs"), "requires variable lambda_zip_path")
    assert "add --mlinfra-handler-dir=DIR (ini mlinfra_handler_dir)" in line
    assert not (pytester.path / "runs").exists() or not any((pytester.path / "runs").rglob("*.tfstate"))


def test_missing_contract_outputs_are_named(pytester: pytest.Pytester, small_stack: Path) -> None:
    model = pytester.path / "model.pt"
    model.write_bytes(b"weights")
    pytester.makepyfile("def test_model(mlinfra_model):\n    pass\n")
    line = _one_error(
        pytester.runpytest(f"--mlinfra-stack={small_stack}", f"--mlinfra-model={model}"), "lacks output"
    )
    assert (
        "lacks output model_key, datasync_task_arn, efs_file_system_id, which mlinfra_model need(s)" in line
    )

    # Serving the model from S3 needs no EFS outputs: only model_key is missing then.
    line = _one_error(
        pytester.runpytest(
            f"--mlinfra-stack={small_stack}", f"--mlinfra-model={model}", "--mlinfra-model-source=s3"
        ),
        "lacks output",
    )
    assert "lacks output model_key, which mlinfra_model need(s)" in line


def test_handler_dir_without_the_handler_module(pytester: pytest.Pytester) -> None:
    empty = pytester.mkdir("handler")
    pytester.makepyfile(PREDICTOR_TEST)
    line = _one_error(pytester.runpytest(f"--mlinfra-handler-dir={empty}"), "has no module model")
    assert "(for handler model.predict): no model.py or model/__init__.py" in line


def test_model_path_that_is_a_folder(pytester: pytest.Pytester) -> None:
    folder = pytester.mkdir("artifacts")
    pytester.makepyfile(PREDICTOR_TEST)
    line = _one_error(pytester.runpytest(f"--mlinfra-model={folder}"), "is a folder, not a file")
    assert "point --mlinfra-model (ini mlinfra_model) at the model file itself" in line


@pytest.mark.slow
def test_validate_error_is_file_line_and_nothing_is_deployed(
    pytester: pytest.Pytester, small_stack: Path
) -> None:
    stack = pytester.mkdir("stack")
    text = (small_stack / "main.tf").read_text()
    (stack / "main.tf").write_text(text.replace("force_destroy = true", "force_destroy = true\n  colour = 1"))
    line_no = text.splitlines().index("  force_destroy = true") + 2
    pytester.makepyfile("def test_one(mlinfra_stack):\n    pass\n")
    line = _one_error(pytester.runpytest(f"--mlinfra-stack={stack}"), "mlinfra: terraform validate:")
    assert f'main.tf:{line_no}: Unsupported argument: An argument named "colour" is not expected here' in line


@pytest.mark.slow
def test_validate_is_skipped_on_an_unchanged_stack(tmp_path: Path, small_stack: Path) -> None:
    toolchain = Toolchain(find_terraform(), root=tmp_path / "cache")

    def stack(source: Path, n: int) -> Stack:
        made = Stack(
            source=source, workdir=tmp_path / f"run{n}", toolchain=toolchain, variables={"run_id": "x"}
        )
        made.prepare()
        made.init()
        return made

    assert stack(small_stack, 1).preflight_validate() is True
    assert stack(small_stack, 2).preflight_validate() is False, "same files, same Terraform: skipped"
    changed = tmp_path / "changed"
    changed.mkdir()
    (changed / "main.tf").write_text((small_stack / "main.tf").read_text() + "\n# edited\n")
    assert stack(changed, 3).preflight_validate() is True, "an edited stack is validated again"


def test_plain_run_checks_the_outputs_its_fixtures_need(small_stack: Path, tmp_path: Path) -> None:
    from pytest_mlinfra.errors import MlinfraError

    run = Run(Settings(stack_dir=small_stack, runs_dir=tmp_path))
    run.fixtures = {"mlinfra_function"}
    with pytest.raises(MlinfraError, match="lacks output model_key, datasync_task_arn, efs_file_system_id"):
        run.preflight(small_stack)


@pytest.mark.parametrize(
    ("extra", "files", "needle", "hint"),
    [
        (
            "import yaml\n",
            {},
            "imports yaml (model.py:1), which Lambda runtime python3.11 would not have",
            "mlinfra_requirements",
        ),
        (
            "import features\n",
            {"features.py": "X = 1\n"},
            "imports features (model.py:1), which is in the handler dir",
            "mlinfra_package_include",
        ),
    ],
    ids=["third-party", "left-out-of-the-zip"],
)
def test_an_import_the_function_would_lack_is_one_line_before_apply(
    pytester: pytest.Pytester, extra: str, files: dict[str, str], needle: str, hint: str
) -> None:
    """On AWS: Runtime.ImportModuleError at the first invoke, after the deploy. Here: before apply."""
    handler = pytester.mkdir("handler")
    (handler / "model.py").write_text(extra + (HANDLER / "model.py").read_text())
    for name, text in files.items():
        (handler / name).write_text(text)
    pytester.makepyfile("def test_stack(mlinfra_stack):\n    pass\n")
    result = pytester.runpytest(
        f"--mlinfra-handler-dir={handler}",
        "--mlinfra-package-include=model.py",
        "--mlinfra-runs-dir=runs",
        "--mlinfra-runtime=python3.11",
    )
    line = _one_error(result, needle)
    assert hint in line, line
    assert not any((pytester.path / "runs").rglob("terraform.tfstate")), "nothing deployed"
