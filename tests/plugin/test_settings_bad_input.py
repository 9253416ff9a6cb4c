"""Bad settings stop the session at start-up: one line, exit code 4, nothing started or deployed."""

from __future__ import annotations

from pathlib import Path

import pytest

USES_STACK = "def test_it(mlinfra_stack):\n    assert mlinfra_stack.outputs\n"


def _one_line(result: pytest.RunResult) -> str:
    """The single ``ERROR: mlinfra:`` line of a usage error, and proof that nothing ran."""
    output = result.stdout.str() + "\n" + result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR, output
    lines = [line for line in output.splitlines() if "mlinfra:" in line and "ERROR" in line]
    assert len(lines) == 1, output
    assert "Traceback" not in output and "INTERNALERROR" not in output
    assert "target start" not in output and "terraform" not in output, "nothing started"
    return lines[0]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["--mlinfra-examples=-3"],
            "ERROR: mlinfra: --mlinfra-examples must be >= 1, got -3. "
            "set --mlinfra-examples (ini mlinfra_examples) to a value >= 1",
        ),
        (["--mlinfra-examples=0"], "ERROR: mlinfra: --mlinfra-examples must be >= 1, got 0. *"),
        (
            ["--mlinfra-min-recall=1.5"],
            "ERROR: mlinfra: --mlinfra-min-recall must be <= 1, got 1.5. "
            "set --mlinfra-min-recall (ini mlinfra_min_recall) to a value from 0 to 1",
        ),
        (["--mlinfra-min-recall=nan"], "ERROR: mlinfra: --mlinfra-min-recall must be >= 0, got nan. *"),
        (["--mlinfra-port=70000"], "ERROR: mlinfra: --mlinfra-port must be <= 65535, got 70000. *"),
        (["--mlinfra-lambda-concurrency=0"], "ERROR: mlinfra: --mlinfra-lambda-concurrency must be >= 1, *"),
        (
            ["--mlinfra-lambda-eni-release-s=-1"],
            "ERROR: mlinfra: --mlinfra-lambda-eni-release-s must be >= 0*",
        ),
        (
            ["--mlinfra-latency-budget=p95=-5"],
            "ERROR: mlinfra: latency budget 'p95=-5' is not KEY=MILLISECONDS*",
        ),
    ],
)
def test_a_number_out_of_range_is_one_line(pytester: pytest.Pytester, args: list[str], expected: str) -> None:
    pytester.makepyfile(USES_STACK)
    result = pytester.runpytest(*args)
    _one_line(result)
    result.stderr.fnmatch_lines([expected])


def test_the_ini_value_is_checked_too(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nmlinfra_examples = -3\n")
    pytester.makepyfile(USES_STACK)
    result = pytester.runpytest()
    assert "got -3" in _one_line(result)


def test_an_unknown_region_is_one_line_before_the_target_starts(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(USES_STACK)
    line = _one_line(pytester.runpytest("--mlinfra-region=mars-1"))
    assert line.startswith(
        "ERROR: mlinfra: region 'mars-1' is not an AWS region (not in botocore's endpoint data). "
        "set --mlinfra-region (ini mlinfra_region) to one of: af-south-1, "
    )
    assert "us-east-1" in line and len(line) < 1000
    close = _one_line(pytester.runpytest("--mlinfra-region=eu-wset-1"))
    assert "did you mean eu-west-1" in close


def test_an_empty_model_is_one_line_at_start_up(pytester: pytest.Pytester) -> None:
    (pytester.path / "model.pt").write_bytes(b"")
    pytester.makepyfile("def test_model(mlinfra_model):\n    pass\n")
    line = _one_line(pytester.runpytest("--mlinfra-model=model.pt"))
    assert line == (
        f"ERROR: mlinfra: model artifact {pytester.path / 'model.pt'} is empty (0 bytes). point "
        "--mlinfra-model (ini mlinfra_model) at the trained model file, or export it again"
    )


def test_a_model_check_that_is_not_module_function(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(USES_STACK)
    line = _one_line(pytester.runpytest("--mlinfra-model-check=model.check"))
    assert "model check 'model.check' is not MODULE:FUNCTION" in line
