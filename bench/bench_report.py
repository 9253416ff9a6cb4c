"""How big is the HTML report, how long does it take to write, and how long to render in a browser?

Starts from the real JSON report of tests/unit/data (a failed run of the bundled stack), scales its
test rows to ``--tests`` (copies, one in ten failing, each failing row with its traceback and log
tail) and adds ``--history`` earlier runs. For each size it times ``render_html`` (plots included)
and, in headless Chromium, the time from navigation start to a laid-out page (a probe script in a
copy of the file forces layout and reads ``performance.now()``), plus the wall time of a full
screenshot against a baseline measured in the same run: the same Chromium on an empty page.
Writes ``bench/results/bench_report.json``.

    python bench/bench_report.py [--tests 4,200,1000] [--history 30] [--repeat 3]
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from pytest_mlinfra.report.history import History, point
from pytest_mlinfra.report.html import render_html

RESULTS = Path(__file__).parent / "results"
REPORT = Path(__file__).parents[1] / "tests" / "unit" / "data" / "report_failed_run.json"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking")
PROBE = (
    "<script>document.body.getBoundingClientRect();"
    "document.body.setAttribute('data-layout-ms', performance.now().toFixed(1));</script>"
)


def scaled(report: dict[str, Any], tests: int) -> dict[str, Any]:
    """The report with ``tests`` rows: copies of its own, one in ten a copy of a failing row."""
    summary = copy.deepcopy(report)
    failing = [t for t in report["tests"] if t["outcome"] == "failed"]
    passing = [t for t in report["tests"] if t["outcome"] == "passed"]
    rows = []
    for i in range(tests):
        source = failing[i % len(failing)] if failing and i % 10 == 0 else passing[i % len(passing)]
        rows.append({**source, "test": f"{source['test']}[{i}]"})
    summary["tests"] = rows
    return summary


def history(report: dict[str, Any], runs: int) -> History:
    points = []
    for i in range(runs):
        earlier = copy.deepcopy(report)
        earlier["generated"] = f"2026-11-{1 + i % 28:02d}T02:00:00Z"
        earlier["stages_s"]["apply"] = report["stages_s"]["apply"] * (0.8 + 0.02 * i)
        points.append(point(earlier, f"nightly-{i}.json"))
    return History(points=[*points, point(report)])


def best(fn: Any, repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def chromium(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()]
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)


def browser(html: str, work: Path, repeat: int) -> dict[str, float]:
    page, probed, shot = work / "report.html", work / "probed.html", work / "shot.png"
    page.write_text(html)
    probed.write_text(html.replace("</body>", PROBE + "</body>"))
    layouts = []
    for _ in range(repeat):
        dom = chromium(probed, work / "profile", "--dump-dom").stdout
        layouts.append(float(re.search(r'data-layout-ms="([\d.]+)"', dom).group(1)))  # type: ignore[union-attr]
    shot_s, _ = best(
        lambda: chromium(page, work / "profile", f"--screenshot={shot}", "--window-size=1280,1600"), repeat
    )
    return {
        "layout_ms": round(min(layouts), 1),
        "layout_median_ms": statistics.median(layouts),
        "shot_s": shot_s,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", default="4,200,1000")
    parser.add_argument("--history", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    report = json.loads(REPORT.read_text())
    trend = history(report, args.history)
    result: dict[str, Any] = {"python": platform.python_version(), "machine": platform.machine(), "sizes": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        empty = "<!DOCTYPE html><html><head><title>x</title></head><body></body></html>"
        if CHROMIUM:
            browser(empty, work, 1)  # warm-up: the first start fills the profile and the disk cache
            baseline = browser(empty, work, args.repeat)
        for tests in (int(n) for n in args.tests.split(",")):
            summary = scaled(report, tests)
            render_s, html = best(lambda s=summary: render_html(s, trend), args.repeat)
            row: dict[str, Any] = {
                "tests": tests,
                "history_runs": len(trend.points),
                "html_bytes": len(html.encode()),
                "json_bytes": len(json.dumps(summary, indent=2)),
                "render_html_s": round(render_s, 3),
            }
            if CHROMIUM:
                seen = browser(html, work, args.repeat)
                row |= {
                    "chromium_layout_ms": seen["layout_ms"],
                    "chromium_screenshot_s": round(seen["shot_s"], 3),
                }
            result["sizes"].append(row)
        if CHROMIUM:  # the baseline again after the reports, the better of the two (a loaded machine)
            again = browser(empty, work, args.repeat)
            baseline = {k: min(v, again[k]) for k, v in baseline.items()}
            result["baseline_empty_page"] = {k: round(v, 3) for k, v in baseline.items()}
            for row in result["sizes"]:
                row["screenshot_ratio_to_empty_page"] = round(
                    row["chromium_screenshot_s"] / baseline["shot_s"], 2
                )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_report.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
