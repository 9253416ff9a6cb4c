"""Terraform's diagnostics as one line a user can act on: ``file:line: summary: the full detail``.

Two sources: ``terraform validate -json`` (structured, preferred) and the human output of the other
commands (an ``Error: summary`` line, an ``on FILE line N`` line, code, then a detail paragraph that
Terraform wraps at ~78 columns and that we join back into one sentence).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_LOCATION = re.compile(r"^on (?P<file>\S+) line (?P<line>\d+)")
_CODE = re.compile(r"^\d+:")
# Headline errors that only announce the real ones below them.
_ANNOUNCEMENTS = ("Terraform encountered problems during initialisation",)


@dataclass(frozen=True)
class Diagnostic:
    summary: str
    detail: str = ""
    filename: str | None = None
    line: int | None = None

    def one_line(self) -> str:
        where = f"{self.filename}:{self.line}: " if self.filename else ""
        detail = f": {self.detail.rstrip('.')}" if self.detail else ""
        return f"{where}{self.summary.rstrip('.')}{detail}"


def from_validate_json(raw: str) -> list[Diagnostic]:
    """Error diagnostics of ``terraform validate -json`` (empty when valid or not JSON)."""
    try:
        report: dict[str, Any] = json.loads(raw)
    except ValueError:
        return []
    found = []
    for diag in report.get("diagnostics", []):
        if diag.get("severity") != "error":
            continue
        where = diag.get("range") or {}
        found.append(
            Diagnostic(
                summary=str(diag.get("summary", "")),
                detail=" ".join(str(diag.get("detail", "")).split()),
                filename=where.get("filename"),
                line=(where.get("start") or {}).get("line"),
            )
        )
    return found


def from_human_output(text: str) -> list[Diagnostic]:
    """The ``Error:`` blocks of Terraform's human output, announcements dropped when others follow."""
    lines = [line.strip(" │╷╵\t") for line in text.splitlines()]
    found: list[Diagnostic] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line.startswith("Error: "):
            continue
        summary = line[len("Error: ") :].strip()
        # A summary Terraform wrapped continues up to the first blank line.
        while index < len(lines) and lines[index] and not lines[index].startswith("Error: "):
            summary += " " + lines[index]
            index += 1
        filename: str | None = None
        line_no: int | None = None
        paragraph: list[str] = []
        while index < len(lines) and not lines[index].startswith("Error: "):
            current = lines[index]
            index += 1
            location = _LOCATION.match(current)
            if location and filename is None and not paragraph:
                filename, line_no = location["file"].rstrip(","), int(location["line"])
            elif paragraph and not current:
                break  # the detail is the first paragraph after the location and the code
            elif current and not _CODE.match(current) and not current.startswith(("├", "with ", "on ")):
                paragraph.append(current)
        found.append(Diagnostic(summary, " ".join(paragraph), filename, line_no))
    real = [d for d in found if not d.summary.startswith(_ANNOUNCEMENTS)]
    return real or found


def first_error(text: str) -> str:
    """The line of Terraform output a user needs (the first real error, or the last output line)."""
    found = from_human_output(text)
    if found:
        more = f" (and {len(found) - 1} more error(s))" if len(found) > 1 else ""
        return found[0].one_line() + more
    meaningful = [line.strip(" │╷╵") for line in text.splitlines() if line.strip(" │╷╵")]
    return meaningful[-1] if meaningful else "no output"
