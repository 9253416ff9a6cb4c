"""Call a deployed Lambda function like its users do, and measure how long each call takes.

Works for any model or handler: :class:`FunctionClient` sends a JSON event and returns the answer
with its timing. Each invocation asks for the log tail (``LogType=Tail``) so the function's own
``REPORT`` line gives the server-side duration and, on a cold start, the init duration; the client
wall time is measured around the call. Model packs (:mod:`pytest_mlinfra.ner`) build on it.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pytest_mlinfra.latency import LatencyLog, Sample

_REPORT = re.compile(r"REPORT RequestId: \S+\s+Duration: (?P<duration>[\d.]+) ms(?P<rest>.*)")
_INIT = re.compile(r"Init Duration: (?P<init>[\d.]+) ms")


class FunctionError(Exception):
    """The function crashed, timed out, or answered with a structured ``{"error": ...}``."""

    def __init__(self, error_type: str, message: str, payload: Any = None) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message
        self.payload = payload


@dataclass(frozen=True)
class Invocation:
    payload: Any
    sample: Sample
    function_error: str | None
    log_tail: str
    function_name: str = ""

    @property
    def failed(self) -> bool:
        """The function crashed or answered with a structured ``{"error": ...}``."""
        return bool(self.function_error) or (isinstance(self.payload, dict) and "error" in self.payload)


# Called with every invocation of every client: the HTML report keeps the log tails of the failing
# ones next to the test that made them (see report.results.SessionResults.observing).
INVOCATION_OBSERVERS: list[Callable[[Invocation], None]] = []


def parse_report(log_tail: str) -> tuple[float | None, float | None]:
    """(duration ms, init duration ms) from a Lambda REPORT line; None where absent."""
    for line in reversed(log_tail.splitlines()):
        match = _REPORT.search(line)
        if match:
            init = _INIT.search(match.group("rest"))
            return float(match.group("duration")), float(init.group("init")) if init else None
    return None, None


@dataclass
class FunctionClient:
    """``client(event) -> dict`` (raises :class:`FunctionError`), ``client.invoke(event)`` (raw),
    and ``client.latencies``: every call's timing, for the session's latency budget."""

    lambda_client: Any
    function_name: str
    latencies: LatencyLog = field(default_factory=LatencyLog)

    def __repr__(self) -> str:
        return f"FunctionClient({self.function_name!r}, {len(self.latencies.samples)} calls)"

    def invoke(self, event: Any) -> Invocation:
        """Send any event (also malformed ones) and return the raw answer with its timing."""
        started = time.perf_counter()
        response = self.lambda_client.invoke(
            FunctionName=self.function_name,
            Payload=json.dumps(event).encode(),
            LogType="Tail",
        )
        raw = response["Payload"].read()
        client_ms = (time.perf_counter() - started) * 1000
        log_tail = base64.b64decode(response.get("LogResult") or b"").decode("utf-8", "replace")
        duration_ms, init_ms = parse_report(log_tail)
        sample = Sample(client_ms=client_ms, duration_ms=duration_ms, init_ms=init_ms)
        self.latencies.add(sample)
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = raw.decode("utf-8", "replace")
        invocation = Invocation(payload, sample, response.get("FunctionError"), log_tail, self.function_name)
        for observer in INVOCATION_OBSERVERS:
            observer(invocation)
        return invocation

    def __call__(self, event: Any) -> dict[str, Any]:
        """The answer to ``event`` as a JSON object; a crash or an ``{"error": ...}`` raises."""
        result = self.invoke(event)
        payload = result.payload
        if result.function_error:
            details = payload if isinstance(payload, dict) else {}
            raise FunctionError(
                str(details.get("errorType", result.function_error)),
                str(details.get("errorMessage", payload)),
                payload,
            )
        if not isinstance(payload, dict):
            raise FunctionError("BadResponse", f"expected a JSON object, got {payload!r}", payload)
        if "error" in payload:
            error = payload["error"] if isinstance(payload["error"], dict) else {}
            raise FunctionError(str(error.get("type")), str(error.get("message")), payload)
        return payload
