"""``mlinfra-audit``: exit codes 0/1/2, formats, config, and one clear stderr line for every bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import boto3
import pytest

from pytest_mlinfra.audit.cli import main
from pytest_mlinfra.emulator import EmbeddedAWS
from pytest_mlinfra.ports import free_port

DATA = Path(__file__).parent / "data"
BLOGPOST = DATA / "blogpost"
PLAN = DATA / "planstack" / "plan.json"
STATE = DATA / "planstack" / "state.json"


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("mlinfra-audit: error: ")
    assert "Traceback" not in captured.err
    return lines[0]


@pytest.fixture(autouse=True)
def _no_project_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Run from an empty directory so the repository's own pyproject.toml is not picked up."""
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)


def test_static_blog_post_exit_1_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(BLOGPOST)]) == 1
    out = capsys.readouterr().out
    assert "aws_efs_file_system.model_efs: missing: missing tag(s) Name, Environment" in out
    assert "aws_efs_mount_target.model_target: not-taggable" in out
    assert out.splitlines()[-1].startswith("mlinfra-audit: 4 finding(s) on 4 resource(s)")


def test_clean_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main([str(BLOGPOST), "--config", str(write_config("exempt = ['aws_efs_*', 'aws_datasync_*']"))]) == 0
    )
    assert "no findings" in capsys.readouterr().out


def test_plan_json_format(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(PLAN), "--format", "json", "--require", "Name"]) == 1
    doc = json.loads(capsys.readouterr().out)
    got = {(f["address"], f["kind"], tuple(f["keys"])) for f in doc["findings"]}
    assert got == {
        ("aws_s3_bucket.logs", "missing", ("Name",)),
        ("module.store.aws_s3_bucket.artifacts", "missing", ("Name",)),
        ("aws_s3_bucket.derived[0]", "undecidable", ("Name",)),
    }


def test_junit_to_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "audit.xml"
    assert main([str(STATE), "--format", "junit", "--output", str(report)]) == 1
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "2"
    assert capsys.readouterr().out.startswith("mlinfra-audit: 2 finding(s)")


def write_config(body: str) -> Path:
    config = Path("pyproject.toml")
    config.write_text(f"[tool.mlinfra-audit]\n{body}\n")
    return config


def test_config_file_and_require_override(capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(
        "require = ['Name', 'Environment']\n[tool.mlinfra-audit.allowed]\nEnvironment = ['prod']"
    )
    assert main([str(STATE), "--config", str(config), "--format", "json"]) == 1
    kinds = {f["kind"] for f in json.loads(capsys.readouterr().out)["findings"]}
    assert kinds == {"missing", "bad-value"}
    # picked up from the current directory without --config, and --require wins over the file
    assert main([str(STATE), "--require", "Project", "--format", "json"]) == 1
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert {f["kind"] for f in findings} == {"bad-value"}


def test_schema_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"provider_schemas": {"aws": {"resource_schemas": {
        "aws_efs_mount_target": {"block": {"attributes": {"tags": {}}}},
    }}}}))  # fmt: skip
    assert main([str(BLOGPOST), "--schema", str(schema), "--format", "json"]) == 1
    kinds = {(f["address"], f["kind"]) for f in json.loads(capsys.readouterr().out)["findings"]}
    # with this (made-up) schema the mount target is taggable and properly tagged; the other types unknown
    assert ("aws_efs_mount_target.model_target", "not-taggable") not in kinds


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (lambda p: p.joinpath("main.tf").write_text('resource "x" {'), "cannot parse"),
        (lambda p: p.joinpath("plan.json").write_text('{"hello": 1}'), "not a Terraform plan or state"),
        (lambda p: p.joinpath("plan.json").write_text("{not json"), "is not valid JSON"),
        (lambda p: p.joinpath("plan.json").write_text("[1, 2]"), "not a JSON object"),
        (lambda p: None, "does not exist"),
    ],
    ids=["bad-hcl", "not-a-plan", "bad-json", "json-list", "missing-path"],
)
def test_bad_input_exit_2_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setup: object, expected: str
) -> None:
    stack = tmp_path / "in"
    stack.mkdir()
    setup(stack)  # type: ignore[operator]
    target = stack / "plan.json" if (stack / "plan.json").exists() else stack
    if expected == "does not exist":
        target = stack / "nowhere"
    assert main([str(target)]) == 2
    assert expected in one_error_line(capsys)


def test_bad_config_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config("pattern = { Name = '([' }")
    assert main([str(STATE), "--config", str(config)]) == 2
    assert "not a valid regex" in one_error_line(capsys)


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "give a PATH" in capsys.readouterr().err
    assert main([str(STATE), "--format", "yaml"]) == 2
    assert "invalid choice" in capsys.readouterr().err
    assert main(["--help"]) == 0
    assert "--tag-filter" in capsys.readouterr().out


@pytest.fixture
def dummy_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("dummy_credentials")
def test_live_against_the_emulator(capsys: pytest.CaptureFixture[str]) -> None:
    with EmbeddedAWS() as aws:
        s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=aws.endpoint_url)
        s3.create_bucket(Bucket="audit-cli-bucket")
        s3.put_bucket_tagging(
            Bucket="audit-cli-bucket",
            Tagging={"TagSet": [{"Key": "Name", "Value": "b"}, {"Key": "Run", "Value": "r1"}]},
        )
        args = [
            "--live",
            "--endpoint-url",
            aws.endpoint_url,
            "--region",
            "us-east-1",
            "--tag-filter",
            "Run=r1",
        ]
        assert main([*args, "--format", "json"]) == 1
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert {(f["address"], f["kind"], tuple(f["keys"])) for f in findings} == {
        ("arn:aws:s3:::audit-cli-bucket", "missing", ("Environment",))
    }


def test_live_without_credentials_exit_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with EmbeddedAWS() as aws:
        assert main(["--live", "--endpoint-url", aws.endpoint_url, "--region", "us-east-1"]) == 2
    assert "no AWS credentials" in one_error_line(capsys)


@pytest.mark.usefixtures("dummy_credentials")
def test_live_unreachable_endpoint_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--live", "--endpoint-url", f"http://127.0.0.1:{free_port()}", "--region", "us-east-1"]) == 2
    line = one_error_line(capsys)
    assert "cannot reach" in line and "--endpoint-url" in line


@pytest.mark.usefixtures("dummy_credentials")
def test_bad_tag_filter_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--live", "--tag-filter", "=x"]) == 2
    assert "has no key" in one_error_line(capsys)


def test_console_script_subprocess(tmp_path: Path) -> None:
    script = shutil.which("mlinfra-audit", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("mlinfra-audit console script not installed in this environment")
    proc = subprocess.run(
        [script, str(BLOGPOST), "--format", "json"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["summary"]["missing"] == 3 and doc["summary"]["not-taggable"] == 1
    bad = subprocess.run(
        [script, str(tmp_path / "missing.json")], capture_output=True, text=True, check=False
    )
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and bad.stderr.startswith("mlinfra-audit: error: ")
