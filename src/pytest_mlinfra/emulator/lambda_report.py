"""Log lines the Lambda service writes around each invocation (START, END, REPORT), as AWS words them.

``LogType=Tail`` returns the last 4 KB of these plus what the handler printed, base64 encoded.
REPORT fields are tab separated like on AWS; ``Init Duration`` appears only after a cold start.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from datetime import UTC, datetime

TAIL_BYTES = 4096


@dataclass
class Report:
    request_id: str
    version: str
    duration_ms: float
    memory_mb: int
    max_memory_mb: int
    init_ms: float | None = None
    status: str | None = None  # "timeout" / "error" as AWS appends for a failed sandbox
    error_type: str | None = None  # e.g. Runtime.OutOfMemory, with status "error"


def timed_out_line(request_id: str, timeout_s: float) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return f"{stamp} {request_id} Task timed out after {timeout_s:.2f} seconds\n"


def render(report: Report, output: str) -> str:
    """START, the handler's output, END and REPORT for one invocation."""
    fields = [
        f"REPORT RequestId: {report.request_id}",
        f"Duration: {report.duration_ms:.2f} ms",
        f"Billed Duration: {max(1, math.ceil(report.duration_ms + (report.init_ms or 0)))} ms",
        f"Memory Size: {report.memory_mb} MB",
        f"Max Memory Used: {report.max_memory_mb} MB",
    ]
    if report.init_ms is not None:
        fields.append(f"Init Duration: {report.init_ms:.2f} ms")
    if report.status:
        fields.append(f"Status: {report.status}")
    if report.error_type:
        fields.append(f"Error Type: {report.error_type}")
    if output and not output.endswith("\n"):
        output += "\n"
    return (
        f"START RequestId: {report.request_id} Version: {report.version}\n"
        f"{output}"
        f"END RequestId: {report.request_id}\n" + "\t".join(fields) + "\t\n"
    )


def tail(log: str) -> str:
    """The ``X-Amz-Log-Result`` header value: base64 of the last 4 KB."""
    return base64.b64encode(log.encode("utf-8")[-TAIL_BYTES:]).decode("ascii")
