"""Call a deployed HTTP endpoint (function URL, API Gateway stage) like its users do, with timing.

On an emulator (``endpoint_url`` set: the ``local`` and ``localstack`` targets) the endpoint's AWS
host does not resolve; the client connects to the emulator and sends the endpoint's host in the
``Host`` header, which is how the emulator routes it (LocalStack routes its own
``*.lambda-url.<region>.localhost.localstack.cloud`` hosts the same way). On AWS it connects to the
URL itself. ``sign=True`` signs each request with SigV4 for the ``lambda`` service (function URLs
with ``AuthType=AWS_IAM``), from the given botocore credentials.

Latencies go into the same :class:`~pytest_mlinfra.latency.LatencyLog` as the Invoke client's (the
session's budget and report). Cold starts are known where the endpoint says so: the embedded AWS
sends ``X-Mlinfra-Report``; elsewhere every call counts as warm.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.function import FunctionError, Invocation
from pytest_mlinfra.latency import LatencyLog, Sample


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    sample: Sample

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpClient:
    """``client.request(method, path, body=..., headers=...) -> HttpResponse``, ``client.post_json``,
    and, like :class:`~pytest_mlinfra.function.FunctionClient`, ``client(event) -> dict`` and
    ``client.invoke(event)`` (the event sent as the JSON body of a POST), so model packs run over HTTP."""

    url: str
    endpoint_url: str | None = None
    latencies: LatencyLog = field(default_factory=LatencyLog)
    sign: bool = False
    credentials: Any = field(default=None, repr=False)
    region: str = "us-east-1"
    timeout_s: float = 60.0
    _pool: Any = field(default=None, init=False, repr=False)

    def __repr__(self) -> str:  # one line: a Hypothesis counterexample must fit on a screen
        return f"HttpClient({self.url!r}, {len(self.latencies.samples)} calls)"

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise MlinfraError(
                f"HTTP endpoint {self.url!r} is not an http(s) URL",
                "name a stack output holding the endpoint, e.g. function_url",
            )
        self.host = parts.netloc
        self.base_path = parts.path.rstrip("/")

    def _connection(self) -> Any:
        if self._pool is None:
            import urllib3

            target = urlsplit(self.endpoint_url or self.url)
            cls = urllib3.HTTPSConnectionPool if target.scheme == "https" else urllib3.HTTPConnectionPool
            port = target.port or (443 if target.scheme == "https" else 80)
            self._pool = cls(
                target.hostname or "127.0.0.1",
                port,
                maxsize=16,
                timeout=urllib3.Timeout(connect=10, read=self.timeout_s),
                retries=False,
            )
        return self._pool

    def request(
        self, method: str, path: str = "", body: bytes = b"", headers: dict[str, str] | None = None
    ) -> HttpResponse:
        """Send one request to ``path`` under the endpoint ("": the endpoint's own path) and return
        the answer with its timing."""
        if path:
            full_path = self.base_path + (path if path.startswith("/") else "/" + path)
        else:
            full_path = self.base_path or "/"
        send = {"Host": self.host, **(headers or {})}
        if self.sign:
            send = self._signed(method, full_path, body, send)
        started = time.perf_counter()
        response = self._connection().urlopen(
            method, full_path, body=body or None, headers=send, redirect=False, assert_same_host=False
        )
        data = response.data
        client_ms = (time.perf_counter() - started) * 1000
        answer_headers: dict[str, str] = {}
        for key, value in response.headers.items():  # repeated headers (Set-Cookie) joined by ", "
            key = key.lower()
            answer_headers[key] = f"{answer_headers[key]}, {value}" if key in answer_headers else value
        duration_ms, init_ms = _report(answer_headers.get("x-mlinfra-report", ""))
        sample = Sample(client_ms=client_ms, duration_ms=duration_ms, init_ms=init_ms)
        self.latencies.add(sample)
        return HttpResponse(int(response.status), answer_headers, data, sample)

    def signed(self) -> HttpClient:
        """The same endpoint, each request signed with SigV4 (``AuthType=AWS_IAM`` function URLs)."""
        return HttpClient(
            self.url,
            endpoint_url=self.endpoint_url,
            latencies=self.latencies,
            sign=True,
            credentials=self.credentials,
            region=self.region,
            timeout_s=self.timeout_s,
        )

    def post_json(self, document: Any, path: str = "") -> HttpResponse:
        body = json.dumps(document).encode()
        return self.request("POST", path, body, {"Content-Type": "application/json"})

    def _signed(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> dict[str, str]:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        if self.credentials is None:
            raise MlinfraError("signing needs credentials", "pass credentials= (a botocore Credentials)")
        request = AWSRequest(method=method, url=f"https://{self.host}{path}", data=body, headers=headers)
        SigV4Auth(self.credentials, "lambda", self.region).add_auth(request)
        return dict(request.headers.items())

    # -- the FunctionClient interface, over HTTP ------------------------------------------------

    def invoke(self, event: Any) -> Invocation:
        """POST ``event`` as JSON. The answer's JSON object is the payload whatever the status (a
        handler's own 4xx/5xx error response); any other answer with status >= 400 (the front end's
        502 for a crash, 403, 429) is reported as the function error ``HTTP <status>``."""
        response = self.post_json(event)
        try:
            payload: Any = response.json() if response.body else None
        except ValueError:
            payload = response.body.decode("utf-8", "replace")
        own_answer = isinstance(payload, dict) and response.status != 403
        error = None if response.status < 400 or own_answer else f"HTTP {response.status}"
        return Invocation(payload, response.sample, error, "")

    def __call__(self, event: Any) -> dict[str, Any]:
        """The answer to ``event`` as a JSON object; a 5xx, a non-object or ``{"error": ...}`` raises."""
        result = self.invoke(event)
        payload = result.payload
        if result.function_error:
            raise FunctionError(result.function_error, str(payload), payload)
        if not isinstance(payload, dict):
            raise FunctionError("BadResponse", f"expected a JSON object, got {payload!r}", payload)
        if "error" in payload:
            error = payload["error"] if isinstance(payload["error"], dict) else {}
            raise FunctionError(str(error.get("type")), str(error.get("message")), payload)
        return payload

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None


def _report(value: str) -> tuple[float | None, float | None]:
    figures = dict(part.strip().partition("=")[::2] for part in value.split(";") if "=" in part)
    try:
        duration = float(figures["duration"]) if "duration" in figures else None
        init = float(figures["init"]) if "init" in figures else None
    except ValueError:
        return None, None
    return duration, init
