"""Reports: text, JSON, JUnit XML (parsed back), Markdown."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

import pytest

from pytest_mlinfra.audit import Finding, render

FINDINGS = [
    Finding("aws_s3_bucket.b", "missing", ("Name",), "aws_s3_bucket", "missing tag(s) Name", "hcl"),
    Finding(
        "aws_s3_bucket.b", "bad-value", ("Environment",), "aws_s3_bucket", "Environment='x' | bad", "hcl"
    ),
    Finding(
        "aws_efs_mount_target.t", "not-taggable", ("Name",), "aws_efs_mount_target", "remove tags", "hcl"
    ),
]


def test_text() -> None:
    out = render(FINDINGS, "text")
    assert "aws_s3_bucket.b: missing: missing tag(s) Name" in out
    assert out.splitlines()[-1] == (
        "mlinfra-audit: 3 finding(s) on 2 resource(s): 1 missing, 1 bad-value, 1 not-taggable"
    )
    assert render([], "text") == "mlinfra-audit: no findings\n"


def test_json() -> None:
    doc = json.loads(render(FINDINGS, "json"))
    assert doc["summary"] == {
        "total": 3, "missing": 1, "bad-value": 1, "not-taggable": 1, "undecidable": 0,
        "unknown-type": 0, "drift": 0, "orphan": 0,
    }  # fmt: skip
    first = doc["findings"][0]
    assert {"address", "kind", "keys", "resource_type", "message", "source"} <= set(first)
    assert {(f["address"], f["kind"], tuple(f["keys"])) for f in doc["findings"]} == {
        (f.address, f.kind, f.keys) for f in FINDINGS
    }


def test_junit_parses_and_counts_resources() -> None:
    root = ET.fromstring(render(FINDINGS, "junit"))
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("tests") == "2" and suite.get("failures") == "2"
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert set(cases) == {"aws_s3_bucket.b", "aws_efs_mount_target.t"}
    assert {f.get("type") for f in cases["aws_s3_bucket.b"].iter("failure")} == {"missing", "bad-value"}
    clean = ET.fromstring(render([], "junit")).find("testsuite")
    assert clean is not None and clean.get("failures") == "0" and len(list(clean.iter("testcase"))) == 1


def test_markdown_escapes_pipes() -> None:
    out = render(FINDINGS, "markdown")
    assert out.startswith("## Cost-tag audit")
    assert "| `aws_s3_bucket.b` | bad-value | Environment | Environment='x' \\| bad |" in out


def test_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown format"):
        render(FINDINGS, "yaml")
