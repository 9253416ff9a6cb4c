"""The Lambda runtime through the real toolchain: the default follows the provider init selected
(reported in the summary, passed to the stack), an explicit one wins, and what the provider or AWS
would refuse is one line before apply."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_mlinfra.emulator import lambda_pythons

pytestmark = pytest.mark.slow

HANDLER = Path(__file__).resolve().parents[1] / "stack" / "handler"
RUNTIME_OF_FUNCTION = """
def test_function_runtime(mlinfra_stack, mlinfra_target):
    lam = mlinfra_target.client("lambda")
    config = lam.get_function_configuration(FunctionName=mlinfra_stack.outputs["function_name"])
    assert config["Runtime"] == "{runtime}"
"""
RUNTIME_VARIABLE = 'variable "lambda_runtime" {\n  type    = string\n  default = "python3.13"\n}\n'


def _output(result: pytest.RunResult) -> str:
    return result.stdout.str() + "\n" + result.stderr.str()


def _small_with_runtime(pytester: pytest.Pytester, small_stack: Path, pin: str | None = None) -> Path:
    """The small stack with a ``lambda_runtime`` variable; ``pin``: its hashicorp/aws version."""
    stack = pytester.mkdir("stack")
    main = (small_stack / "main.tf").read_text()
    if pin is not None:
        main = main.replace('version = ">= 3.39"', f'version = "{pin}"')
        assert pin in main
    (stack / "main.tf").write_text(main + RUNTIME_VARIABLE)
    return stack


def test_default_runtime_follows_the_selected_provider(pytester: pytest.Pytester) -> None:
    """The bundled stack (hashicorp/aws >= 5) on the newest provider here: python3.13, which AWS
    allows, so no notice; the function runs on a CPython 3.13."""
    if lambda_pythons.find_python("python3.13") is None:
        pytest.skip("no interpreter for python3.13 on this machine")
    pytester.makepyfile(RUNTIME_OF_FUNCTION.replace("{runtime}", "python3.13"))
    result = pytester.runpytest(f"--mlinfra-handler-dir={HANDLER}", "--mlinfra-runs-dir=runs", "-W", "always")
    output = _output(result)
    provider = [line for line in output.splitlines() if line.startswith("mlinfra: provider hashicorp/aws ")]
    if not any(" 5.100.0 " in line for line in provider):
        pytest.skip(f"hashicorp/aws 5.100.0 is not installable here: {provider}")
    assert result.ret == pytest.ExitCode.OK, output
    summary = [line for line in output.splitlines() if line.startswith("mlinfra: Lambda runtime python3.13 ")]
    assert summary == [
        "mlinfra: Lambda runtime python3.13 (the newest hashicorp/aws 5.100.0 accepts that AWS allows for "
        "new functions)",
        f"mlinfra: Lambda runtime python3.13 runs on {lambda_pythons.find_python('python3.13')[0]} "  # type: ignore[index]
        f"({lambda_pythons.find_python('python3.13')[1]})",  # type: ignore[index]
    ], output
    assert "RuntimeNotice" not in output


def test_default_runtime_on_the_3_39_floor_is_python3_8_with_a_notice(
    pytester: pytest.Pytester, small_stack: Path
) -> None:
    """A stack pinned to hashicorp/aws 3.39.0 defaults to python3.8, the newest it accepts, and the
    session says AWS refuses that for new functions."""
    stack = _small_with_runtime(pytester, small_stack, pin="3.39.0")
    pytester.makepyfile("def test_stack(mlinfra_stack):\n    pass\n")
    result = pytester.runpytest(f"--mlinfra-stack={stack}", "--mlinfra-runs-dir=runs", "-W", "always")
    output = _output(result)
    assert result.ret == pytest.ExitCode.OK, output
    assert (
        "mlinfra: Lambda runtime python3.8 (the newest hashicorp/aws 3.39.0 accepts; AWS allows none of "
        "those for new functions)"
    ) in output.splitlines(), output
    assert "RuntimeNotice: mlinfra: Lambda runtime python3.8: AWS refuses it for new functions" in output


def test_explicit_runtime_wins(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(RUNTIME_OF_FUNCTION.replace("{runtime}", "python3.7"))
    result = pytester.runpytest(
        f"--mlinfra-handler-dir={HANDLER}", "--mlinfra-runs-dir=runs", "--mlinfra-runtime=python3.7"
    )
    output = _output(result)
    assert result.ret == pytest.ExitCode.OK, output
    assert "mlinfra: Lambda runtime python3.7 (set by --mlinfra-runtime / mlinfra_runtime)" in output


def test_runtime_the_provider_rejects_is_one_line_before_apply(
    pytester: pytest.Pytester, small_stack: Path
) -> None:
    stack = _small_with_runtime(pytester, small_stack)
    pytester.makepyfile("def test_stack(mlinfra_stack):\n    pass\n")
    result = pytester.runpytest(
        f"--mlinfra-stack={stack}", "--mlinfra-runs-dir=runs", "--mlinfra-runtime=python3.14"
    )
    output = _output(result)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, output
    lines = [line for line in output.splitlines() if "is not accepted by hashicorp/aws " in line]
    assert len(lines) == 1 and "python3.14 needs >= 6.20.0" in lines[0], output
    assert "DESTROY FAILED" not in output and "Traceback" not in output
    assert "terraform apply" not in output and "apply failed" not in output, "nothing was applied"
    assert not list((pytester.path / "runs").rglob("terraform.tfstate"))


def test_aws_target_refuses_a_blocked_default_before_apply(
    pytester: pytest.Pytester, small_stack: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Fake keys and no allow-list: nothing here calls AWS (init is offline, the refusal comes first).
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFAKEFAKEFAKEFAKE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "fake")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    stack = _small_with_runtime(pytester, small_stack, pin="3.39.0")
    pytester.makepyfile("def test_stack(mlinfra_stack):\n    pass\n")
    result = pytester.runpytest(
        f"--mlinfra-stack={stack}", "--mlinfra-runs-dir=runs", "--mlinfra-target=aws", "--mlinfra-aws-opt-in"
    )
    output = _output(result)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, output
    lines = [line for line in output.splitlines() if "AWS refuses it for new functions since" in line]
    assert len(lines) == 1, output
    assert "(target aws)" in lines[0] and "require hashicorp/aws >= 3.55.0" in lines[0], output
    assert "DESTROY FAILED" not in output and "Traceback" not in output
    assert "terraform apply" not in output and "apply failed" not in output, "nothing was applied"
    assert not list((pytester.path / "runs").rglob("terraform.tfstate"))


def test_efs_packages_built_for_another_python_are_one_line_before_apply(pytester: pytest.Pytester) -> None:
    """MarkupSafe here is a cp311 build (a C extension): a python3.8 function could not import it."""
    pytester.makepyfile("def test_stack(mlinfra_stack):\n    pass\n")
    result = pytester.runpytest(
        f"--mlinfra-handler-dir={HANDLER}",
        "--mlinfra-runs-dir=runs",
        "--mlinfra-runtime=python3.8",
        "--mlinfra-efs-packages=markupsafe",
    )
    output = _output(result)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, output
    lines = [line for line in output.splitlines() if "which Lambda runtime python3.8 cannot import" in line]
    assert len(lines) == 1 and "MarkupSafe" in lines[0] and "mlinfra_runtime = python3.11" in lines[0], output
    assert "DESTROY FAILED" not in output and "Traceback" not in output
    assert "terraform apply" not in output and "apply failed" not in output, "nothing was applied"


REQUIREMENTS_TEST = """
import json

def test_extension_built_for_the_runtime(mlinfra_stack, mlinfra_target):
    lam = mlinfra_target.client("lambda")
    response = lam.invoke(
        FunctionName=mlinfra_stack.outputs["function_name"], Payload=b'{"import": "yaml._yaml"}'
    )
    payload = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, payload
    assert "cpython-38-x86_64-linux-gnu" in payload["file"], payload
"""


def test_requirements_are_built_for_the_declared_runtime(pytester: pytest.Pytester) -> None:
    """PyYAML's C extension from requirements.txt, built for and imported by a python3.8 function
    (the newest runtime the stack's hashicorp/aws 3.39 accepts)."""
    if lambda_pythons.find_python("python3.8") is None:
        pytest.skip("no interpreter for python3.8 on this machine")
    handler = pytester.mkdir("handler")
    (handler / "model.py").write_text((HANDLER / "model.py").read_text())
    (handler / "requirements.txt").write_text("pyyaml==6.0.2\n")
    pytester.makepyfile(REQUIREMENTS_TEST)
    result = pytester.runpytest(
        f"--mlinfra-handler-dir={handler}", "--mlinfra-runs-dir=runs", "--mlinfra-runtime=python3.8"
    )
    output = _output(result)
    assert result.ret == pytest.ExitCode.OK, output
    built = [
        line for line in output.splitlines() if line.startswith("mlinfra: requirements requirements.txt")
    ]
    assert len(built) == 1 and "for python3.8 (x86_64): 1 packages" in built[0], output
    assert "mlinfra: Lambda runtime python3.8 runs on " in output
