"""Does a function's resource policy let a caller invoke it? (What AWS checks before an HTTP front end
or an event source may run the function: ``aws_lambda_permission`` / ``AddPermission``.)"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from typing import Any


def statements(backend: Any, function_name: str) -> list[dict[str, Any]]:
    """The statements of the function's resource policy (none when it has no policy)."""
    try:
        policy = json.loads(backend.get_policy(function_name))
    except Exception:  # moto raises its ResourceNotFound when the policy is empty
        return []
    document = policy.get("Policy")
    if isinstance(document, str):
        document = json.loads(document)
    found = (document or {}).get("Statement") or []
    return [s for s in found if isinstance(s, dict)]


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement.get("Action", [])
    return [action] if isinstance(action, str) else list(action)


def _principal_matches(statement: dict[str, Any], service: str | None) -> bool:
    principal = statement.get("Principal")
    if principal == "*" or (isinstance(principal, dict) and principal.get("AWS") == "*"):
        return True
    if service is None or not isinstance(principal, dict):
        return False
    wanted = principal.get("Service")
    return service in ([wanted] if isinstance(wanted, str) else list(wanted or []))


def _source_matches(statement: dict[str, Any], source_arn: str | None) -> bool:
    patterns: list[str] = []
    for operator, conditions in (statement.get("Condition") or {}).items():
        if operator.startswith("Arn") or operator.startswith("String"):
            for key, value in (conditions or {}).items():
                if key.lower() == "aws:sourcearn":
                    patterns += [value] if isinstance(value, str) else list(value)
    if not patterns:
        return True
    return source_arn is not None and any(
        fnmatchcase(source_arn, _with_account(p, source_arn)) for p in patterns
    )


def _with_account(pattern: str, source_arn: str) -> str:
    """An ARN pattern with an empty account field takes the source's account: a provider told to
    skip the account lookup (``skip_requesting_account_id``, as tflocal-style configurations do)
    computes an HTTP API's ``execution_arn`` without one."""
    parts, source = pattern.split(":", 5), source_arn.split(":", 5)
    if len(parts) == 6 and len(source) == 6 and parts[4] == "":
        parts[4] = source[4]
    return ":".join(parts)


def allows(
    backend: Any,
    function_name: str,
    action: str,
    *,
    service: str | None = None,
    source_arn: str | None = None,
    public_only: bool = False,
) -> bool:
    """True when an ``Allow`` statement grants ``action`` to ``service`` (or to everyone) for
    ``source_arn``; ``public_only``: only statements with principal ``*`` count."""
    for statement in statements(backend, function_name):
        if statement.get("Effect", "Allow") != "Allow":
            continue
        if not any(fnmatchcase(action, pattern) for pattern in _actions(statement)):
            continue
        if public_only and statement.get("Principal") != "*":
            continue
        if _principal_matches(statement, service) and _source_matches(statement, source_arn):
            return True
    return False
