"""The HTML report: one self-contained file (inline CSS and SVG, no script, no link to anything), so
it opens offline, from a CI artifact or an e-mail, years later.

It is drawn from the JSON summary only (see :mod:`pytest_mlinfra.report.summary`): the same figures,
plus the trend over earlier JSON reports when some are given. The test filter is CSS only: radio
buttons whose ``:checked`` state hides the rows of other outcomes, so it works where scripts do not.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from pytest_mlinfra.report import plots
from pytest_mlinfra.report.history import FIGURES, History

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d1d1f;
background:#fafafa}
header{padding:18px 28px;color:#fff;background:#2d3a4a}
header.failed{background:#8e1b1b}header.passed{background:#1d5e34}
header h1{margin:0 0 4px;font-size:22px}header p{margin:2px 0;opacity:.92}
main{padding:8px 28px 40px;max-width:1180px}
section{background:#fff;border:1px solid #e3e3e3;border-radius:6px;margin:16px 0;padding:12px 18px}
h2{font-size:17px;margin:4px 0 10px}
table{border-collapse:collapse;margin:6px 0}td,th{border-bottom:1px solid #eee;padding:3px 10px 3px 0;
text-align:left;vertical-align:top}th{font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
.tiles{display:flex;flex-wrap:wrap;gap:10px}.tile{border:1px solid #e3e3e3;border-radius:6px;padding:8px 12px;
min-width:130px}.tile b{display:block;font-size:20px}.ok{color:#1d5e34}.bad{color:#8e1b1b;font-weight:600}
pre{background:#f4f4f4;padding:6px 8px;white-space:pre-wrap;margin:4px 0;font-size:12px}
.note{color:#555;font-size:12px}figure{margin:6px 0}figure svg{max-width:100%;height:auto}
header a{color:#fff}code{font-size:12px}#environment td:first-child{white-space:nowrap}
.filter{position:absolute;opacity:0}.filter+label{display:inline-block;border:1px solid #c8c8c8;
border-radius:14px;padding:1px 10px;margin:0 4px 8px 0;cursor:pointer;user-select:none}
.filter:checked+label{background:#2d3a4a;color:#fff;border-color:#2d3a4a}
.filter:focus-visible+label{outline:2px solid #4c72b0}
#show-failed:checked~table tbody tr:not(.o-failed),#show-passed:checked~table tbody tr:not(.o-passed),
#show-skipped:checked~table tbody tr:not(.o-skipped){display:none}
table.tests{width:100%}table.tests td:nth-child(2){overflow-wrap:anywhere;width:30%}
details{margin:3px 0}summary{cursor:pointer;color:#444;font-size:12px}
.st{font-weight:600}.o-failed .st{color:#8e1b1b}.o-passed .st{color:#1d5e34}.o-skipped .st{color:#8a6d00}
"""
_GROUP = {"failed": "failed", "error": "failed", "passed": "passed", "skipped": "skipped"}
_OPEN_TRACEBACKS = 3  # up to this many failures, their tracebacks are open on load


def _section(name: str, title: str, body: str) -> str:
    return f'<section id="{name}"><h2>{_e(title)}</h2>{body}</section>'


def _e(value: Any) -> str:
    return escape(str(value))


def _money(value: float) -> str:
    return f"${value:,.2f}" if value >= 0.01 or value == 0 else f"${value:.6f}"


def _table(header: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>" for i, c in enumerate(r))
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure(name: str, svg: str | None, caption: str) -> str:
    if svg is None:
        return f'<p class="note">{_e(caption)}: nothing measured in this run.</p>'
    caption_html = f'<figcaption class="note">{_e(caption)}</figcaption>'
    return f'<figure id="plot-{name}" class="plot">{svg}{caption_html}</figure>'


def _summary(s: dict[str, Any]) -> str:
    run = s["run"]
    stages = s["stages_s"]
    latency = (s.get("latency") or {}).get("summary", {})
    cost = s.get("cost") or {}
    docs = {d["documents"]: d for d in cost.get("documents", [])}
    tiles = [
        ("verdict", run["verdict"]),
        ("tests", ", ".join(f"{n} {k}" for k, n in sorted(run["tests"].items())) or "none"),
        ("total", f"{stages['total']:.1f} s" if "total" in stages else "-"),
        ("apply", f"{stages['apply']:.1f} s" if "apply" in stages else "-"),
        ("warm p50", f"{latency['p50']:.1f} ms" if "p50" in latency else "-"),
        ("100 M documents", _money(docs[100_000_000]["total_usd"]) if 100_000_000 in docs else "-"),
    ]
    tiles_html = "".join(f'<div class="tile"><span>{_e(k)}</span><b>{_e(v)}</b></div>' for k, v in tiles)
    rows = [
        [_e(k), _e(run.get(key, ""))]
        for k, key in (
            ("target", "target"),
            ("region", "region"),
            ("Terraform", "terraform"),
            ("provider", "provider"),
            ("stack", "stack"),
            ("run id", "run_id"),
        )
    ]
    failure = s.get("failure")
    failed = (
        f'<p class="bad">Stage <b>{_e(failure["stage"])}</b> failed: {_e(failure["reason"])}</p>'
        if failure
        else ""
    )
    return _section(
        "summary", "Run summary", f'{failed}<div class="tiles">{tiles_html}</div>{_table(["", ""], rows)}'
    )


def _timeline(s: dict[str, Any]) -> str:
    stages = s["stages_s"]
    table = _table(["stage", "seconds"], [[_e(k), f"{v:.2f}"] for k, v in stages.items()], {1})
    svg = plots.timeline_svg(s.get("timeline", {}))
    caption = "stages (blue) and each resource as Terraform's -json events reported it"
    return (
        f'<section id="timeline"><h2>Stage timeline</h2>{_figure("timeline", svg, caption)}{table}</section>'
    )


def _latency(s: dict[str, Any]) -> str:
    latency = s.get("latency") or {}
    summary = latency.get("summary", {})
    rows = [
        [_e(k), f"{v:.1f}", _e(latency.get("budgets_ms", {}).get(k, ""))]
        for k, v in summary.items()
        if k != "invokes"
    ]
    misses = latency.get("misses", [])
    verdict = (
        (
            '<p class="bad">' + _e("; ".join(misses)) + "</p>"
            if misses
            else '<p class="ok">within every budget</p>'
        )
        if summary
        else ""
    )
    caption = "client wall time per invoke; dashed lines: the latency budgets"
    table = _table(["figure", "ms", "budget ms"], rows, {1, 2}) if rows else ""
    figure = _figure("latency", plots.latency_svg(latency), caption)
    return _section("latency", "Latency distribution", figure + verdict + table)


def _properties(s: dict[str, Any]) -> str:
    rows = []
    for p in s.get("properties", []):
        outcome = f'<span class="{"ok" if p["outcome"] == "passed" else "bad"}">{_e(p["outcome"])}</span>'
        example = f"<pre>{_e(p['counterexample'])}</pre>" if p["counterexample"] else ""
        rows.append(
            [
                _e(p["test"].split("::")[-1]),
                outcome,
                str(p["examples"]),
                str(p["shrinks"]),
                example + _e(p["message"] if p["outcome"] != "passed" else ""),
            ]
        )
    body = (
        _table(["property", "outcome", "examples", "shrink steps", "shrunk counterexample"], rows, {2, 3})
        if rows
        else '<p class="note">no property-based test ran.</p>'
    )
    return f'<section id="properties"><h2>Properties</h2>{body}</section>'


def _cost_tags(s: dict[str, Any]) -> str:
    tags = s.get("cost_tags")
    if tags is None:
        return _section("cost-tags", "Cost-tag audit", '<p class="note">the audit did not run.</p>')
    findings = tags["findings"]
    rows = [
        [_e(f["address"]), _e(f["kind"]), _e(", ".join(f["keys"])), _e(f["message"]), _e(f["source"])]
        for f in findings
    ]
    resources = tags.get("resources", [])
    audit_rows = [
        [_e(r["address"])]
        + [
            _e(r["tags"].get(k, "MISSING")) if r.get("taggable", True) else "not taggable"
            for k in tags["required"]
        ]
        for r in resources
    ]
    verdict = (
        f'<p class="bad">{len(findings)} finding(s)</p>'
        if findings
        else '<p class="ok">every resource carries its cost tags</p>'
    )
    return (
        f'<section id="cost-tags"><h2>Cost-tag audit ({_e(", ".join(tags["required"]))})</h2>{verdict}'
        + (_table(["resource", "kind", "keys", "message", "source"], rows) if rows else "")
        + (_table(["resource", *tags["required"]], audit_rows) if audit_rows else "")
        + "</section>"
    )


def _datasync(s: dict[str, Any]) -> str:
    d = s.get("datasync")
    if not d:
        return _section("datasync", "DataSync throughput", '<p class="note">no model was synced.</p>')
    rows = []
    if "model_bytes" in d:
        rows.append(
            ["model", f"{d['model_bytes'] / 1e6:.2f} MB" + (" to EFS" if d.get("on_efs") else " (S3 only)")]
        )
    if d.get("throughput_mb_s") is not None:
        rows.append(["DataSync transfer throughput", f"{d['throughput_mb_s']:.1f} MB/s"])
    if "status" in d:
        rows.append(["execution", f"{_e(d['status'])}, {d['bytes_transferred'] / 1e6:.2f} MB transferred"])
        rows.append(["phases (ms)", _e(", ".join(f"{k} {v}" for k, v in d.get("phases_ms", {}).items()))])
    if d.get("upload_and_sync_mb_s") is not None:
        rows.append(
            ["upload + sync stage", f"{d['sync_stage_s']:.2f} s ({d['upload_and_sync_mb_s']:.1f} MB/s)"]
        )
    if d.get("verified_by"):
        rows.append(["verified by", _e(d["verified_by"])])
    return f'<section id="datasync"><h2>DataSync throughput</h2>{_table(["", ""], rows)}</section>'


def _cost(s: dict[str, Any]) -> str:
    cost = s.get("cost")
    if not cost:
        return '<section id="cost"><h2>Cost projection</h2><p class="note">nothing deployed.</p></section>'
    rows = [
        [
            f"{d['documents']:,}",
            f"{d['gb_seconds']:,.0f}",
            _money(d["compute_usd"]),
            _money(d["requests_usd"]),
            f"<b>{_money(d['total_usd'])}</b>",
        ]
        for d in cost["documents"]
    ]
    standing = cost["monthly_standing"]
    per_doc = cost["billed_ms_per_document"]
    basis = (
        f"{per_doc:.1f} ms billed per document ({_e(cost['duration_basis'])}) at {cost['memory_mb']} MB"
        if per_doc is not None
        else "no invokes measured"
    )
    return (
        f'<section id="cost"><h2>Cost projection</h2><p>{basis}</p>'
        + (
            _table(["documents", "GB-s", "duration", "requests", "total"], rows, {0, 1, 2, 3, 4})
            if rows
            else ""
        )
        + _figure("cost", plots.cost_svg(cost), "projected Lambda cost")
        + f"<p>Monthly standing cost: <b>{_money(standing['total_usd'])}</b> "
        f"(EFS {_money(standing['efs_usd'])}, "
        f"S3 {_money(standing['s3_usd'])}): {_e(standing['basis'])}.</p>"
        + f'<p class="note" id="prices">Assumed: {_e(cost["assumptions"])}. Override with --mlinfra-prices='
        "(ini mlinfra_prices), e.g. 'region=eu-west-1 lambda_gb_s=0.0000166667 efs_gb_month=0.33'."
        "</p></section>"
    )


def _test_row(t: dict[str, Any], open_details: bool) -> str:
    group = _GROUP.get(t["outcome"], "skipped")
    details = ""
    if t.get("counterexample"):
        details += f"<pre>{_e(t['counterexample'])}</pre>"
    if t.get("traceback"):
        opened = " open" if open_details else ""
        details += f"<details{opened}><summary>traceback</summary><pre>{_e(t['traceback'])}</pre></details>"
    for log in t.get("log_tails") or []:
        what = ", ".join(x for x in (log.get("function", ""), log.get("error", "")) if x)
        details += (
            f'<details class="log"><summary>Lambda log tail ({_e(what)})</summary>'
            f"<pre>{_e(log.get('log', ''))}</pre></details>"
        )
    message = _e(t.get("message", "")) if group != "passed" else ""
    return (
        f'<tr class="test o-{group}"><td class="st">{_e(t["outcome"])}</td>'
        f"<td><code>{_e(t['test'])}</code></td>"
        f'<td class="num">{t.get("seconds", 0):.2f} s</td><td>{message}{details}</td></tr>'
    )


def _tests(s: dict[str, Any]) -> str:
    tests = s.get("tests", [])
    if not tests:
        return _section("tests", "Tests", '<p class="note">no test ran.</p>')
    order = {"failed": 0, "skipped": 1, "passed": 2}
    ranked = sorted(tests, key=lambda t: order.get(_GROUP.get(t["outcome"], "skipped"), 1))  # stable
    failures = sum(_GROUP.get(t["outcome"]) == "failed" for t in tests)
    rows = "".join(_test_row(t, failures <= _OPEN_TRACEBACKS) for t in ranked)
    counts = {
        g: sum(_GROUP.get(t["outcome"], "skipped") == g for t in tests)
        for g in ("failed", "passed", "skipped")
    }
    filters = '<input type="radio" class="filter" name="outcome" id="show-all" checked>'
    filters += f'<label for="show-all">all {len(tests)}</label>'
    for group, n in counts.items():
        filters += f'<input type="radio" class="filter" name="outcome" id="show-{group}">'
        filters += f'<label for="show-{group}">{group} {n}</label>'
    head = "<thead><tr><th>outcome</th><th>test</th><th>duration</th><th>message</th></tr></thead>"
    return (
        f'<section id="tests"><h2>Tests</h2>{filters}'
        f'<table class="tests">{head}<tbody>{rows}</tbody></table></section>'
    )


def _link(url: str, text: str) -> str:
    return f'<a href="{_e(url)}">{_e(text)}</a>' if url.startswith(("https://", "http://")) else _e(text)


def _ci_line(s: dict[str, Any]) -> str:
    env = s.get("environment") or {}
    ci = env.get("ci") or {}
    git = env.get("git") or {}
    parts = []
    if ci.get("run_url"):
        parts.append(_link(ci["run_url"], f"{ci.get('ci', 'CI')} run"))
    sha = ci.get("sha") or git.get("sha")
    if sha:
        parts.append(
            "commit " + (_link(ci["commit_url"], sha[:12]) if ci.get("commit_url") else _e(sha[:12]))
        )
    return f'<p id="ci">{", ".join(parts)}</p>' if parts else ""


def _environment(s: dict[str, Any]) -> str:
    env = s.get("environment") or {}
    if not env:
        return _section("environment", "Environment", '<p class="note">not recorded.</p>')
    git = env.get("git") or {}
    ci = env.get("ci") or {}
    rows = [
        ["Python", _e(env.get("python", ""))],
        ["platform", _e(env.get("platform", ""))],
        ["Terraform", _e(env.get("terraform") or "not used")],
        ["provider", _e(env.get("provider") or "not used")],
        ["git commit", _e(f"{git['sha']} ({git.get('branch', '')})") if git else "not in a git repository"],
    ]
    if ci:
        rows.append(["CI", _e(ci.get("ci", ""))])
        for key, label in (("run_url", "CI run"), ("commit_url", "CI commit")):
            if ci.get(key):
                rows.append([label, _link(ci[key], ci[key])])
    rows += [[_e(name), _e(version)] for name, version in (env.get("packages") or {}).items()]
    return _section("environment", "Environment", _table(["", ""], rows))


def _history(history: History | None) -> str:
    if history is None or not history.points:
        return _section(
            "history",
            "History",
            '<p class="note">no earlier report given: --mlinfra-report-history=GLOB (ini '
            "mlinfra_report_history) names earlier --mlinfra-json reports to draw the trend from.</p>",
        )
    skipped = "".join(f'<p class="note">skipped {_e(line)}</p>' for line in history.skipped)
    if len(history.points) < 2:
        return _section("history", "History", '<p class="note">no earlier report matched.</p>' + skipped)

    def cell(value: Any, fmt: str) -> str:
        return "-" if value is None else format(value, fmt)

    rows = [
        [
            _e(p["generated"]),
            _e(p["verdict"]),
            cell(p["apply_s"], ".1f"),
            cell(p["p95_ms"], ".1f"),
            cell(p["cost_per_million_usd"], ".4f"),
            cell(p["pass_rate"], ".1f"),
        ]
        for p in reversed(history.points[-30:])
    ]
    caption = f"{len(history.points)} runs, oldest first; the large dot is this run"
    table = _table(["generated", "verdict", *FIGURES.values()], rows, {2, 3, 4, 5})
    figure = _figure("history", plots.history_svg(history.points, FIGURES), caption)
    return _section("history", "History", figure + table + skipped)


def render_html(summary: dict[str, Any], history: History | None = None) -> str:
    run = summary["run"]
    state = (
        "failed" if run["verdict"].startswith("FAILED") else "passed" if run["verdict"] == "PASSED" else ""
    )
    title = f"mlinfra run {run['run_id']}: {run['verdict']}"
    parts = (_summary, _tests, _timeline, _latency, _properties, _cost_tags, _datasync, _cost)
    body = "".join(part(summary) for part in parts) + _history(history) + _environment(summary)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f'<header class="{state}"><h1>{_e(title)}</h1><p>target {_e(run["target"])} ({_e(run["region"])}), '
        f"stack {_e(run['stack'])}, generated {_e(summary['generated'])}</p>{_ci_line(summary)}</header>"
        f"<main>{body}</main></body></html>\n"
    )


def write_html(summary: dict[str, Any], path: Path, history: History | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(summary, history), encoding="utf-8")
