"""Terraform's provider version constraints, evaluated here: which mirrored versions a stack admits.

Before ``init`` the plugin decides, per provider, whether the mirrors can serve it (then the registry
is never asked) or not (then only the registry can). That takes Terraform's own constraint rules
(``apparentlymart/go-versions``, "Ruby style"), reproduced exactly for what stacks write:

- ``=``/none, ``!=``, ``>``, ``>=``, ``<``, ``<=``, ``~>``; several joined by commas (all must hold);
- a partial version means its missing parts are zero (``>= 3.39`` is ``>= 3.39.0``; ``= 3`` is
  ``= 3.0.0``);
- ``~>`` allows the rightmost given part to grow: ``~> 1.2`` and ``~> 1`` are ``>= 1.2.0, < 2.0.0``
  and ``>= 1.0.0, < 2.0.0``; ``~> 1.2.3`` is ``>= 1.2.3, < 1.3.0``;
- a prerelease (``3.0.0-beta1``) is chosen only when an ``=`` constraint names it exactly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

_VERSION = re.compile(
    r"^(?P<major>\d+)(?:\.(?P<minor>\d+))?(?:\.(?P<patch>\d+))?"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+(?P<meta>[0-9A-Za-z.-]+))?$"
)
_ONE = re.compile(r"^\s*(?P<op>~>|>=|<=|!=|=|>|<)?\s*(?P<version>\S+)\s*$")


@dataclass(frozen=True)
class Version:
    """A semantic version as Terraform orders them (build metadata ignored)."""

    major: int
    minor: int = 0
    patch: int = 0
    pre: str = ""

    @classmethod
    def parse(cls, text: str) -> Version:
        found = _VERSION.match(text.strip())
        if found is None:
            raise ValueError(f"{text!r} is not a version")
        return cls(
            int(found["major"]), int(found["minor"] or 0), int(found["patch"] or 0), found["pre"] or ""
        )

    @property
    def sort_key(self) -> tuple[Any, ...]:
        """A release sorts after its prereleases; prerelease parts compare numerically when numeric."""
        parts = tuple((0, int(p)) if p.isdigit() else (1, p) for p in self.pre.split(".")) if self.pre else ()
        return (self.major, self.minor, self.patch, 0 if self.pre else 1, parts)

    def __lt__(self, other: Version) -> bool:
        return self.sort_key < other.sort_key

    def __le__(self, other: Version) -> bool:
        return self.sort_key <= other.sort_key

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}" + (f"-{self.pre}" if self.pre else "")


@dataclass(frozen=True)
class Constraint:
    """One ``op version`` term; :func:`parse_constraints` reads a comma-separated list of them."""

    op: str
    version: Version
    parts: int  # how many of major.minor.patch were written (``~>`` depends on it)

    def admits(self, candidate: Version) -> bool:
        bound = self.version
        if self.op == "=":
            return candidate == bound
        if self.op == "!=":
            return candidate != bound
        if self.op == ">":
            return bound < candidate
        if self.op == ">=":
            return bound <= candidate
        if self.op == "<":
            return candidate < bound
        if self.op == "<=":
            return candidate <= bound
        # ~>: at least the bound, below the next minor (three parts given) or the next major.
        upper = (
            Version(bound.major, bound.minor + 1, 0) if self.parts == 3 else Version(bound.major + 1, 0, 0)
        )
        return bound <= candidate and candidate < upper

    def __str__(self) -> str:
        return f"{self.op} {self.version}"


def parse_constraints(text: str) -> list[Constraint]:
    """``">= 3.39, < 4.0"`` -> its terms; raises ValueError where Terraform would refuse the string."""
    terms = []
    for piece in text.split(","):
        found = _ONE.match(piece)
        if found is None:
            raise ValueError(f"invalid version constraint {text!r}")
        written = found["version"]
        version = Version.parse(written)  # ValueError for "v1.0", "1.x", "1.2.3.4"
        numbers = re.match(r"^[\d.]+", written)
        parts = len((numbers[0] if numbers else "").rstrip(".").split("."))
        terms.append(Constraint(found["op"] or "=", version, parts))
    return terms


def admits(constraints: Iterable[str], candidate: Version) -> bool:
    """Whether ``candidate`` meets every constraint string (each may hold a comma list).

    A prerelease is admitted only when some ``=`` term names it, as Terraform selects them.
    """
    terms = [term for text in constraints for term in parse_constraints(text)]
    if candidate.pre and not any(t.op == "=" and t.version == candidate for t in terms):
        return False
    return all(term.admits(candidate) for term in terms)


def newest_admitted(constraints: Iterable[str], versions: Iterable[Version]) -> Version | None:
    """The newest of ``versions`` that ``constraints`` admit (None: none, or a constraint is invalid)."""
    wanted = list(constraints)
    try:
        admitted = [v for v in versions if admits(wanted, v)]
    except ValueError:
        return None  # Terraform reports the invalid constraint itself, with file and line
    return max(admitted, key=lambda v: v.sort_key) if admitted else None
