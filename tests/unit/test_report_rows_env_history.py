"""The HTML report's test rows, environment, CI links and history, drawn from a real JSON report.

``data/report_failed_run.json`` is the ``--mlinfra-json`` of a real run of
tests/report/test_report_in_browser.py (bundled stack on the local target, one property failing on
purpose, GitHub Actions variables set), so these checks read what the plugin really writes.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pytest_mlinfra.function import Invocation
from pytest_mlinfra.latency import Sample
from pytest_mlinfra.report import history as history_mod
from pytest_mlinfra.report.environment import ci_links, environment, git_commit, package_versions
from pytest_mlinfra.report.history import load_history, point
from pytest_mlinfra.report.html import render_html
from pytest_mlinfra.report.results import LOG_TAILS, TRACEBACK_LINES, SessionResults
from pytest_mlinfra.settings import declarations, resolve

REPORT = Path(__file__).parent / "data" / "report_failed_run.json"
FAILING = "test_properties.py::test_names_are_short"


@pytest.fixture
def report() -> dict[str, Any]:
    return json.loads(REPORT.read_text())


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr class="test (o-\w+)">.*?<code>([^<]*)</code>', html)


def test_every_test_is_a_row_failures_first(report: dict[str, Any]) -> None:
    html = render_html(report)
    rows = _rows(html)
    assert sorted(name for _, name in rows) == sorted(t["test"] for t in report["tests"])
    assert rows[0] == ("o-failed", FAILING) and all(group == "o-passed" for group, _ in rows[1:])
    assert 'id="show-failed"' in html and '<label for="show-failed">failed 1</label>' in html
    assert f'<label for="show-all">all {len(report["tests"])}</label>' in html


def test_failing_row_has_message_traceback_and_log_tail(report: dict[str, Any]) -> None:
    html = render_html(report)
    row = html[html.index('<tr class="test o-failed">') :]
    row = row[: row.index("</tr>")]
    failing = next(t for t in report["tests"] if t["test"] == FAILING)
    assert failing["message"] and failing["message"] in row
    assert "<details open><summary>traceback</summary>" in row and "AssertionError" in row
    assert "Lambda log tail (mlinfra-" in row and "REPORT RequestId:" in row
    passed = html[html.index('<tr class="test o-passed">') :]
    assert "<details" not in passed[: passed.index("</tr>")], "a passed row carries no traceback"


def test_environment_table_and_ci_links(report: dict[str, Any]) -> None:
    html = render_html(report)
    env = html[html.index('<section id="environment">') :]
    env = env[: env.index("</section>")]
    assert f"<td>{report['environment']['python']}</td>" in env
    assert "<td>hypothesis</td>" in env and "Terraform 1." in env and "hashicorp/aws" in env
    assert "not in a git repository" in env
    header = html[: html.index("</header>")]
    assert '<a href="https://github.example/team/ml-stack/actions/runs/4242">GitHub Actions run</a>' in header
    assert ">0123456789ab</a>" in header


def test_no_ci_no_links(report: dict[str, Any]) -> None:
    report["environment"]["ci"] = {}
    report["environment"]["git"] = {"sha": "feedbeef" * 5, "branch": "main"}
    html = render_html(report)
    assert "<a " not in html
    assert '<p id="ci">commit feedbeeffeed</p>' in html


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {
                "GITHUB_SERVER_URL": "https://github.com",
                "GITHUB_REPOSITORY": "o/r",
                "GITHUB_RUN_ID": "7",
                "GITHUB_SHA": "abc",
            },
            {
                "ci": "GitHub Actions",
                "run_url": "https://github.com/o/r/actions/runs/7",
                "sha": "abc",
                "commit_url": "https://github.com/o/r/commit/abc",
            },
        ),
        (
            {
                "GITLAB_CI": "true",
                "CI_JOB_URL": "https://gitlab.com/g/p/-/jobs/9",
                "CI_COMMIT_SHA": "def",
                "CI_PROJECT_URL": "https://gitlab.com/g/p",
            },
            {
                "ci": "GitLab CI",
                "run_url": "https://gitlab.com/g/p/-/jobs/9",
                "sha": "def",
                "commit_url": "https://gitlab.com/g/p/-/commit/def",
            },
        ),
        ({"CI": "true"}, {}),
    ],
)
def test_ci_links(env: dict[str, str], expected: dict[str, str]) -> None:
    assert ci_links(env) == expected


def test_git_commit_of_the_cwd_repo(tmp_path: Path) -> None:
    assert git_commit(tmp_path) == {}
    run = {"cwd": tmp_path, "check": True, "capture_output": True}
    subprocess.run(["git", "init", "-q", "-b", "nightly"], **run)  # type: ignore[call-overload]
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "--allow-empty", "-m", "x"],
        **run,
    )  # type: ignore[call-overload]
    sha = subprocess.run(["git", "rev-parse", "HEAD"], text=True, **run).stdout.strip()  # type: ignore[call-overload]
    assert git_commit(tmp_path) == {"sha": sha, "branch": "nightly"}
    env = environment({"terraform": "Terraform 1.11.4", "provider": "hashicorp/aws 5.100.0"}, tmp_path)
    assert env["git"]["sha"] == sha and env["terraform"] == "Terraform 1.11.4"
    assert "pytest" in package_versions() and "no-such-dist" not in package_versions(("no-such-dist",))


def _invocation(log: str, error: str | None = None, payload: Any = None) -> Invocation:
    return Invocation(payload or {"entities": []}, Sample(client_ms=1.0), error, log, "fn")


def test_rows_record_traceback_and_failing_log_tails() -> None:
    from pytest_mlinfra.function import INVOCATION_OBSERVERS

    results = SessionResults()
    with results.observing("t.py::crashes"):
        for i in range(LOG_TAILS + 2):
            for observer in INVOCATION_OBSERVERS:
                observer(_invocation(f"crash {i}", error="Unhandled"))
        for observer in INVOCATION_OBSERVERS:
            observer(_invocation("fine"))
            observer(_invocation("structured", payload={"error": {"type": "BadInput"}}))
    assert INVOCATION_OBSERVERS == [], "the observer goes when the test ends"
    long_report = "\n".join(f"line {i}" for i in range(100)) + "\nE   assert 1 == 2\nt.py:3: AssertionError"
    results.record("t.py::crashes", "call", "failed", 0.5, long_report)
    row = results.results["t.py::crashes"].to_dict()
    assert [t["log"] for t in row["log_tails"]] == ["crash 3", "crash 4", "structured"], "the last 3 failing"
    assert row["log_tails"][-1]["error"] == "error payload"
    assert row["message"] == "assert 1 == 2"
    assert row["traceback"].startswith("...\n") and row["traceback"].endswith("AssertionError")
    assert len(row["traceback"].splitlines()) == TRACEBACK_LINES + 1

    with results.observing("t.py::wrong_answer"):
        for observer in INVOCATION_OBSERVERS:
            observer(_invocation("the last one"))
    results.record("t.py::wrong_answer", "call", "failed", 0.1, "E   assert False")
    (tail,) = results.results["t.py::wrong_answer"].to_dict()["log_tails"]
    assert tail["log"] == "the last one" and "none failed" in tail["error"]
    results.record("t.py::ok", "call", "passed", 0.1, "")
    assert results.results["t.py::ok"].to_dict()["traceback"] == ""


def _earlier(
    report: dict[str, Any], generated: str, apply_s: float, p95: float, run_id: str
) -> dict[str, Any]:
    earlier = copy.deepcopy(report)
    earlier["generated"] = generated
    earlier["run"]["run_id"] = run_id
    earlier["stages_s"]["apply"] = apply_s
    earlier["latency"]["summary"]["p95"] = p95
    earlier["run"]["tests"] = {"passed": 4}
    return earlier


def test_history_points_from_json_reports(report: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "b.json").write_text(json.dumps(_earlier(report, "2026-12-02T02:00:00Z", 40.0, 90.0, "r2")))
    (tmp_path / "a.json").write_text(json.dumps(_earlier(report, "2026-12-01T02:00:00Z", 50.0, 80.0, "r1")))
    (tmp_path / "this.json").write_text(json.dumps(report))  # the run's own JSON, matched by the glob
    (tmp_path / "broken.json").write_text("{")
    (tmp_path / "list.json").write_text("[]")
    loaded = load_history((str(tmp_path / "*.json"), str(tmp_path / "a.json")), report)
    assert [p["run_id"] for p in loaded.points] == ["r1", "r2", report["run"]["run_id"]]
    assert [p["apply_s"] for p in loaded.points[:2]] == [50.0, 40.0]
    assert loaded.points[0]["pass_rate"] == 100.0 and loaded.points[-1]["source"] == "this run"
    assert sorted(Path(line.split(":")[0]).name for line in loaded.skipped) == ["broken.json", "list.json"]
    current = point(report)
    assert current["apply_s"] == report["stages_s"]["apply"]
    assert current["p95_ms"] == report["latency"]["summary"]["p95"]
    assert current["cost_per_million_usd"] == report["cost"]["documents"][0]["total_usd"]
    ran = sum(n for k, n in report["run"]["tests"].items() if k != "skipped")
    assert current["pass_rate"] == round(100 * report["run"]["tests"].get("passed", 0) / ran, 1)
    html = render_html(report, loaded)
    section = html[html.index('<section id="history">') :]
    assert '<figure id="plot-history"' in section and "<svg" in section
    assert "3 runs, oldest first" in section and "skipped " in section and "broken.json" in section


def test_history_without_earlier_reports(report: dict[str, Any], tmp_path: Path) -> None:
    assert "--mlinfra-report-history=GLOB" in render_html(report)
    alone = load_history((str(tmp_path / "none-*.json"),), report)
    assert [p["source"] for p in alone.points] == ["this run"]
    assert "no earlier report matched" in render_html(report, alone)
    assert history_mod.load_history((), report).points == []


def test_history_setting_resolves_against_the_ini_folder(tmp_path: Path) -> None:
    name, declaration = next((n, d) for n, d in declarations() if n == "report_history")
    assert declaration.option == "--mlinfra-report-history" and declaration.ini == "mlinfra_report_history"
    value = resolve(name, declaration, ["cli/*.json"], ["nightly/*.json"], ini_dir=tmp_path)
    assert value == (str(tmp_path / "nightly" / "*.json"), str(Path.cwd() / "cli" / "*.json"))
    assert resolve(name, declaration, None, None) == ()
