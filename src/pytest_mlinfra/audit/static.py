"""Audit Terraform source (``*.tf``) without running anything: the check that fits a pre-commit hook.

Effective tags are the provider's ``default_tags`` merged with the resource's ``tags``, evaluated
through ``var.`` defaults (and ``*.tfvars``), ``locals`` and ``merge()``; local modules are followed
with their call arguments bound, remote modules are judged by the ``tags`` passed to them. Whatever
cannot be evaluated is reported ``undecidable``, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_mlinfra.audit.findings import Finding
from pytest_mlinfra.audit.hcl_expr import PartialMap, Unknown, evaluate
from pytest_mlinfra.audit.policy import Policy
from pytest_mlinfra.audit.taggable import Taggable, load_taggable
from pytest_mlinfra.audit.tagset import TagSet
from pytest_mlinfra.errors import MlinfraError

_META_ARGS = {"source", "version", "count", "for_each", "providers", "depends_on", "provider", "lifecycle"}
_MAX_DEPTH = 16


def audit_hcl(path: str | Path, policy: Policy, taggable: Taggable | None = None) -> list[Finding]:
    """Audit the root module in directory ``path`` (or one ``.tf`` file) and the local modules it calls."""
    root = Path(path)
    table = taggable or load_taggable()
    findings: list[Finding] = []
    _Module(root, inputs={}, providers={}, prefix="", depth=0).audit(policy, table, findings)
    return sorted(findings)


def _unquote(label: str) -> str:
    return label[1:-1] if len(label) >= 2 and label[0] == label[-1] == '"' else label


def _reference_text(raw: Any) -> str:
    """``${aws.east}`` or ``aws.east`` -> ``aws.east`` (provider references are not values)."""
    text = str(raw).strip()
    if text.startswith("${") and text.endswith("}"):
        text = text[2:-1].strip()
    return _unquote(text)


def _load_file(path: Path) -> dict[str, Any]:
    import hcl2

    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MlinfraError(f"cannot read {path} ({exc})", "check the path and file permissions") from None
    try:
        try:
            from hcl2 import SerializationOptions

            data = hcl2.loads(text, serialization_options=SerializationOptions(with_comments=False))
        except ImportError:  # python-hcl2 < 8
            data = hcl2.loads(text)
    except Exception as exc:  # lark raises many types; all mean "not valid HCL"
        detail = " ".join(str(exc).split())[:160]
        raise MlinfraError(
            f"cannot parse {path} as HCL ({detail})", "fix the syntax; `terraform validate` shows the spot"
        ) from None
    return dict(data)


def _blocks(data: dict[str, Any], kind: str) -> Iterator[dict[str, Any]]:
    for block in data.get(kind) or []:
        if isinstance(block, dict):
            yield block


def _to_tagset(value: Any) -> TagSet:
    if value is None:
        return TagSet()
    if isinstance(value, Unknown):
        return TagSet({}, open=True, reason=value.reason)
    if not isinstance(value, dict | PartialMap):
        return TagSet({}, open=True, reason="tags is not a map")
    items = value.values if isinstance(value, PartialMap) else value
    values: dict[str, str | None] = {}
    why: dict[str, str] = {}
    for key, item in items.items():
        if isinstance(item, Unknown):
            values[key] = None
            why[key] = item.reason
        elif isinstance(item, bool):
            values[key] = "true" if item else "false"
        elif isinstance(item, str | int | float):
            values[key] = str(item)
        elif item is not None:  # a null tag value means "no tag"
            values[key] = None
            why[key] = "its value is not a string"
    partial = isinstance(value, PartialMap)
    return TagSet(values, partial, value.reason if isinstance(value, PartialMap) else "", why)


@dataclass
class _Module:
    """One module directory, evaluated with the inputs its caller passes."""

    directory: Path
    inputs: dict[str, Any]
    providers: dict[str, TagSet]
    prefix: str
    depth: int
    variables: dict[str, Any] = field(default_factory=dict)
    locals_raw: dict[str, Any] = field(default_factory=dict)
    locals_done: dict[str, Any] = field(default_factory=dict)
    in_progress: set[str] = field(default_factory=set)

    def load(self) -> dict[str, list[dict[str, Any]]]:
        if self.directory.is_file():
            files = [self.directory]
        elif self.directory.is_dir():
            files = sorted(self.directory.glob("*.tf"))
        else:
            raise MlinfraError(
                f"{self.directory} does not exist", "give a Terraform directory or a plan JSON"
            )
        if not files:
            raise MlinfraError(f"no *.tf files in {self.directory}", "point at the directory of your stack")
        merged: dict[str, list[dict[str, Any]]] = {}
        for file in files:
            for kind, blocks in _load_file(file).items():
                if isinstance(blocks, list):
                    merged.setdefault(kind, []).extend(b for b in blocks if isinstance(b, dict))
        return merged

    def tfvars(self) -> dict[str, Any]:
        if not self.directory.is_dir() or self.depth:
            return {}
        values: dict[str, Any] = {}
        names = ["terraform.tfvars", *sorted(p.name for p in self.directory.glob("*.auto.tfvars"))]
        for name in names:
            file = self.directory / name
            if file.is_file():
                for key, raw in _load_file(file).items():
                    values[key] = evaluate(raw, self.resolve)
        return values

    def resolve(self, root: str, name: str) -> Any:
        if root == "var":
            if name in self.inputs:
                return self.inputs[name]
            if name not in self.variables:
                return Unknown(f"var.{name} is not declared")
            body = self.variables[name]
            if "default" not in body:
                return Unknown(f"var.{name} has no default")
            return evaluate(body["default"], self.resolve)
        if name in self.locals_done:
            return self.locals_done[name]
        if name not in self.locals_raw:
            return Unknown(f"local.{name} is not defined")
        if name in self.in_progress:
            return Unknown(f"local.{name} refers to itself")
        self.in_progress.add(name)
        value = evaluate(self.locals_raw[name], self.resolve)
        self.in_progress.discard(name)
        self.locals_done[name] = value
        return value

    def audit(self, policy: Policy, table: Taggable, findings: list[Finding]) -> None:
        data = self.load()
        for block in _blocks(data, "variable"):
            for name, body in block.items():
                self.variables[_unquote(name)] = body if isinstance(body, dict) else {}
        for block in _blocks(data, "locals"):
            self.locals_raw.update({k: v for k, v in block.items() if not k.startswith("__")})
        self.inputs = {**self.tfvars(), **self.inputs}
        providers = dict(self.providers)
        for block in _blocks(data, "provider"):
            for name, body in block.items():
                if _unquote(name) != "aws" or not isinstance(body, dict):
                    continue
                alias = body.get("alias")
                key = "aws" if alias is None else f"aws.{evaluate(alias, self.resolve)}"
                default_tags = TagSet()
                for dt in body.get("default_tags") or []:
                    if isinstance(dt, dict):
                        default_tags = _to_tagset(evaluate(dt.get("tags"), self.resolve))
                providers[key] = default_tags
        for block in _blocks(data, "resource"):
            for rtype_label, named in block.items():
                if not isinstance(named, dict):
                    continue
                rtype = _unquote(rtype_label)
                for name, body in named.items():
                    if isinstance(body, dict):
                        self._resource(rtype, _unquote(name), body, providers, policy, table, findings)
        for block in _blocks(data, "module"):
            for name, body in block.items():
                if isinstance(body, dict):
                    self._module_call(_unquote(name), body, providers, policy, table, findings)

    def _provider_tags(self, body: dict[str, Any], providers: dict[str, TagSet]) -> TagSet:
        key = _reference_text(body["provider"]) if "provider" in body else "aws"
        return providers.get(key, TagSet())

    def _resource(
        self,
        rtype: str,
        name: str,
        body: dict[str, Any],
        providers: dict[str, TagSet],
        policy: Policy,
        table: Taggable,
        findings: list[Finding],
    ) -> None:
        address = f"{self.prefix}{rtype}.{name}"
        if policy.is_exempt(address):
            return
        can_tag = table.is_taggable(rtype)
        has_tags = "tags" in body
        if can_tag is False:
            if has_tags:
                keys = tuple(_to_tagset(evaluate(body["tags"], self.resolve)).values)
                message = (
                    f"{rtype} cannot take tags (per {table.source}); remove `tags` (Terraform rejects it)"
                )
                findings.append(Finding(address, "not-taggable", keys, rtype, message, "hcl"))
            return
        if can_tag is None:
            if not rtype.startswith("aws_"):
                return
            if not has_tags:
                findings.append(
                    Finding(
                        address,
                        "undecidable",
                        policy.require,
                        rtype,
                        f"{rtype} is not in {table.source}; pass --schema to tell whether it takes tags",
                        "hcl",
                    )
                )
                return
        tags = self._provider_tags(body, providers).merged(
            _to_tagset(evaluate(body.get("tags"), self.resolve))
        )
        findings.extend(policy.check(address, rtype, tags, "hcl"))

    def _module_call(
        self,
        name: str,
        body: dict[str, Any],
        providers: dict[str, TagSet],
        policy: Policy,
        table: Taggable,
        findings: list[Finding],
    ) -> None:
        address = f"{self.prefix}module.{name}"
        source = evaluate(body.get("source", ""), self.resolve)
        child_providers = dict(providers)
        mapping = body.get("providers")
        if isinstance(mapping, dict):
            for child_key, parent_ref in mapping.items():
                parent = providers.get(_reference_text(parent_ref), TagSet())
                child_providers[_reference_text(child_key)] = parent
        if isinstance(source, str) and source.startswith(("./", "../")):
            child_dir = (self.directory if self.directory.is_dir() else self.directory.parent) / source
            if child_dir.is_dir() and self.depth < _MAX_DEPTH:
                inputs = {k: evaluate(v, self.resolve) for k, v in body.items() if k not in _META_ARGS}
                child = _Module(child_dir.resolve(), inputs, child_providers, f"{address}.", self.depth + 1)
                child.audit(policy, table, findings)
                return
        if policy.is_exempt(address):
            return
        default_tags = child_providers.get("aws", TagSet())
        kind = f"module {source}" if isinstance(source, str) else "module"
        if "tags" not in body:
            tags = default_tags
            extra = "; the module call passes no `tags`"
        else:
            tags = default_tags.merged(_to_tagset(evaluate(body["tags"], self.resolve)))
            extra = " (in the `tags` passed to the module)"
        for finding in policy.check(address, kind, tags, "hcl"):
            message = finding.message + (extra if finding.kind == "missing" else "")
            findings.append(
                Finding(finding.address, finding.kind, finding.keys, finding.resource_type, message, "hcl")
            )
