"""The provider version constraints a stack and its modules declare, read before ``terraform init``.

Terraform intersects every module's constraints on a provider; so does this: one list of constraint
strings per provider address (``registry.terraform.io/hashicorp/aws``), from ``required_providers``
(object and legacy string forms, ``*.tf`` and ``*.tf.json``) and the legacy ``provider { version }``.
A provider the stack uses without declaring it has no entry: any version will do for it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pytest_mlinfra.terraform.hcl import parse_file

DEFAULT_HOST = "registry.terraform.io"


def provider_address(source: str) -> str:
    """``hashicorp/aws`` -> ``registry.terraform.io/hashicorp/aws`` (Terraform's fully qualified name)."""
    parts = source.strip().lower().split("/")
    if len(parts) == 1:
        parts = ["hashicorp", *parts]
    if len(parts) == 2:
        parts = [DEFAULT_HOST, *parts]
    return "/".join(parts)


def short_name(address: str) -> str:
    """``registry.terraform.io/hashicorp/aws`` -> ``hashicorp/aws`` (as Terraform prints it)."""
    host, _, rest = address.partition("/")
    return rest if host == DEFAULT_HOST else address


def _text(value: Any) -> str | None:
    return value.strip().strip('"') if isinstance(value, str) else None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value] if isinstance(value, dict) else []


def _load(tf_file: Path) -> dict[str, Any]:
    if tf_file.suffix == ".json":
        loaded = json.loads(tf_file.read_text())
        return loaded if isinstance(loaded, dict) else {}
    return parse_file(tf_file)


def module_requirements(folder: Path) -> dict[str, list[str]]:
    """One module folder's constraints by provider address (files that do not parse are skipped:
    ``terraform init`` reports them with file and line)."""
    sources: dict[str, str] = {}
    versions: dict[str, list[str]] = {}
    for tf_file in sorted(folder.glob("*.tf")) + sorted(folder.glob("*.tf.json")):
        try:
            parsed = _load(tf_file)
        except Exception:
            continue
        for terraform in _as_list(parsed.get("terraform")):
            for required in _as_list(terraform.get("required_providers")):
                for local, spec in required.items():
                    if local.startswith("__"):
                        continue
                    if isinstance(spec, dict):
                        source, version = _text(spec.get("source")), _text(spec.get("version"))
                    else:
                        source, version = None, _text(spec)
                    if source:
                        sources[local] = source
                    if version:
                        versions.setdefault(local, []).append(version)
        for provider in _as_list(parsed.get("provider")):
            for label, bodies in provider.items():
                for body in _as_list(bodies):  # JSON may list several configurations (aliases)
                    version = _text(body.get("version"))
                    if version:
                        versions.setdefault(label.strip('"'), []).append(version)
    found: dict[str, list[str]] = {}
    for local in {*sources, *versions}:
        address = provider_address(sources.get(local, local))
        found.setdefault(address, []).extend(versions.get(local, []))
    return found


def stack_requirements(folders: Iterable[Path]) -> dict[str, list[str]]:
    """Every folder's constraints, joined per provider (a provider declared without a version maps
    to an empty list)."""
    merged: dict[str, list[str]] = {}
    for folder in folders:
        for address, constraints in module_requirements(folder).items():
            known = merged.setdefault(address, [])
            known.extend(c for c in constraints if c not in known)
    return merged
