"""examples/ci: the step summary's Markdown (a failed run, bad input) and actionlint where installed."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from pytest_mlinfra.cli import main
from pytest_mlinfra.report.step_summary import render

REPO = Path(__file__).resolve().parents[2]
FAILED = {
    "schema": "pytest-mlinfra/report/1",
    "run": {
        "run_id": "r1",
        "target": "local",
        "region": "us-east-1",
        "verdict": "FAILED",
        "tests": {"failed": 1},
    },
    "failure": None,
    "stages_s": {"apply": 12.5},
    "latency": {"summary": {"p50": 7.0, "p95": 80.0, "invokes": 3.0}},
    "cost_tags": {"required": ["Name"], "findings": [{"resource": "aws_s3_bucket.x"}]},
    "tests": [
        {"test": "t.py::ok", "outcome": "passed", "message": ""},
        {"test": "t.py::bad", "outcome": "failed", "message": "assert 'a|b'\\nmore"},
    ],
}


def test_failed_run_lists_its_failed_tests() -> None:
    markdown = render(FAILED)
    assert markdown.startswith("## pytest-mlinfra: FAILED\n")
    assert "| `t.py::bad` | assert 'a\\|b'" in markdown and "t.py::ok" not in markdown
    assert "| apply | 12.50 |" in markdown and "p50 7.0 ms, p95 80.0 ms." in markdown
    assert "Cost tags (Name): 1 finding(s)." in markdown


def test_not_a_report_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"hello": 1}))
    assert main(["summary", str(other)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a --mlinfra-json report" in err


@pytest.mark.skipif(shutil.which("actionlint") is None, reason="actionlint not installed")
def test_workflows_pass_actionlint() -> None:
    workflow = REPO / "examples" / "ci" / "github-workflow.yml"
    proc = subprocess.run(["actionlint", str(workflow)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout


def test_untaggable_resources_are_shown_as_such() -> None:
    from pytest_mlinfra.report.summary import tag_rows

    state = {
        "values": {
            "root_module": {
                "resources": [
                    {"mode": "managed", "address": "aws_iam_role_policy.p", "values": {"name": "p"}},
                    {"mode": "managed", "address": "aws_s3_bucket.b", "values": {"tags_all": {"Name": "b"}}},
                ]
            }
        }
    }
    rows = tag_rows(state, ("Name", "Owner"))
    assert rows == [
        {"address": "aws_iam_role_policy.p", "tags": {}, "taggable": False},
        {"address": "aws_s3_bucket.b", "tags": {"Name": "b"}, "taggable": True},
    ]


def test_a_failed_tests_message_is_its_error_line() -> None:
    from pytest_mlinfra.report.results import SessionResults

    results = SessionResults()
    text = "mlinfra_function = FunctionClient('f', 1 calls)\n\n>   assert x == 1\nE   assert 2 == 1\n"
    results.record("t.py::bad", "call", "failed", 0.1, text)
    assert results.results["t.py::bad"].message == "assert 2 == 1"
