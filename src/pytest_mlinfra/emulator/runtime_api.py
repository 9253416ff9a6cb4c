"""The Lambda Runtime API one worker talks to (what the Lambda service serves inside a sandbox).

``awslambdaric`` long-polls ``GET /2018-06-01/runtime/invocation/next`` and posts the outcome to
``.../invocation/{id}/response`` or ``.../{id}/error``; an import failure goes to
``/2018-06-01/runtime/init/error``. Each worker gets its own tiny server on 127.0.0.1 so a stuck or
killed worker cannot disturb another; responses go out in one write with Nagle off, which keeps the
warm overhead around a millisecond.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_PREFIX = "/2018-06-01/runtime"


@dataclass
class Invocation:
    """One request to the function and, once ``done`` is set, its outcome."""

    request_id: str
    payload: bytes
    timeout_ms: int
    function_arn: str
    done: threading.Event = field(default_factory=threading.Event)
    result: bytes = b""
    error: bool = False
    started: float = 0.0
    finished: float = 0.0
    deadline_ms: int = 0  # epoch ms, set when the runtime takes the event


class RuntimeChannel:
    """The queue between the emulator (producer) and the worker's runtime client (consumer)."""

    def __init__(self) -> None:
        self.pending: queue.Queue[Invocation] = queue.Queue()
        self.in_flight: dict[str, Invocation] = {}
        self.ready = threading.Event()  # the worker finished init and asked for work
        self.ready_at = 0.0
        self.init_error: bytes | None = None
        self.closed = threading.Event()

    def next(self) -> Invocation | None:
        if not self.ready.is_set():
            self.ready_at = time.monotonic()
            self.ready.set()
        while not self.closed.is_set():
            try:
                invocation = self.pending.get(timeout=0.5)
            except queue.Empty:
                continue
            invocation.started = time.monotonic()
            invocation.deadline_ms = int(time.time() * 1000) + invocation.timeout_ms
            self.in_flight[invocation.request_id] = invocation
            return invocation
        return None

    def finish(self, request_id: str, body: bytes, error: bool) -> bool:
        invocation = self.in_flight.pop(request_id, None)
        if invocation is None:
            return False
        invocation.finished = time.monotonic()
        invocation.result, invocation.error = body, error
        invocation.done.set()
        return True

    def fail_init(self, body: bytes) -> None:
        self.init_error = body
        self.ready_at = time.monotonic()
        self.ready.set()
        while True:
            try:
                invocation = self.pending.get_nowait()
            except queue.Empty:
                break
            invocation.finished = time.monotonic()
            invocation.result, invocation.error = body, True
            invocation.done.set()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: RuntimeServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the worker's own output is the log that matters."""

    def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        head = [f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}", f"Content-Length: {len(body)}"]
        head += [f"{key}: {value}" for key, value in (headers or {}).items()]
        head.append("Content-Type: application/json")
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)

    def do_GET(self) -> None:
        if self.path != f"{_PREFIX}/invocation/next":
            self._reply(404, b'{"errorMessage": "unknown runtime API path"}')
            return
        invocation = self.server.channel.next()
        if invocation is None:
            self._reply(410, b'{"errorMessage": "worker is shutting down"}')
            self.close_connection = True
            return
        self._reply(
            200,
            invocation.payload,
            {
                "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": invocation.function_arn,
                "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{invocation.request_id[:24]}",
            },
        )

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = self.path[len(_PREFIX) :].strip("/").split("/")
        channel = self.server.channel
        if parts == ["init", "error"]:
            channel.fail_init(_error_body(body, self.headers.get("Lambda-Runtime-Function-Error-Type")))
            self._reply(202, b'{"status": "OK"}')
        elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            is_error = parts[2] == "error"
            if is_error:
                body = _error_body(body, self.headers.get("Lambda-Runtime-Function-Error-Type"))
            if channel.finish(parts[1], body, is_error):
                self._reply(202, b'{"status": "OK"}')
            else:
                self._reply(400, b'{"errorMessage": "unknown or finished request id"}')
        else:
            self._reply(404, b'{"errorMessage": "unknown runtime API path"}')


def _error_body(body: bytes, error_type: str | None) -> bytes:
    """Error payload as the Lambda service returns it: errorMessage, errorType, stackTrace."""
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        data = {"errorMessage": body.decode("utf-8", "replace")}
    if not isinstance(data, dict):
        data = {"errorMessage": str(data)}
    if error_type and "errorType" not in data:
        data["errorType"] = error_type
    data.setdefault("errorType", "Runtime.Unknown")
    data.setdefault("stackTrace", [])
    data.pop("requestId", None)
    return json.dumps(data).encode()


class RuntimeServer(ThreadingHTTPServer):
    """A Runtime API on 127.0.0.1 and a free port, serving one worker's channel."""

    daemon_threads = True

    def __init__(self, channel: RuntimeChannel) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.channel = channel
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"

    def close(self) -> None:
        self.channel.closed.set()
        self.shutdown()
        self.server_close()
