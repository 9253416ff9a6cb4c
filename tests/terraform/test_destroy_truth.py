"""Destroy tells the truth: nothing created means no destroy (and says so); "DESTROY FAILED" only
when the state still holds resources, with the count; failed runs keep their run dir."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.run import Run
from pytest_mlinfra.settings import Settings

pytestmark = pytest.mark.slow

TWO_TESTS = "def test_one(mlinfra_stack):\n    pass\n\ndef test_two(mlinfra_stack):\n    pass\n"


def _stack_with(pytester: pytest.Pytester, small_stack: Path, extra: str) -> Path:
    stack = pytester.mkdir("stack")
    (stack / "main.tf").write_text((small_stack / "main.tf").read_text() + extra)
    return stack


def test_plan_time_error_is_one_line_and_no_false_destroy_alarm(
    pytester: pytest.Pytester, small_stack: Path
) -> None:
    # Valid for `terraform validate` (the value is a variable), refused by the provider at plan time.
    stack = _stack_with(
        pytester,
        small_stack,
        'variable "acl" {\n  type    = string\n  default = "bogus"\n}\n\n'
        'resource "aws_s3_bucket" "acl" {\n  bucket = "${var.name_prefix}-acl"\n  acl    = var.acl\n}\n',
    )
    pytester.makepyfile(TWO_TESTS)
    result = pytester.runpytest(f"--mlinfra-stack={stack}", "--mlinfra-runs-dir=runs")
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    failures = [line for line in output.splitlines() if "mlinfra: terraform apply failed" in line]
    assert len(failures) == 1, output
    assert "main.tf:" in failures[0] and "expected acl to be one of" in failures[0]
    assert "apply failed before creating anything: nothing to destroy" in output
    assert "DESTROY FAILED" not in output
    assert "Traceback" not in output
    # The run dir is kept, so the printed command works as printed.
    folder = re.search(r"cd (\S+) && ", failures[0])
    assert folder and Path(folder[1]).is_dir() and (Path(folder[1]) / "main.tf").is_file()


def test_invalid_syntax_is_reported_with_file_and_line(pytester: pytest.Pytester, small_stack: Path) -> None:
    stack = _stack_with(pytester, small_stack, 'resource "aws_s3_bucket" "broken" {\n  bucket = "x"\n')
    pytester.makepyfile(TWO_TESTS)
    result = pytester.runpytest(f"--mlinfra-stack={stack}", "--mlinfra-runs-dir=runs")
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    lines = [line for line in output.splitlines() if "mlinfra: terraform init failed in" in line]
    assert len(lines) == 1, output
    line = len((small_stack / "main.tf").read_text().splitlines()) + 1
    assert f"main.tf:{line}: Unclosed configuration block: There is no closing brace for this" in lines[0]
    assert "elsewhere in this file" in lines[0], "the detail is whole, not cut mid-sentence"
    assert "DESTROY FAILED" not in output


def test_destroy_failure_counts_what_the_state_still_holds(small_stack: Path, tmp_path: Path) -> None:
    run = Run(Settings(stack_dir=small_stack, runs_dir=tmp_path), log=lambda _m: None)
    try:
        stack = run.deploy()
        run.stop_target()  # the endpoint is gone: destroy cannot reach it
        with pytest.raises(MlinfraError) as failure:
            stack.destroy()
        message = str(failure.value)
        assert message.startswith("DESTROY FAILED, 1 resource still deployed (terraform destroy failed")
        assert f"state: {stack.state_file}" in message and f". {stack.finish_hint()}" in message
        assert stack.state_file.is_file()
        stack.applied = False  # the embedded AWS is gone with its bucket; nothing is left to finish
    finally:
        run.teardown()
