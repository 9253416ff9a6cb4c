"""DataSync include/exclude filters (``FilterRule`` with ``FilterType=SIMPLE_PATTERN``), as AWS applies them.

From "Filtering data transferred by DataSync": a filter's ``Value`` is patterns joined by ``|``;
patterns are case sensitive and relative to the source location's path; ``/dir`` and ``/dir/``
both match the folder and everything in it; ``*`` is a wildcard; in S3 the ``/`` in a key is a
folder separator. Only what matches an include filter is transferred (when there are includes),
and an exclude filter wins over an include. A pattern without a leading ``/`` (``*.tmp``) matches
at any depth.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from typing import Any


def patterns(rules: Iterable[dict[str, Any]] | None) -> list[str]:
    """The patterns of a ``[{"FilterType": "SIMPLE_PATTERN", "Value": "a|b"}]`` list."""
    found: list[str] = []
    for rule in rules or []:
        for pattern in str(rule.get("Value") or "").split("|"):
            pattern = pattern.strip()
            if pattern and pattern != "/":
                found.append(pattern.rstrip("/") if len(pattern) > 1 else pattern)
    return found


def matches(relative_path: str, pattern: str) -> bool:
    """Whether ``relative_path`` (``a/b/c.txt``, relative to the location) or a folder above it matches."""
    if not pattern.startswith(("/", "*")):
        pattern = "*/" + pattern
    pattern = pattern.replace("[", "[[]")  # only * is special in DataSync filters
    path = "/" + relative_path.strip("/")
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(1, len(parts))]
    return any(fnmatch.fnmatchcase(candidate, pattern) for candidate in candidates)


def selected(relative_path: str, includes: list[str], excludes: list[str]) -> bool:
    """Whether a file at ``relative_path`` is transferred under these include/exclude patterns."""
    if includes and not any(matches(relative_path, pattern) for pattern in includes):
        return False
    return not any(matches(relative_path, pattern) for pattern in excludes)
