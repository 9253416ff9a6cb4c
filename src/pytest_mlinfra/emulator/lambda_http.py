"""Run a function for an HTTP front end (function URL, HTTP API) through the Lambda backend's
public ``invoke``: the same execution environments, concurrency limit and logs as ``Invoke``."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from pytest_mlinfra.function import parse_report


@dataclass(frozen=True)
class Result:
    payload: bytes
    error: bool  # the function raised, timed out or crashed (``X-Amz-Function-Error``)
    throttled: bool  # no execution environment free (``TooManyRequestsException``)
    report: str  # the REPORT line ("" when none)


def invoke(backend: Any, function_name: str, event: dict[str, Any]) -> Result:
    response_headers: dict[str, str] = {}
    try:
        payload = backend.invoke(function_name, None, json.dumps(event).encode(), {}, response_headers)
    except Exception as exc:  # the backend's 429 (JsonRESTError with code 429)
        if getattr(exc, "code", None) == 429:
            return Result(b"", False, True, "")
        raise
    tail = base64.b64decode(response_headers.get("x-amz-log-result", "") or b"").decode("utf-8", "replace")
    report = next((line for line in reversed(tail.splitlines()) if line.startswith("REPORT")), "")
    return Result(payload or b"", "X-Amz-Function-Error" in response_headers, False, report)


def report_header(report: str) -> list[tuple[str, str]]:
    """``X-Mlinfra-Report`` (emulator only, AWS sends no such header): the invocation's duration and
    init duration, so an HTTP client can tell cold from warm calls as the Invoke client does."""
    duration, init = parse_report(report)
    if duration is None:
        return []
    value = f"duration={duration}" + (f"; init={init}" if init is not None else "")
    return [("X-Mlinfra-Report", value)]
