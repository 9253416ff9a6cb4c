"""Plan vs live: cost tags changed by hand (drift), and live resources nobody's plan knows (orphans).

The nightly question is "what is running that nobody owns, and whose tags were edited in the
console?". A plan (or state) says what Terraform manages and which tags it sends (``tags_all``,
default_tags included); the live sweep (:func:`.live.live_inventory`) says what is there. Resources
are matched by ARN (the ``arn`` attribute; S3 buckets also by name). Tags AWS itself adds
(``aws:*``) and keys whose planned value is only known after apply are not compared.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pytest_mlinfra.audit.findings import Finding
from pytest_mlinfra.audit.live import LiveInventory, arn_type
from pytest_mlinfra.audit.plan import PlannedResource

_NOT_OWNED = ("Name",)  # a per-resource tag: never part of "the project's tags"


@dataclass(frozen=True)
class Known:
    """The resources of the plans/states compared against, and where they came from (for messages)."""

    resources: Sequence[PlannedResource]
    sources: Sequence[str]


def resource_arns(res: PlannedResource) -> list[str]:
    """The ARNs a planned/applied resource is known by (none while it is still to be created)."""
    arns: list[str] = []
    arn = res.values.get("arn")
    if isinstance(arn, str) and arn.startswith("arn:"):
        arns.append(arn)
    if res.type == "aws_s3_bucket" and isinstance(res.values.get("bucket"), str):
        arns.append(f"arn:aws:s3:::{res.values['bucket']}")
    return arns


def project_tags(known: Known) -> dict[str, list[str]]:
    """The tags every known resource carries with one value (default_tags, typically), minus Name:
    what "carrying the project's tags" means when no ``--tag-filter`` says it."""
    common: dict[str, str | None] | None = None
    for res in known.resources:
        if "tags_all" not in res.values and "tags" not in res.values:
            continue  # a type without tags says nothing about the project's tags
        tags = {k: v for k, v in res.tags.items() if v is not None and k not in _NOT_OWNED}
        common = dict(tags) if common is None else {k: v for k, v in common.items() if tags.get(k) == v}
    return {k: [v] for k, v in (common or {}).items() if v is not None}


def compare(live: LiveInventory, known: Known, owned_by: Mapping[str, Sequence[str]]) -> list[Finding]:
    """``drift`` for each live resource whose tags differ from its plan's; ``orphan`` for each live
    resource tagged ``owned_by`` (key -> values, empty: any value) that no plan/state knows.

    ``live`` should be the whole inventory, not one narrowed by tags: a resource whose tags were
    edited may no longer match the filter, and is drift all the same."""
    owners_only = set(live.narrowed(owned_by).tags) if owned_by else set()
    by_arn: dict[str, PlannedResource] = {}
    for planned in known.resources:
        for arn in resource_arns(planned):
            by_arn[arn] = planned
    compared = ", ".join(known.sources) or "no plan"
    owners = ", ".join(f"{k}={'|'.join(v)}" if v else k for k, v in owned_by.items())
    findings: list[Finding] = []
    for arn, read in sorted(live.tags.items()):
        res = by_arn.get(arn)
        if res is None:
            if read.tags is not None and arn in owners_only:
                message = (
                    f"carries the project's tags ({owners}) but no plan/state compared knows it ({compared})"
                )
                findings.append(Finding(arn, "orphan", (), arn_type(arn), message, "live"))
            continue
        if read.tags is None:
            continue  # already an `undecidable` finding of the live audit
        differences = _differences(res.tags, read.tags)
        if differences:
            keys = tuple(sorted(differences))
            detail = "; ".join(differences[k] for k in keys)
            message = f"{res.address}: live tags differ from the plan's tags_all ({compared}): {detail}"
            findings.append(Finding(arn, "drift", keys, res.type, message, "live"))
    return sorted(findings)


def _differences(planned: Mapping[str, str | None], live: Mapping[str, str]) -> dict[str, str]:
    diffs: dict[str, str] = {}
    for key, want in planned.items():
        if want is None:
            continue  # only known after apply
        if key not in live:
            diffs[key] = f"{key}: {want!r} in the plan, missing live"
        elif live[key] != want:
            diffs[key] = f"{key}: {want!r} in the plan, {live[key]!r} live"
    for key, value in live.items():
        if key not in planned and not key.startswith("aws:"):
            diffs[key] = f"{key}: not in the plan, {value!r} live"
    return diffs
