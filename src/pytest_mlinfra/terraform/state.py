"""``terraform show -json`` of a local state file, built from the file: no process, no provider.

Terraform's own command starts every provider to decode the state with its schema. For a state the
same provider version wrote (the run's own), the decoded values are the stored attributes, so the
document is rebuilt here: ``values.outputs`` and ``values.root_module`` with each resource's
address, mode, type, name, index, provider_name and values, nested ``child_modules`` by module path.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

_MODULE_STEP = re.compile(r'module\.[^.\[]+(?:\[(?:"(?:[^"\\]|\\.)*"|\d+)\])?')


def show_json(state_file: Path) -> dict[str, Any] | None:
    """The ``show -json`` document of a version 4 state file (None: no such file, another format)."""
    try:
        raw = json.loads(state_file.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict) or raw.get("version") != 4 or not isinstance(raw.get("resources"), list):
        return None
    root: dict[str, Any] = {"resources": []}
    modules: dict[str, dict[str, Any]] = {"": root}
    for resource in raw["resources"]:
        module = resource.get("module") or ""
        target = _module(modules, module)
        mode = resource.get("mode", "managed")
        prefix = f"{module}." if module else ""
        base = f"{prefix}{'data.' if mode == 'data' else ''}{resource['type']}.{resource['name']}"
        for instance in resource.get("instances", []):
            key = instance.get("index_key")
            entry: dict[str, Any] = {
                "address": base + ("" if key is None else f"[{json.dumps(key)}]"),
                "mode": mode,
                "type": resource["type"],
                "name": resource["name"],
                "provider_name": _provider_name(resource.get("provider", "")),
                "schema_version": instance.get("schema_version", 0),
                "values": instance.get("attributes", {}),
            }
            if key is not None:
                entry["index"] = key
            target.setdefault("resources", []).append(entry)
    outputs = {
        name: {"sensitive": bool(o.get("sensitive")), "value": o.get("value"), "type": o.get("type")}
        for name, o in (raw.get("outputs") or {}).items()
    }
    values: dict[str, Any] = {"root_module": root}
    if outputs:
        values["outputs"] = outputs
    return {"format_version": "1.0", "terraform_version": raw.get("terraform_version", ""), "values": values}


def _module(modules: dict[str, dict[str, Any]], path: str) -> dict[str, Any]:
    """The ``child_modules`` entry for ``module.a.module.b`` (parents created on the way)."""
    if path in modules:
        return modules[path]
    steps = _MODULE_STEP.findall(path)
    parent = _module(modules, ".".join(steps[:-1]))
    child: dict[str, Any] = {"address": path, "resources": []}
    parent.setdefault("child_modules", []).append(child)
    modules[path] = child
    return child


def _provider_name(provider: str) -> str:
    """``provider["registry.terraform.io/hashicorp/aws"]`` -> ``registry.terraform.io/hashicorp/aws``."""
    found = re.search(r'provider\["([^"]+)"\]', provider)
    return found[1] if found else provider
