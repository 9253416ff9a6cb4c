"""Lambda's Python runtimes as AWS treats them today, and what that means for a declared runtime.

AWS refuses new functions on a runtime past its "block function create" date, with the
``InvalidParameterValueException`` text in :func:`refusal`; python3.8 is one (hashicorp/aws 3.39,
the provider available offline here, knows nothing newer, so it stays the bundled default and
the plugin warns, or refuses with ``mlinfra_runtime_check = error``). Dates: the runtime
deprecation table in the Lambda developer guide (lambda-runtimes.html).
"""

from __future__ import annotations

import sys

NEWEST = "python3.13"
# runtime -> (deprecated on, block function create on)
_SCHEDULE = {
    "python2.7": ("2021-07-15", "2022-05-30"),
    "python3.6": ("2022-07-18", "2022-08-29"),
    "python3.7": ("2023-12-04", "2024-01-09"),
    "python3.8": ("2024-10-14", "2025-02-28"),
    "python3.9": ("2025-12-15", "2027-02-01"),
}


def refusal(runtime: str) -> str:
    """What AWS answers to CreateFunction with a runtime it no longer accepts."""
    return (
        f"The runtime parameter of {runtime} is no longer supported for creating or updating AWS Lambda "
        f"functions. We recommend you use the new runtime ({NEWEST}) while creating or updating functions."
    )


def refused_for_create(runtime: str, today: str | None = None) -> bool:
    from datetime import date

    when = _SCHEDULE.get(runtime)
    return when is not None and (today or date.today().isoformat()) >= when[1]


def runtime_notice(runtime: str, today: str | None = None) -> str | None:
    """A warning for a runtime AWS deprecated or no longer accepts for new functions, else None."""
    when = _SCHEDULE.get(runtime)
    if when is None:
        return None
    if refused_for_create(runtime, today):
        since = when[1]
        return f"Lambda runtime {runtime}: AWS refuses it for new functions since {since}: {refusal(runtime)}"
    deprecated, blocked = when
    return (
        f"Lambda runtime {runtime} is deprecated since {deprecated}; AWS refuses new functions from {blocked}"
    )


def python_mismatch(runtime: str, running: tuple[int, int, int] | None = None) -> str | None:
    """One line when the declared runtime's Python is not the one that runs the handler here."""
    version = running or sys.version_info[:3]
    here = f"python{version[0]}.{version[1]}"
    if not runtime.startswith("python") or runtime == here:
        return None
    return (
        f"Lambda runtime {runtime} declared; the handler runs on Python {'.'.join(map(str, version))} here "
        "(imports and behaviour of other Python versions are not checked)"
    )
