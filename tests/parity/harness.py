"""Run the parity scenarios against one endpoint and compare two runs.

An :class:`Observation` is what a scenario saw, reduced to what must agree between the embedded
AWS and LocalStack (and AWS): the HTTP status, the error code, the shape of the part of the
response the scenario names (key paths, not values), and a few values the scenario calls facts
(``SSEAlgorithm``, the event the handler got). Plain functions: no pytest needed to run them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ACCOUNT = "000000000000"
REGION = "us-east-1"


@dataclass(frozen=True)
class Observation:
    status: int
    error: str | None = None
    shape: tuple[str, ...] = ()
    facts: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        text = f"{self.status} {self.error or 'ok'}"
        if self.facts:
            text += " " + ", ".join(f"{k}={v}" for k, v in self.facts)
        return text


@dataclass
class Seen:
    """What a scenario hands back: the response (or the error) and what to compare of it."""

    response: Mapping[str, Any]
    pick: Any = None  # the part whose shape is compared (default: the response minus metadata)
    facts: dict[str, Any] = field(default_factory=dict)


Scenario = Callable[["Clients"], Seen]


class Clients:
    """boto3 clients for one endpoint (no retries: a 500 must show as one), plus a shared scratch dict."""

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url
        self.session = boto3.session.Session(
            aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION
        )
        self._clients: dict[str, Any] = {}
        self.scratch: dict[str, Any] = {}

    def __call__(self, service: str) -> Any:
        if service not in self._clients:
            config = Config(retries={"max_attempts": 1}, read_timeout=120)
            self._clients[service] = self.session.client(
                service, endpoint_url=self.endpoint_url, config=config
            )
        return self._clients[service]


def shape(value: Any, prefix: str = "", depth: int = 4) -> list[str]:
    """Key paths of a response (lists by their first item), e.g. ``Rules[].BucketKeyEnabled``."""
    if depth == 0:
        return [prefix] if prefix else []
    if isinstance(value, Mapping):
        paths: list[str] = []
        for key in sorted(value):
            if key == "ResponseMetadata":
                continue
            path = f"{prefix}.{key}" if prefix else str(key)
            paths.append(path)
            paths.extend(shape(value[key], path, depth - 1))
        return paths
    if isinstance(value, list) and value:
        return shape(value[0], f"{prefix}[]", depth - 1)
    return []


def observe(scenario: Scenario, clients: Clients) -> Observation:
    try:
        seen = scenario(clients)
    except ClientError as exc:
        response = exc.response
        status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        return Observation(status=status, error=str(response.get("Error", {}).get("Code")))
    metadata = seen.response.get("ResponseMetadata", {}) if isinstance(seen.response, Mapping) else {}
    picked = seen.pick if seen.pick is not None else seen.response
    facts = tuple(sorted((k, _fact(v)) for k, v in seen.facts.items()))
    return Observation(
        status=int(metadata.get("HTTPStatusCode", 200)),
        shape=tuple(sorted(set(shape(picked)))),
        facts=facts,
    )


def _fact(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def run_all(scenarios: Mapping[str, Scenario], endpoint_url: str) -> dict[str, Observation]:
    clients = Clients(endpoint_url)
    results: dict[str, Observation] = {}
    for name, scenario in scenarios.items():
        try:
            results[name] = observe(scenario, clients)
        except Exception as exc:  # a scenario that breaks is a difference, not a crash of the harness
            results[name] = Observation(status=-1, error=f"harness: {type(exc).__name__}: {exc}"[:160])
    return results


@dataclass(frozen=True)
class Row:
    scenario: str
    local: Observation
    other: Observation
    verdict: str  # "same", "allowed", "DIFFERENT", "STALE" (allow-listed but now the same)
    reason: str = ""

    def aspects(self) -> list[str]:
        return [
            aspect
            for aspect in ("status", "error", "shape", "facts")
            if getattr(self.local, aspect) != getattr(self.other, aspect)
        ]


def compare(
    local: Mapping[str, Observation], other: Mapping[str, Observation], allowed: Mapping[str, str]
) -> list[Row]:
    rows = []
    for name in local:
        a, b = local[name], other[name]
        differs = a != b
        if differs and name in allowed:
            rows.append(Row(name, a, b, "allowed", allowed[name]))
        elif differs:
            rows.append(Row(name, a, b, "DIFFERENT"))
        elif name in allowed:
            rows.append(Row(name, a, b, "STALE", allowed[name]))
        else:
            rows.append(Row(name, a, b, "same"))
    return rows


def table(rows: list[Row], other_name: str = "LocalStack") -> str:
    """The difference table CI prints: every scenario, what each side said, and why a difference is fine."""
    lines = [
        f"parity: {len(rows)} scenarios, embedded AWS vs {other_name}: "
        f"{sum(r.verdict == 'same' for r in rows)} same, "
        f"{sum(r.verdict == 'allowed' for r in rows)} known differences, "
        f"{sum(r.verdict == 'DIFFERENT' for r in rows)} unexplained, "
        f"{sum(r.verdict == 'STALE' for r in rows)} stale allow-list entries",
        f"{'scenario':<40} {'verdict':<10} {'embedded':<38} {other_name}",
    ]
    for row in rows:
        lines.append(
            f"{row.scenario:<40} {row.verdict:<10} {row.local.describe()[:38]:<38} {row.other.describe()}"
        )
        if row.verdict in ("allowed", "DIFFERENT", "STALE"):
            differing = ", ".join(row.aspects()) or "-"
            lines.append(
                f"{'':<40}   differs in: {differing}" + (f"; why: {row.reason}" if row.reason else "")
            )
            if "shape" in row.aspects():
                only_local = sorted(set(row.local.shape) - set(row.other.shape))[:6]
                only_other = sorted(set(row.other.shape) - set(row.local.shape))[:6]
                lines.append(f"{'':<40}   shape only embedded: {only_local}; only {other_name}: {only_other}")
    return "\n".join(lines)
