"""The tagging policy: which keys every resource needs, what values they may take, who is exempt.

One object, built from arguments or from ``[tool.mlinfra-audit]`` in a ``pyproject.toml``, and one
judging function, so the static, plan/state and live audits apply exactly the same rules.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from pytest_mlinfra.audit.findings import Finding, Source
from pytest_mlinfra.audit.tagset import TagSet
from pytest_mlinfra.errors import MlinfraError

DEFAULT_REQUIRE: tuple[str, ...] = ("Name", "Environment")
SECTION = "mlinfra-audit"


@dataclass(frozen=True)
class Policy:
    """Required keys; optional allowed values or a regex (full match) per key; exempt address globs."""

    require: tuple[str, ...] = DEFAULT_REQUIRE
    allowed: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    pattern: Mapping[str, str] = field(default_factory=dict)
    exempt: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "require", tuple(self.require))
        object.__setattr__(self, "exempt", tuple(self.exempt))
        object.__setattr__(self, "allowed", {k: tuple(v) for k, v in self.allowed.items()})
        compiled = {}
        for key, regex in self.pattern.items():
            try:
                compiled[key] = re.compile(regex)
            except re.error as exc:
                raise MlinfraError(
                    f"the pattern for tag {key!r} is not a valid regex ({exc})", "fix it in the policy"
                ) from None
        object.__setattr__(self, "_compiled", compiled)

    @classmethod
    def from_pyproject(cls, path: Path, **overrides: Any) -> Policy:
        """Read ``[tool.mlinfra-audit]``; keyword overrides (e.g. ``require=``) win over the file."""
        try:
            data = tomllib.loads(Path(path).read_text("utf-8"))
        except OSError as exc:
            raise MlinfraError(f"cannot read {path} ({exc.strerror})", "check the --config path") from None
        except tomllib.TOMLDecodeError as exc:
            raise MlinfraError(f"{path} is not valid TOML ({exc})", "fix the file") from None
        section = data.get("tool", {}).get(SECTION)
        if section is None:
            raise MlinfraError(f"{path} has no [tool.{SECTION}] section", "add one or drop --config")
        return cls.from_mapping(section, str(path), **overrides)

    @classmethod
    def from_mapping(cls, section: Mapping[str, Any], where: str = "policy", **overrides: Any) -> Policy:
        """Build from a mapping with the config-file keys: require, allowed, pattern, exempt."""
        unknown = set(section) - {"require", "allowed", "pattern", "exempt"}
        if unknown:
            raise MlinfraError(
                f"{where}: unknown key(s) {', '.join(sorted(unknown))} in [tool.{SECTION}]",
                "use require, allowed, pattern, exempt",
            )
        kwargs: dict[str, Any] = {}
        try:
            if "require" in section:
                kwargs["require"] = _strings(section["require"])
            if "allowed" in section:
                kwargs["allowed"] = {str(k): _strings(v) for k, v in dict(section["allowed"]).items()}
            if "pattern" in section:
                kwargs["pattern"] = {str(k): _string(v) for k, v in dict(section["pattern"]).items()}
            if "exempt" in section:
                kwargs["exempt"] = _strings(section["exempt"])
        except (TypeError, ValueError) as exc:
            raise MlinfraError(f"{where}: [tool.{SECTION}] {exc}", "see the README for the format") from None
        kwargs.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**kwargs)

    def is_exempt(self, address: str) -> bool:
        return any(fnmatchcase(address, glob) for glob in self.exempt)

    def check(self, address: str, resource_type: str, tags: TagSet, source: Source) -> list[Finding]:
        """Judge one resource's effective tags; at most one finding per kind."""
        if self.is_exempt(address):
            return []
        missing: list[str] = []
        unsure: list[str] = []
        bad: list[str] = []
        for key in self.require:
            if key not in tags.values:
                (unsure if tags.open else missing).append(key)
        for key in sorted(set(self.allowed) | set(self.pattern)):
            if key not in tags.values:
                continue
            value = tags.values[key]
            if value is None:
                unsure.append(key)
            elif not self._value_ok(key, value):
                bad.append(key)
        findings = []
        if missing:
            findings.append(
                Finding(
                    address,
                    "missing",
                    tuple(missing),
                    resource_type,
                    f"missing tag(s) {', '.join(missing)}",
                    source,
                )
            )
        if bad:
            detail = ", ".join(f"{k}={tags.values[k]!r} ({self._expected(k)})" for k in bad)
            findings.append(
                Finding(
                    address,
                    "bad-value",
                    tuple(bad),
                    resource_type,
                    f"tag value(s) not allowed: {detail}",
                    source,
                )
            )
        if unsure:
            reasons = dict.fromkeys(tags.explain(k) for k in unsure)
            findings.append(
                Finding(
                    address,
                    "undecidable",
                    tuple(unsure),
                    resource_type,
                    f"cannot tell tag(s) {', '.join(unsure)}: {'; '.join(reasons)}",
                    source,
                )
            )
        return findings

    def _value_ok(self, key: str, value: str) -> bool:
        if key in self.allowed and value not in self.allowed[key]:
            return False
        regex: re.Pattern[str] | None = self.__dict__["_compiled"].get(key)
        return regex is None or regex.fullmatch(value) is not None

    def _expected(self, key: str) -> str:
        parts = []
        if key in self.allowed:
            parts.append("one of " + "/".join(self.allowed[key]))
        if key in self.pattern:
            parts.append(f"matching {self.pattern[key]}")
        return " and ".join(parts)


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, Iterable) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"expected a list of strings, got {value!r}")
    return tuple(value)


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value
