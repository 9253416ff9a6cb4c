"""Audit Terraform source (``*.tf``) without running anything: the check that fits a pre-commit hook.

Effective tags are the provider's ``default_tags`` merged with the resource's ``tags``, evaluated
through variables (defaults, ``*.tfvars``, ``-var``/``-var-file``, see :mod:`.variables`), ``locals``
and ``merge()``; ``count``/``for_each`` are expanded into instances (``x[0]``, ``x["a"]``) where they
can be evaluated, and ``count = 0`` resources are skipped. Local modules (``./``, ``../``) are followed
with their call arguments bound; other sources are judged by the ``tags`` passed to them, and an
absolute path is named in a note, as Terraform does not treat it as local either. Whatever cannot be
evaluated is reported ``undecidable``, never guessed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from pytest_mlinfra.audit.findings import Finding
from pytest_mlinfra.audit.hcl_expr import PartialMap, Unknown, evaluate
from pytest_mlinfra.audit.policy import Policy
from pytest_mlinfra.audit.taggable import Taggable, load_taggable
from pytest_mlinfra.audit.tagset import TagSet
from pytest_mlinfra.audit.variables import RawValue, convert, load_var_file, resolve_raw, stack_var_files
from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.terraform.hcl import load_hcl_file as load_hcl_file  # the one loader; public here too

_META_ARGS = {"source", "version", "count", "for_each", "providers", "depends_on", "provider", "lifecycle"}
_MAX_DEPTH = 16
_MAX_INSTANCES = 10_000


def audit_hcl(
    path: str | Path,
    policy: Policy,
    taggable: Taggable | None = None,
    variables: Mapping[str, Any] | None = None,
    *,
    environment: Mapping[str, RawValue] | None = None,
    notes: list[str] | None = None,
) -> list[Finding]:
    """Audit the root module in directory ``path`` (or one ``.tf`` file) and the local modules it calls.

    ``variables``: root module values that win over the stack's own ``*.tfvars`` (``-var`` strings as
    :class:`RawValue`, ``-var-file`` values as read by :func:`load_var_file`); ``environment``: the
    ``TF_VAR_`` values, lowest of all. ``notes`` (when given) collects what the audit did not look at.
    """
    root = Path(path)
    audit = _Audit(policy, taggable or load_taggable(), notes if notes is not None else [])
    module = _Module(root, inputs={}, providers={}, prefix="", depth=0)
    module.audit(audit, root_variables=(dict(environment or {}), dict(variables or {})))
    audit.report_unknown_types()
    return sorted(audit.findings)


@dataclass
class _Audit:
    """What one audit run shares across modules: the rules, and what it found."""

    policy: Policy
    table: Taggable
    notes: list[str]
    findings: list[Finding] = field(default_factory=list)
    unknown_types: dict[str, list[str]] = field(default_factory=dict)

    def report_unknown_types(self) -> None:
        """One ``unknown-type`` finding per type the table has never heard of (not one per resource)."""
        for rtype, addresses in sorted(self.unknown_types.items()):
            shown = ", ".join(addresses[:3]) + (
                f" and {len(addresses) - 3} more" if len(addresses) > 3 else ""
            )
            if self.table.source == "the provider schema":
                todo = (
                    "Terraform rejects types its providers lack: check the spelling and the provider version"
                )
            else:
                todo = (
                    "run `terraform init` in the stack (the audit then reads its provider schema) "
                    "or pass --schema"
                )
            message = (
                f"{rtype} is not in {self.table.source}, so whether it takes tags is not known ({shown}); "
                + todo
            )
            self.findings.append(Finding(rtype, "unknown-type", (), rtype, message, "hcl"))


@dataclass(frozen=True)
class _Instance:
    """One instance of a resource or module: its address suffix and what ``count.``/``each.`` are."""

    key: str
    refs: Mapping[str, Any]


_SINGLE = _Instance("", {})


def _instances(body: dict[str, Any], resolve: Callable[[str, str], Any]) -> list[_Instance] | Unknown:
    """The instances ``count``/``for_each`` create, or Unknown (with the reason) when not decidable."""
    if "count" in body:
        count = evaluate(body["count"], resolve)
        if isinstance(count, Unknown):
            return Unknown(f"its count is not known: {count.reason}")
        if isinstance(count, bool) or not isinstance(count, int | float) or count < 0 or count != int(count):
            return Unknown(f"its count is not a whole number ({count!r})")
        if count > _MAX_INSTANCES:
            return Unknown(f"its count ({int(count)}) is more than the audit lists")
        return [_Instance(f"[{i}]", {"count.index": i}) for i in range(int(count))]
    if "for_each" in body:
        each = evaluate(body["for_each"], resolve)
        if isinstance(each, Unknown | PartialMap):
            return Unknown(f"its for_each is not known: {each.reason}")
        if isinstance(each, dict):
            return [
                _Instance(f"[{json.dumps(k)}]", {"each.key": k, "each.value": v}) for k, v in each.items()
            ]
        if isinstance(each, list) and all(isinstance(k, str) for k in each):
            return [
                _Instance(f"[{json.dumps(k)}]", {"each.key": k, "each.value": k}) for k in sorted(set(each))
            ]
        if isinstance(each, list) and any(isinstance(k, Unknown | PartialMap) for k in each):
            return Unknown("its for_each set has elements that are not known")
        return Unknown("its for_each is not a map or a set of strings")
    return [_SINGLE]


def _if_it_exists(findings: list[Finding], reason: str) -> list[Finding]:
    """Findings of a resource that may have no instances at all: judged, but only ``undecidable``."""
    result = []
    for f in findings:
        if f.kind in ("missing", "bad-value"):
            message = f"cannot tell whether it has any instance ({reason}); if it has: {f.message}"
            f = Finding(f.address, "undecidable", f.keys, f.resource_type, message, f.source)
        result.append(f)
    return result


def _unquote(label: str) -> str:
    return label[1:-1] if len(label) >= 2 and label[0] == label[-1] == '"' else label


def _reference_text(raw: Any) -> str:
    """``${aws.east}`` or ``aws.east`` -> ``aws.east`` (provider references are not values)."""
    text = str(raw).strip()
    if text.startswith("${") and text.endswith("}"):
        text = text[2:-1].strip()
    return _unquote(text)


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
    """One module directory (one instance of it), evaluated with the inputs its caller passes."""

    directory: Path
    inputs: dict[str, Any]
    providers: dict[str, TagSet]
    prefix: str
    depth: int
    variables: dict[str, Any] = field(default_factory=dict)
    locals_raw: dict[str, Any] = field(default_factory=dict)
    locals_done: dict[str, Any] = field(default_factory=dict)
    in_progress: set[str] = field(default_factory=set)
    instance: Mapping[str, Any] = field(default_factory=dict)

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
            for kind, blocks in load_hcl_file(file).items():
                if isinstance(blocks, list):
                    merged.setdefault(kind, []).extend(b for b in blocks if isinstance(b, dict))
        return merged

    def root_inputs(self, environment: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
        """Terraform's precedence: TF_VAR_ < terraform.tfvars(.json) < *.auto.tfvars(.json) < -var(-file)."""
        undeclared = sorted(
            k for k, v in given.items() if isinstance(v, RawValue) and k not in self.variables
        )
        if undeclared:
            raise MlinfraError(
                f"--var {undeclared[0]}: the root module declares no variable of that name",
                "check the spelling, or declare it in variables.tf",
            )
        values: dict[str, Any] = dict(environment)
        if self.directory.is_dir():
            for file in stack_var_files(self.directory):
                values.update(load_var_file(file))
        values.update(given)
        result: dict[str, Any] = {}
        for name, value in values.items():
            declared = self.variables.get(name)
            if declared is None:
                continue  # Terraform only warns about values for undeclared variables in files
            type_text = declared.get("type")
            if isinstance(value, RawValue):
                result[name] = resolve_raw(name, value, type_text)
            else:
                result[name] = convert(name, value, type_text, "a variables file")
        return result

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
        if root in ("count", "each"):
            ref = f"{root}.{name}"
            if ref in self.instance:
                return self.instance[ref]
            if self.instance.get("unknown"):
                return Unknown(f"{ref} is not known ({self.instance['unknown']})")
            return Unknown(f"{ref} is used outside a resource with {root if root == 'count' else 'for_each'}")
        if name in self.locals_done:
            return self.locals_done[name]
        if name not in self.locals_raw:
            return Unknown(f"local.{name} is not defined")
        if name in self.in_progress:
            return Unknown(f"local.{name} refers to itself")
        self.in_progress.add(name)
        saved, self.instance = self.instance, {}  # locals never see count./each.
        value = evaluate(self.locals_raw[name], self.resolve)
        self.instance = saved
        self.in_progress.discard(name)
        self.locals_done[name] = value
        return value

    def evaluate(self, raw: Any, instance: Mapping[str, Any]) -> Any:
        """``raw`` evaluated as seen from one instance (``count.index``, ``each.key`` bound)."""
        saved, self.instance = self.instance, instance
        try:
            return evaluate(raw, self.resolve)
        finally:
            self.instance = saved

    def audit(self, run: _Audit, root_variables: tuple[dict[str, Any], dict[str, Any]] | None = None) -> None:
        data = self.load()
        for block in _blocks(data, "variable"):
            for name, body in block.items():
                self.variables[_unquote(name)] = body if isinstance(body, dict) else {}
        for block in _blocks(data, "locals"):
            self.locals_raw.update({k: v for k, v in block.items() if not k.startswith("__")})
        if root_variables is not None:
            self.inputs = {**self.root_inputs(*root_variables), **self.inputs}
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
                        judge = partial(self._resource, rtype, _unquote(name), body, providers, run)
                        self._counted(run, body, judge)
        for block in _blocks(data, "module"):
            for name, body in block.items():
                if isinstance(body, dict):
                    self._counted(run, body, partial(self._module_call, _unquote(name), body, providers, run))

    def _counted(
        self, run: _Audit, body: dict[str, Any], judge: Callable[[_Instance, list[Finding]], None]
    ) -> None:
        """Judge every instance; with an undecidable count/for_each, judge one and say it may not exist."""
        instances = _instances(body, self.resolve)
        if isinstance(instances, Unknown):
            found: list[Finding] = []
            judge(_Instance("", {"unknown": instances.reason}), found)
            run.findings.extend(_if_it_exists(found, instances.reason))
            return
        for instance in instances:
            judge(instance, run.findings)

    def _provider_tags(self, body: dict[str, Any], providers: dict[str, TagSet]) -> TagSet:
        key = _reference_text(body["provider"]) if "provider" in body else "aws"
        return providers.get(key, TagSet())

    def _resource(
        self,
        rtype: str,
        name: str,
        body: dict[str, Any],
        providers: dict[str, TagSet],
        run: _Audit,
        instance: _Instance,
        findings: list[Finding],
    ) -> None:
        address = f"{self.prefix}{rtype}.{name}{instance.key}"
        policy = run.policy
        if policy.is_exempt(address):
            return
        can_tag = run.table.is_taggable(rtype)
        has_tags = "tags" in body
        if can_tag is False:
            if has_tags:
                keys = tuple(_to_tagset(self.evaluate(body["tags"], instance.refs)).values)
                message = (
                    f"{rtype} cannot take tags (per {run.table.source}); remove `tags` (Terraform rejects it)"
                )
                findings.append(Finding(address, "not-taggable", keys, rtype, message, "hcl"))
            return
        if can_tag is None:
            if not rtype.startswith("aws_"):
                return
            if not has_tags:  # `tags` written in the source would show the type takes them
                run.unknown_types.setdefault(rtype, []).append(address)
                return
        tags = self._provider_tags(body, providers).merged(
            _to_tagset(self.evaluate(body.get("tags"), instance.refs))
        )
        findings.extend(policy.check(address, rtype, tags, "hcl"))

    def _module_call(
        self,
        name: str,
        body: dict[str, Any],
        providers: dict[str, TagSet],
        run: _Audit,
        instance: _Instance,
        findings: list[Finding],
    ) -> None:
        address = f"{self.prefix}module.{name}{instance.key}"
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
                inputs = {k: self.evaluate(v, instance.refs) for k, v in body.items() if k not in _META_ARGS}
                child = _Module(child_dir.resolve(), inputs, child_providers, f"{address}.", self.depth + 1)
                child_run = _Audit(run.policy, run.table, run.notes, findings, run.unknown_types)
                child.audit(child_run)
                return
        if isinstance(source, str) and source.startswith("/"):
            run.notes.append(
                f"{address}: source {source} is an absolute path, which Terraform installs like a remote "
                "module, so its resources were not audited, only the tags passed to it; "
                "use a ./ or ../ path to have them audited"
            )
        if run.policy.is_exempt(address):
            return
        default_tags = child_providers.get("aws", TagSet())
        kind = f"module {source}" if isinstance(source, str) else "module"
        if "tags" not in body:
            tags = default_tags
            extra = "; the module call passes no `tags`"
        else:
            tags = default_tags.merged(_to_tagset(self.evaluate(body["tags"], instance.refs)))
            extra = " (in the `tags` passed to the module)"
        for finding in run.policy.check(address, kind, tags, "hcl"):
            message = finding.message + (extra if finding.kind == "missing" else "")
            findings.append(
                Finding(finding.address, finding.kind, finding.keys, finding.resource_type, message, "hcl")
            )
