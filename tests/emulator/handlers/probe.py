"""A tiny Lambda handler the emulator tests deploy: each entry point exercises one runtime path."""

from __future__ import annotations

import os
import time
from typing import Any

LOADED_AT = time.time()  # changes only on a cold start
IMPORT_DELAY_S = float(os.environ.get("PROBE_IMPORT_DELAY_S", "0"))
time.sleep(IMPORT_DELAY_S)


def read_file(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Read a file below the EFS mount path (default /mnt/shared-storage, or $MODEL_DIR)."""
    root = os.environ.get("MODEL_DIR", "/mnt/shared-storage")
    path = os.path.join(root, event["name"])
    with open(path, "rb") as handle:
        data = handle.read()
    print(f"read {len(data)} bytes from {path}")
    return {"size": len(data), "text": data.decode("utf-8", "replace"), "root": root, "uid": os.getuid()}


def info(event: dict[str, Any], context: Any) -> dict[str, Any]:
    print("info called")
    return {
        "loaded_at": LOADED_AT,
        "pid": os.getpid(),
        "event": event,
        "function_name": context.function_name,
        "memory_limit_in_mb": int(context.memory_limit_in_mb),
        "request_id": context.aws_request_id,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "env": {k: v for k, v in os.environ.items() if k.startswith(("AWS_LAMBDA_", "MLINFRA_", "_HANDLER"))},
    }


def boom(event: dict[str, Any], context: Any) -> None:
    raise ValueError(f"boom: {event.get('why', 'no reason')}")


def sleepy(event: dict[str, Any], context: Any) -> dict[str, Any]:
    time.sleep(float(event.get("seconds", 10)))
    return {"slept": True}


def write_marker(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Async invocations leave a file behind so the test can see they ran."""
    with open(event["path"], "w") as handle:
        handle.write(context.aws_request_id)
    return {"ok": True}


def echo(event: Any, context: Any) -> Any:
    return event
