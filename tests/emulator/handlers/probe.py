"""A tiny Lambda handler the emulator tests deploy: each entry point exercises one runtime path."""

from __future__ import annotations

import base64
import json
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
    """Async invocations leave a file on the mount ($MODEL_DIR) so the test can see they ran."""
    with open(os.path.join(os.environ.get("MODEL_DIR", "/mnt/shared-storage"), event["name"]), "w") as handle:
        handle.write(context.aws_request_id)
    return {"ok": True}


def echo(event: Any, context: Any) -> Any:
    return event


def sandbox(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """What the execution environment lets the handler see: imports, paths, /tmp."""
    import importlib
    import sys

    importable = {}
    for name in event.get("modules", []):
        try:
            module = importlib.import_module(name)
            importable[name] = str(getattr(module, "__file__", "") or "")
        except ImportError as exc:
            importable[name] = f"ImportError: {exc}"
    stat = os.statvfs("/tmp")
    with open("/tmp/" + context.aws_request_id, "w") as handle:
        handle.write("x")
    return {
        "file": __file__,
        "cwd": os.getcwd(),
        "sys_path": sys.path,
        "imports": importable,
        "tmp_mb": stat.f_blocks * stat.f_frsize // (1024 * 1024),
        "tmp_files": sorted(os.listdir("/tmp")),
        "tmpdir": os.environ.get("TMPDIR", ""),
    }


def hog(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Hold ``mb`` megabytes (touched, so they are resident)."""
    block = bytearray(int(event.get("mb", 64)) * 1024 * 1024)
    for index in range(0, len(block), 4096):
        block[index] = 1
    time.sleep(float(event.get("hold_s", 0.2)))
    return {"held_mb": len(block) // (1024 * 1024)}


def die(event: dict[str, Any], context: Any) -> None:
    """End the runtime the way ``event["how"]`` says: exit status, segfault, SIGKILL."""
    import ctypes
    import signal

    how = event.get("how", "exit")
    if how == "segfault":
        ctypes.string_at(0)
    elif how == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    os._exit(int(event.get("status", 3)))


def span(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Sleep and say when and where: concurrent invocations show their overlap and environments."""
    started = time.time()
    time.sleep(float(event.get("seconds", 1.0)))
    return {"pid": os.getpid(), "loaded_at": LOADED_AT, "started": started, "ended": time.time()}


def respond(event: dict[str, Any], context: Any) -> Any:
    """HTTP front ends: answer what the request body's "answer" says (tests the response mapping)."""
    body = event.get("body") or "{}"
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    request = json.loads(body)
    time.sleep(float(request.get("sleep", 0)))
    return request.get("answer", event)


def log_event(event: Any, context: Any) -> dict[str, Any]:
    """Event sources (SNS): print the event to the function's log, where the test waits for it."""
    print("EVENT " + json.dumps(event))
    return {}
