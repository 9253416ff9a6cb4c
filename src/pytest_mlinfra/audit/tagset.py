"""What we know about a resource's effective tags, including what we could not work out.

The static audit cannot always evaluate every expression. Rather than guess, a :class:`TagSet`
records which keys are surely there, which values are unknown (``None``), and whether unseen keys
might exist (``open``), so the policy can say ``undecidable`` exactly where it has to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class TagSet:
    """Keys surely present -> value (None: unknown, ``why[key]`` says why); ``open``: more keys may
    exist (``reason`` says why)."""

    values: Mapping[str, str | None] = field(default_factory=dict)
    open: bool = False
    reason: str = ""
    why: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def known(cls, tags: Mapping[str, object] | None) -> TagSet:
        """A fully known tag map (plan/state/live), values made strings the way AWS stores them."""
        return cls({str(k): _text(v) for k, v in (tags or {}).items()})

    def merged(self, later: TagSet) -> TagSet:
        """``merge(self, later)``: later wins; an open later map may override any earlier value."""
        values: dict[str, str | None] = dict.fromkeys(self.values, None) if later.open else dict(self.values)
        why = dict(self.why)
        if later.open:
            why.update(dict.fromkeys(self.values, f"may be overridden ({later.reason})"))
        values.update(later.values)
        why.update(later.why)
        for key, value in later.values.items():
            if value is not None:
                why.pop(key, None)
        reasons = "; ".join(r for r in (self.reason, later.reason) if r)
        return TagSet(values, self.open or later.open, reasons, why)

    def explain(self, key: str) -> str:
        """Why ``key`` (absent or with an unknown value) cannot be judged."""
        if key in self.values:
            return self.why.get(key) or self.reason or "its value is unknown"
        return self.reason or "more keys may exist"


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
