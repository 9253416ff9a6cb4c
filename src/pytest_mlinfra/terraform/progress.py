"""Progress of ``terraform apply/destroy -json``, read from Terraform's machine-readable UI events.

Terraform already tells, line by line, which resource started and completed and how long it took
(``planned_change``, ``change_summary``, ``apply_start``, ``apply_progress``, ``apply_complete``,
``apply_errored``, ``diagnostic``; see "Machine-readable UI" in the Terraform docs). This module only
reads those events: it counts completed resources against the plan's total, keeps each resource's
span for the report's timeline, and keeps the error diagnostics so a failure reads as one line.
It works on any iterable of lines, live (a per-line callback) or afterwards (a recorded log).

A resource that takes long says so: Terraform reports it every 10 s, shown each time for the first
minute, then every 30 s, then every minute past 10 min (a 45 min wait stays readable in a CI log).
Subnets and security groups destroyed along with a Lambda function say why they may take that
long: AWS keeps a VPC function's network interfaces for up to ~40 min after the function is gone
(hashicorp/terraform-provider-aws#10329).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pytest_mlinfra.terraform.diagnostics import Diagnostic

_NOT_CHANGES = {"noop", "read", "move"}  # planned_change actions that change no resource
_ACTION_ING = {"create": "creating", "delete": "destroying", "update": "modifying", "replace": "replacing"}
# Held by a deleted VPC function's network interfaces until AWS releases them.
ENI_HELD_TYPES = ("aws_subnet", "aws_security_group")
ENI_HINT = "a deleted VPC Lambda's network interfaces are released by AWS, which can take up to ~40 min"


def shown_at(elapsed_s: float) -> bool:
    """Whether a "still ..." report at ``elapsed_s`` seconds is shown (Terraform sends one per 10 s)."""
    seconds = round(elapsed_s)
    if seconds <= 60:
        return True
    if seconds <= 600:
        return seconds % 30 < 10
    return seconds % 60 < 10


@dataclass(frozen=True)
class ResourceSpan:
    """One resource's change during the run: wall-clock start/end (epoch seconds) and outcome."""

    address: str
    action: str
    start: float
    end: float
    ok: bool

    @property
    def seconds(self) -> float:
        return self.end - self.start


def _resource_type(event_part: dict[str, Any]) -> str:
    """The ``resource_type`` of a hook or planned change (``aws_subnet`` for ``module.m.aws_subnet.a[0]``)."""
    resource = event_part.get("resource", {})
    return str(resource.get("resource_type", ""))


def _epoch(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp).timestamp()


@dataclass
class TerraformProgress:
    """Feed it the stdout lines of one ``-json`` run; ``emit`` gets one human line per event.

    ``operation`` is the word the lines start with (``apply``, ``destroy``). Data-source reads are
    not counted: the plan's total (``change_summary``) does not count them either.
    """

    operation: str
    emit: Callable[[str], None] = lambda _line: None
    total: int | None = None
    done: int = 0
    spans: list[ResourceSpan] = field(default_factory=list)
    errors: list[tuple[Diagnostic, str]] = field(default_factory=list)  # (diagnostic, resource address)
    summary: str = ""
    planned: list[tuple[str, str]] = field(default_factory=list)  # (address, action) the plan changes
    _started: dict[str, tuple[str, float]] = field(default_factory=dict)
    _lambda_deleted: bool = False  # this run deletes a Lambda function (its ENIs may hold subnets)

    def feed_all(self, lines: Iterable[str]) -> TerraformProgress:
        for line in lines:
            self.feed(line)
        return self

    def feed(self, line: str) -> None:
        """One stdout line; anything that is not a Terraform UI event (JSON object) is ignored."""
        text = line.strip()
        if not text.startswith("{"):
            return
        try:
            event = json.loads(text)
        except ValueError:
            return
        if isinstance(event, dict):
            self._event(event)

    def _event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "change_summary":
            changes = event.get("changes", {})
            if changes.get("operation") == "plan":
                self.total = sum(int(changes.get(k, 0)) for k in ("add", "change", "remove", "import"))
            else:
                self.summary = str(event.get("@message", ""))
        elif kind == "planned_change":
            change = event.get("change", {})
            action = str(change.get("action", ""))
            if action not in _NOT_CHANGES:
                self.planned.append((str(change.get("resource", {}).get("addr", "?")), action))
            if action in ("delete", "replace") and _resource_type(change) == "aws_lambda_function":
                self._lambda_deleted = True
        elif kind == "diagnostic":
            raw = event.get("diagnostic", {})
            if raw.get("severity", event.get("@level")) != "error":
                return
            where = raw.get("range") or {}
            diagnostic = Diagnostic(
                summary=" ".join(str(raw.get("summary", event.get("@message", ""))).split()),
                detail=" ".join(str(raw.get("detail", "")).split()),
                filename=where.get("filename"),
                line=(where.get("start") or {}).get("line"),
            )
            self.errors.append((diagnostic, str(raw.get("address", ""))))
        elif kind in ("apply_start", "apply_progress", "apply_complete", "apply_errored"):
            hook = event.get("hook", {})
            action = str(hook.get("action", ""))
            if action == "read":
                return
            address = str(hook.get("resource", {}).get("addr", "?"))
            if action == "delete" and _resource_type(hook) == "aws_lambda_function":
                self._lambda_deleted = True
            self._hook(kind, address, action, _epoch(str(event["@timestamp"])), hook)

    def _hook(self, kind: str, address: str, action: str, at: float, hook: dict[str, Any]) -> None:
        if kind == "apply_start":
            self._started[address] = (action, at)
            return
        if kind == "apply_progress":
            elapsed = float(hook.get("elapsed_seconds", 0))
            if not shown_at(elapsed):
                return
            why = ""
            if action == "delete" and self._lambda_deleted and _resource_type(hook) in ENI_HELD_TYPES:
                why = f"; {ENI_HINT}"
            self.emit(
                f"{self._count()} {address} still {_ACTION_ING.get(action, action)} ({elapsed:.0f} s{why})"
            )
            return
        action, start = self._started.pop(address, (action, at))
        ok = kind == "apply_complete"
        self.spans.append(ResourceSpan(address, action, start, at, ok))
        if ok:
            self.done += 1
        self.emit(f"{self._count()} {address} {at - start:.1f} s" + ("" if ok else " FAILED"))

    def _count(self) -> str:
        return f"{self.operation} {self.done}/{self.total if self.total is not None else '?'}"

    def first_error(self) -> str | None:
        """The one line a user needs when the run failed: Terraform's first error diagnostic, in the
        same ``file:line: summary: detail`` form as every other Terraform error, and its resource."""
        if not self.errors:
            return None
        diagnostic, address = self.errors[0]
        return diagnostic.one_line() + (f" [{address}]" if address else "")
