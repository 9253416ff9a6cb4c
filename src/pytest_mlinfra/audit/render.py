"""Findings as text (terminal), JSON (scripts), JUnit XML (CI dashboards) or Markdown (PR comments,
``$GITHUB_STEP_SUMMARY``)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from xml.etree import ElementTree as ET

from pytest_mlinfra.audit.findings import KINDS, Finding

FORMATS = ("text", "json", "junit", "markdown")


def render(findings: Sequence[Finding], fmt: str = "text", notes: Sequence[str] = ()) -> str:
    """One report string in ``fmt`` (one of :data:`FORMATS`); ``notes`` say what was not audited."""
    renderers = {"text": _text, "json": _json, "junit": _junit, "markdown": _markdown}
    if fmt not in renderers:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    return renderers[fmt](sorted(findings), list(notes))


def _summary(findings: Sequence[Finding]) -> str:
    if not findings:
        return "mlinfra-audit: no findings"
    counts = Counter(f.kind for f in findings)
    parts = ", ".join(f"{counts[k]} {k}" for k in KINDS if counts[k])
    resources = len({f.address for f in findings})
    return f"mlinfra-audit: {len(findings)} finding(s) on {resources} resource(s): {parts}"


def _text(findings: Sequence[Finding], notes: list[str]) -> str:
    lines = [f"{f.address}: {f.kind}: {f.message}" for f in findings]
    lines += [f"note: {note}" for note in notes]
    return "\n".join([*lines, _summary(findings)]) + "\n"


def _json(findings: Sequence[Finding], notes: list[str]) -> str:
    counts = Counter(f.kind for f in findings)
    summary: dict[str, int] = {"total": len(findings)}
    summary.update({kind: counts[kind] for kind in KINDS})
    doc = {"findings": [f.to_dict() for f in findings], "summary": summary, "notes": notes}
    return json.dumps(doc, indent=2) + "\n"


def _junit(findings: Sequence[Finding], notes: list[str]) -> str:
    """One testcase per resource with findings (each finding a <failure>), or one passing testcase."""
    by_address: dict[str, list[Finding]] = {}
    for finding in findings:
        by_address.setdefault(finding.address, []).append(finding)
    suite = ET.Element(
        "testsuite",
        name="mlinfra-audit",
        tests=str(max(1, len(by_address))),
        failures=str(len(by_address)),
        errors="0",
        skipped="0",
    )
    if not by_address:
        ET.SubElement(suite, "testcase", classname="mlinfra-audit", name="cost tags")
    for address, items in by_address.items():
        case = ET.SubElement(
            suite, "testcase", classname=f"mlinfra-audit.{items[0].resource_type}", name=address
        )
        for finding in items:
            failure = ET.SubElement(case, "failure", type=finding.kind, message=finding.message)
            failure.text = f"{finding.source}: {finding.address}: {finding.kind} {', '.join(finding.keys)}"
    if notes:
        ET.SubElement(suite, "system-out").text = "\n".join(f"note: {note}" for note in notes)
    suites = ET.Element("testsuites")
    suites.append(suite)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _markdown(findings: Sequence[Finding], notes: list[str]) -> str:
    lines = ["## Cost-tag audit", "", _summary(findings).removeprefix("mlinfra-audit: ").capitalize(), ""]
    if findings:
        lines += ["| Resource | Kind | Keys | Detail |", "| --- | --- | --- | --- |"]
        lines += [
            f"| `{_cell(f.address)}` | {f.kind} | {_cell(', '.join(f.keys))} | {_cell(f.message)} |"
            for f in findings
        ]
    if notes:
        lines += ["", *(f"- Note: {_cell(note)}" for note in notes)]
    return "\n".join(lines) + "\n"
