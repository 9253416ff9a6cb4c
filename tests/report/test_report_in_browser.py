"""The reports of one real run: live progress lines, the JSON summary, and the HTML report opened in
a real headless Chromium (a screenshot, and the DOM checked for every section and plot).

One session on the bundled stack (EFS, DataSync, the toy handler under awslambdaric) serves every
check here, to keep the suite lean; one of its properties fails on purpose, so the report must show
a shrunk counterexample.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_mlinfra.ner.strategies import FAMOUS_NAMES

pytestmark = pytest.mark.slow

TOY_HANDLER = Path(__file__).parents[1] / "flow" / "toy_handler.py"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
)
PROPERTIES = '''
from hypothesis import given, strategies as st
from pytest_mlinfra.hypothesis_profile import remote_settings
from pytest_mlinfra.ner.properties import span_violations
from pytest_mlinfra.ner.strategies import named_sentences


def test_spans_match_the_input(ner_predictor):
    @remote_settings()
    @given(sample=named_sentences())
    def check(sample):
        assert span_violations(sample.text, ner_predictor(sample.text)) == []

    check()


def test_names_are_short(ner_predictor):
    """Fails on purpose: some famous names are longer than 12 characters."""

    @remote_settings()
    @given(sample=named_sentences())
    def check(sample):
        assert all(len(e["text"]) <= 12 for e in ner_predictor(sample.text))

    check()
'''


@dataclass
class ReportedRun:
    stdout: str
    out: Path
    seconds: float

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()


@pytest.fixture(scope="module")
def reported_run(tmp_path_factory: pytest.TempPathFactory) -> ReportedRun:
    """A user's repo (toy handler, two properties) run in a fresh pytest process, as a user runs it."""
    repo = tmp_path_factory.mktemp("user_repo")
    handler = repo / "handler"
    handler.mkdir()
    (handler / "model.py").write_text(TOY_HANDLER.read_text())
    (handler / "model.pt").write_text(json.dumps({"names": list(FAMOUS_NAMES)}))
    (repo / "pytest.ini").write_text(
        "[pytest]\n"
        "mlinfra_handler_dir = handler\n"
        "mlinfra_model = handler/model.pt\n"
        "mlinfra_package_include = model.py\n"
        "mlinfra_report = out/report.html\n"
    )
    (repo / "test_properties.py").write_text(PROPERTIES)
    command = [sys.executable, "-m", "pytest", "--mlinfra-examples=10", "--mlinfra-json=out/report.json"]
    started = time.perf_counter()
    proc = subprocess.run(
        [*command, "-p", "no:cacheprovider"], cwd=repo, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]  # one property fails on purpose
    return ReportedRun(proc.stdout, repo / "out", time.perf_counter() - started)


def test_progress_lines_come_from_terraform_and_the_sync(reported_run: ReportedRun) -> None:
    assert "\r" not in reported_run.stdout, "not a TTY: plain lines, no carriage returns"
    lines = [line for line in reported_run.lines if line.startswith("mlinfra: ")]
    applied = [line for line in lines if line.startswith("mlinfra: apply ")]
    total = int(applied[0].split()[2].split("/")[1])
    assert total >= 15 and len(applied) == total, "one line per resource, counted against the plan"
    assert applied[-1].startswith(f"mlinfra: apply {total}/{total} ")
    mount = next(line for line in applied if " aws_efs_mount_target.models[0] " in line)
    assert mount.endswith(" s")
    assert any(line.startswith(f"mlinfra: destroy {total}/{total} ") for line in lines)
    assert any(line.startswith("mlinfra: upload model.pt ") and "MB/" in line for line in lines)
    assert any(line.startswith("mlinfra: sync DataSync SUCCESS ") for line in lines)
    examples = [line for line in lines if line.startswith("mlinfra: property ")]
    assert any("test_spans_match_the_input: 10 examples" in line for line in examples), examples


def test_progress_respects_quiet_and_no_terminal(pytester: pytest.Pytester, small_stack: Path) -> None:
    pytester.makepyfile("def test_one(mlinfra_stack):\n    pass\n")
    quiet = pytester.runpytest(f"--mlinfra-stack={small_stack}", "-q", "--mlinfra-no-audit")
    quiet.assert_outcomes(passed=1)
    assert "mlinfra: apply" not in quiet.stdout.str()
    silent = pytester.runpytest(f"--mlinfra-stack={small_stack}", "-p", "no:terminal", "--mlinfra-no-audit")
    assert silent.ret == 0 and "mlinfra: apply" not in silent.stdout.str()
    normal = pytester.runpytest(f"--mlinfra-stack={small_stack}", "--mlinfra-no-audit")
    normal.stdout.fnmatch_lines(["mlinfra: apply 1/1 aws_s3_bucket.this * s", "mlinfra: destroy 1/1 *"])


def test_json_summary_has_the_figures(reported_run: ReportedRun) -> None:
    out = reported_run.out
    summary = json.loads((out / "report.json").read_text())
    assert summary["run"]["verdict"] == "FAILED" and summary["run"]["target"] == "local"
    assert {"init", "apply", "sync", "tests", "destroy", "total"} <= summary["stages_s"].keys()
    resources = summary["timeline"]["resources"]
    assert {r["action"] for r in resources} == {"create", "delete"}
    properties = {p["test"].split("::")[-1]: p for p in summary["properties"]}
    assert properties["test_spans_match_the_input"]["outcome"] == "passed"
    assert properties["test_spans_match_the_input"]["examples"] == 10
    failing = properties["test_names_are_short"]
    assert failing["outcome"] == "failed" and "sample=" in failing["counterexample"]
    assert summary["latency"]["samples"] and summary["latency"]["summary"]["p50"] > 0
    assert summary["cost_tags"]["findings"] == [] and len(summary["cost_tags"]["resources"]) >= 15
    assert summary["datasync"]["status"] == "SUCCESS" and summary["datasync"]["bytes_transferred"] > 0
    cost = summary["cost"]
    assert [d["documents"] for d in cost["documents"]] == [1_000_000, 100_000_000]
    first, second = cost["documents"]
    assert second["total_usd"] == pytest.approx(100 * first["total_usd"])
    assert cost["prices"]["region"] == "us-east-1" and "us-east-1" in cost["assumptions"]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)")
def test_html_report_in_headless_chromium(reported_run: ReportedRun, tmp_path: Path) -> None:
    out = reported_run.out
    report = out / "report.html"
    html = report.read_text()
    fetches = re.findall(r"""(?:src|href)\s*=\s*["'](?!#|data:)|url\((?!#|data:)|@import""", html)
    assert fetches == [], "self-contained: nothing is fetched"
    assert "<script" not in html and "<link" not in html
    profile = tmp_path / "profile"
    profile.mkdir()
    base = [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}"]
    env = {**os.environ, "HOME": str(tmp_path)}
    shot = out / "report.png"
    subprocess.run(
        [*base, f"--screenshot={shot}", "--window-size=1280,1600", report.as_uri()],
        check=True, capture_output=True, timeout=120, env=env,
    )  # fmt: skip
    assert shot.stat().st_size > 20_000, "a real rendering, not a blank page"
    dom = subprocess.run(
        [*base, "--dump-dom", report.as_uri()],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    ).stdout
    for section in ("summary", "timeline", "latency", "properties", "cost-tags", "datasync", "cost"):
        assert f'<section id="{section}">' in dom, section
    for plot in ("timeline", "latency", "cost"):
        start = dom.index(f'<figure id="plot-{plot}"')
        assert "<svg" in dom[start : start + 400], plot
    assert "FAILED" in dom and "test_names_are_short" in dom and "sample=" in dom
    assert "100,000,000" in dom and "us-east-1" in dom
    assert f"mlinfra: HTML report {report} (" in reported_run.stdout
    if os.environ.get("MLINFRA_KEEP_REPORT"):
        shutil.copytree(out, os.environ["MLINFRA_KEEP_REPORT"], dirs_exist_ok=True)
