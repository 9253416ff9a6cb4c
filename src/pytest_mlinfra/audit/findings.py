"""The one result type all three audit sources produce, so reports and exit codes never care where
a finding came from."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Kind = Literal["missing", "bad-value", "not-taggable", "undecidable", "unknown-type", "drift", "orphan"]
KINDS: tuple[Kind, ...] = (
    "missing",
    "bad-value",
    "not-taggable",
    "undecidable",
    "unknown-type",
    "drift",
    "orphan",
)
Source = Literal["hcl", "plan", "state", "live"]


@dataclass(frozen=True, order=True)
class Finding:
    """One problem with one resource.

    ``address`` is the Terraform address (``module.x.aws_s3_bucket.b``) or, for the live audit, the
    ARN (for ``unknown-type``: the resource type). ``keys`` are the tag keys involved (empty for
    ``unknown-type``, ``orphan`` and some ``undecidable``). ``drift``: live tags differ from the plan's;
    ``orphan``: a live resource with the project's tags that no plan or state knows.
    """

    address: str
    kind: Kind
    keys: tuple[str, ...]
    resource_type: str
    message: str
    source: Source

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["keys"] = list(self.keys)
        return data
