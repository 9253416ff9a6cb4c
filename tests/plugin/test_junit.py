"""JUnit XML tells the truth: a failed deploy is a failing case, session checks have readable names."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

TWO_TESTS = "def test_one(mlinfra_stack):\n    pass\n\ndef test_two(mlinfra_stack):\n    pass\n"


def test_failed_apply_is_one_failing_case_naming_the_stage(
    pytester: pytest.Pytester, broken_apply_stack: Path
) -> None:
    pytester.makepyfile(TWO_TESTS)
    result = pytester.runpytest(f"--mlinfra-stack={broken_apply_stack}", "--junitxml=junit.xml", "-rf")
    suite = ET.parse(pytester.path / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("1", "1", "0")
    (case,) = suite.findall("testcase")
    assert (case.get("classname"), case.get("name")) == ("mlinfra", "apply")
    failure = case.find("failure")
    assert failure is not None
    message = failure.get("message", "")
    # hashicorp/aws 5.x: "uploading S3 Object (x) to Bucket (...)"; 3.x: "Error putting object in S3 bucket"
    assert message.startswith("apply failed: fails.tf:1: "), message
    assert "NoSuchBucket" in message and "[aws_s3_bucket_object.fails]" in message
    assert "\n" not in message
    assert "terraform apply failed in " in (failure.text or ""), "the element text has the whole error"
    assert float(case.get("time", "0")) > 0
    properties = {p.get("name") for p in suite.iter("property")}
    assert "mlinfra.stage.apply_s" in properties, "stage times stay as properties"
    result.stdout.fnmatch_lines(["FAILED mlinfra::apply - apply failed: fails.tf:1: *"])
    assert "test_two" not in result.stdout.str(), "the session stopped at the failed stage"
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_session_checks_have_readable_names(pytester: pytest.Pytester, small_stack: Path) -> None:
    pytester.makepyfile("def test_one(mlinfra_stack):\n    pass\n")
    result = pytester.runpytest(f"--mlinfra-stack={small_stack}", "--junitxml=junit.xml", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["mlinfra::cost-tags PASSED*"])
    cases = ET.parse(pytester.path / "junit.xml").getroot().iter("testcase")
    names = {(c.get("classname"), c.get("name")) for c in cases}
    assert names == {("test_session_checks_have_readable_names", "test_one"), ("mlinfra", "cost-tags")}
