"""The reports of one real run: live progress lines, the JSON summary, and the HTML report opened in
a real headless Chromium (a screenshot, the DOM checked for every section and plot, and the test
filter clicked in the browser).

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
from html import unescape
from pathlib import Path

import pytest

from pytest_mlinfra.ner.strategies import FAMOUS_NAMES

pytestmark = pytest.mark.slow

TOY_HANDLER = Path(__file__).parents[1] / "flow" / "toy_handler.py"
EARLIER_REPORT = Path(__file__).parents[1] / "unit" / "data" / "report_failed_run.json"
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

# Appended to a copy of the report (the report itself has no script): clicks a filter's label, as a
# user does, and writes which test rows the browser then lays out into the DOM that --dump-dom prints.
FILTER_PROBE = """<script>
function shown() {
  return [...document.querySelectorAll("#tests tbody tr")]
    .filter(row => row.getClientRects().length > 0)
    .map(row => row.className + " " + row.querySelector("code").textContent);
}
const seen = {initial: shown()};
for (const name of ["failed", "passed", "all"]) {
  document.querySelector(`label[for="show-${name}"]`).click();
  seen[name] = shown();
}
document.body.setAttribute("data-probe", JSON.stringify(seen));
</script>"""
CI_ENV = {
    "GITHUB_SERVER_URL": "https://github.example",
    "GITHUB_REPOSITORY": "team/ml-stack",
    "GITHUB_RUN_ID": "4242",
    "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
}


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
    earlier = repo / "history"
    earlier.mkdir()
    shutil.copy(EARLIER_REPORT, earlier / "nightly-1.json")
    (earlier / "notes.json").write_text("[]")  # not a report: skipped with a note
    command = [
        sys.executable,
        "-m",
        "pytest",
        "--mlinfra-examples=10",
        "--mlinfra-json=out/report.json",
        "--mlinfra-report-history=history/*.json",
        "--mlinfra-report-history=out/report.json",  # this run's own: not counted twice
    ]
    started = time.perf_counter()
    env = {**os.environ, **CI_ENV}
    proc = subprocess.run(
        [*command, "-p", "no:cacheprovider"], cwd=repo, capture_output=True, text=True, timeout=600, env=env
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
    assert not any(line.startswith("mlinfra: property ") for line in lines), "a pipe: not between results"
    section = reported_run.stdout.split(" mlinfra ===", 1)[1]  # the plugin's terminal summary
    assert "\nproperty test_spans_match_the_input: 10 examples\n" in section, section
    restarts = [line for line in reported_run.lines if line.startswith("test_properties.py ")]
    assert len(restarts) <= 3, f"pytest's progress line was broken {len(restarts)} times: {restarts}"


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
    fetches = re.findall(r"""src\s*=\s*["'](?!#|data:)|url\((?!#|data:)|@import""", html)
    assert fetches == [], "self-contained: nothing is fetched"
    links = re.findall(r"""href\s*=\s*["'](?!#)([^"']*)""", html)  # "#...": the SVGs' own references
    assert links and all(link.startswith(CI_ENV["GITHUB_SERVER_URL"]) for link in links), links
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
    sections = ("summary", "tests", "timeline", "latency", "properties", "cost-tags", "datasync", "cost")
    for section in (*sections, "history", "environment"):
        assert f'<section id="{section}">' in dom, section
    for plot in ("timeline", "latency", "cost", "history"):
        start = dom.index(f'<figure id="plot-{plot}"')
        assert "<svg" in dom[start : start + 400], plot
    assert "FAILED" in dom and "test_names_are_short" in dom and "sample=" in dom
    assert "100,000,000" in dom and "us-east-1" in dom
    assert f"mlinfra: HTML report {report} (" in reported_run.stdout
    if os.environ.get("MLINFRA_KEEP_REPORT"):
        shutil.copytree(out, os.environ["MLINFRA_KEEP_REPORT"], dirs_exist_ok=True)


def test_json_report_has_every_test_and_the_environment(reported_run: ReportedRun) -> None:
    summary = json.loads((reported_run.out / "report.json").read_text())
    tests = {t["test"].split("::")[-1]: t for t in summary["tests"]}
    checks = {"cost-tags", "latency-budget"}  # the session checks are rows too (mlinfra::...)
    assert set(tests) == {"test_spans_match_the_input", "test_names_are_short", *checks}
    failing = tests["test_names_are_short"]
    assert failing["outcome"] == "failed" and failing["message"].startswith("assert ")
    assert "AssertionError" in failing["traceback"] or "assert" in failing["traceback"]
    (log,) = failing["log_tails"]  # the property failed on an answer, so: its last invocation's log
    assert "REPORT RequestId:" in log["log"] and log["function"].startswith("mlinfra-")
    assert tests["test_spans_match_the_input"]["traceback"] == ""
    env = summary["environment"]
    assert env["python"].split()[1] == ".".join(map(str, sys.version_info[:3]))
    assert env["packages"]["hypothesis"] and env["packages"]["pytest-mlinfra"]
    assert env["terraform"] == summary["run"]["terraform"] and "Terraform 1." in env["terraform"]
    assert re.match(r"hashicorp/aws \d+\.\d+\.\d+ from ", env["provider"]), env["provider"]
    assert env["git"] == {}, "the user repo here is not a git repository"
    assert env["ci"]["run_url"] == "https://github.example/team/ml-stack/actions/runs/4242"
    assert "mlinfra: report history: skipped " in reported_run.stdout and "notes.json" in reported_run.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)")
def test_failing_row_and_filter_in_headless_chromium(reported_run: ReportedRun, tmp_path: Path) -> None:
    html = (reported_run.out / "report.html").read_text()
    probed = tmp_path / "probed.html"
    probed.write_text(html.replace("</body>", FILTER_PROBE + "</body>"))
    profile = tmp_path / "profile"
    profile.mkdir()
    dom = subprocess.run(
        [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", probed.as_uri()],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HOME": str(tmp_path)},
    ).stdout
    seen = json.loads(unescape(re.search(r'data-probe="([^"]*)"', dom).group(1)))  # type: ignore[union-attr]
    failing = ["test o-failed test_properties.py::test_names_are_short"]
    passing = [
        "test o-passed test_properties.py::test_spans_match_the_input",
        "test o-passed mlinfra::cost-tags",
        "test o-passed mlinfra::latency-budget",
    ]
    assert seen["initial"] == failing + passing, "every test a row, failures first"
    assert seen["failed"] == failing, "the 'failed' filter hides the passed rows"
    assert seen["passed"] == passing
    assert seen["all"] == failing + passing, "'all' shows every row again"
    row = dom[dom.index('<tr class="test o-failed">') :]
    row = row[: row.index("</tr>")]
    assert "test_names_are_short" in row and "assert " in row
    assert "<summary>traceback</summary>" in row and "Lambda log tail (mlinfra-" in row
    assert "REPORT RequestId:" in row
    header = dom[dom.index("<header") : dom.index("</header>")]
    assert 'href="https://github.example/team/ml-stack/actions/runs/4242"' in header
    assert ">0123456789ab</a>" in header
