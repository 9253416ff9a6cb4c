"""The cost-tag audit of a kept stack, remembered against the resources and tags it audited.

A ``--mlinfra-reuse`` run whose apply changes nothing (Terraform refreshed every resource first, so
the live tags match the configuration) would audit the same resources with the same tags again:
``terraform show -json`` plus the live tagging calls, ~1.5 s of a ~9 s loop. Findings are a function
of which resources exist, their tags, the policy and the audit code; when none of these changed the
previous result is the result. The caller only asks when its apply changed nothing: a run that
changed anything (a drifted tag put back included) audits afresh. Not seen on that path: a resource
created out of band with this run's tag (an ``orphan``); the next changed run finds it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_mlinfra.audit.findings import Finding

CACHE_FILE = "mlinfra-audit.json"


def audit_key(state_file: Path, required_tags: Sequence[str], regions: Sequence[str]) -> str | None:
    """What an audit result depends on (None when there is no state to audit): each resource's
    address and tags, not the other attributes (a refresh after a fresh create fills in some) nor
    the serial or ``check_results`` (every apply rewrites those, even one that changes nothing)."""
    from pytest_mlinfra import __version__

    try:
        state = json.loads(state_file.read_text())
        tagged = [
            [r.get("module"), r["mode"], r["type"], r["name"], i.get("index_key"), *_tags(i)]
            for r in state["resources"]
            for i in r["instances"]
        ]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    basis = [state.get("lineage"), tagged, sorted(required_tags), sorted(regions), __version__]
    return hashlib.sha256(json.dumps(basis, sort_keys=True).encode()).hexdigest()


def _tags(instance: dict[str, Any]) -> list[Any]:
    attributes = instance.get("attributes") or {}
    return [attributes.get("tags"), attributes.get("tags_all")]


@dataclass(frozen=True)
class CachedAudit:
    findings: list[Finding]
    state: dict[str, Any]  # the ``terraform show -json`` the findings came from (for the report)


def load(workdir: Path, key: str) -> CachedAudit | None:
    try:
        data = json.loads((workdir / CACHE_FILE).read_text())
        if data.get("key") != key:
            return None
        findings = [Finding(**{**item, "keys": tuple(item["keys"])}) for item in data["findings"]]
        return CachedAudit(findings, dict(data["state"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save(workdir: Path, key: str, findings: list[Finding], state: dict[str, Any]) -> None:
    path = workdir / CACHE_FILE
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps({"key": key, "findings": [f.to_dict() for f in findings], "state": state}))
    os.replace(tmp, path)
