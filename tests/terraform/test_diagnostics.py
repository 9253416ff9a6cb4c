"""Terraform diagnostics to one line: file:line, the summary, the whole detail sentence."""

from __future__ import annotations

from pytest_mlinfra.terraform.diagnostics import first_error, from_validate_json

# What `terraform init` (1.11) prints for a configuration with a missing brace.
INIT_SYNTAX_ERROR = """
Initializing the backend...

Error: Terraform encountered problems during initialisation, including problems
with the configuration, described below.

The Terraform configuration must be valid before initialization so that
Terraform can determine which modules and providers need to be installed.


Error: Unclosed configuration block

  on main.tf line 6, in resource "aws_s3_bucket" "b":
   6: resource "aws_s3_bucket" "b" {

There is no closing brace for this block before the end of the file. This may
be caused by incorrect brace nesting elsewhere in this file.
"""

PLAN_ERROR = """
│ Error: expected acl to be one of [private public-read], got bogus
│
│   with aws_s3_bucket.this,
│   on main.tf line 40, in resource "aws_s3_bucket" "this":
│   40:   acl = var.acl
│
╵
"""


def test_init_syntax_error_keeps_file_line_and_the_whole_detail() -> None:
    assert first_error(INIT_SYNTAX_ERROR) == (
        "main.tf:6: Unclosed configuration block: There is no closing brace for this block before the "
        "end of the file. This may be caused by incorrect brace nesting elsewhere in this file"
    )


def test_boxed_plan_error_with_location_and_no_detail() -> None:
    assert first_error(PLAN_ERROR) == "main.tf:40: expected acl to be one of [private public-read], got bogus"


def test_output_without_error_blocks_gives_its_last_line() -> None:
    assert first_error("something\nwent wrong\n") == "went wrong"


def test_validate_json_errors_only() -> None:
    raw = (
        '{"diagnostics": [{"severity": "warning", "summary": "w"}, {"severity": "error", "summary": '
        '"Unsupported argument", "detail": "An argument named \\"foo\\" is not expected here.", '
        '"range": {"filename": "modules/x/main.tf", "start": {"line": 3}}}]}'
    )
    assert [d.one_line() for d in from_validate_json(raw)] == [
        'modules/x/main.tf:3: Unsupported argument: An argument named "foo" is not expected here'
    ]
