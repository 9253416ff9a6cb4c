"""The ``localstack`` target against a health document: endpoint conventions, edition, services.

A tiny HTTP server on 127.0.0.1 serves ``/_localstack/health`` as LocalStack would, so the real
request and parsing path runs without LocalStack installed.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.ports import free_port
from pytest_mlinfra.targets.localstack import LocalStackTarget, default_endpoint

BASE = {"s3": "running", "iam": "available", "sts": "available", "lambda": "available", "logs": "available"}
COMMUNITY = {"services": {**BASE, "ec2": "available"}, "edition": "community", "version": "4.13.1"}
PLUGIN = {
    "services": {**BASE, "ec2": "available", "efs": "available", "datasync": "available"},
    "edition": "unknown",
    "version": "4.13.1",
}


@pytest.fixture
def serve_health() -> Iterator[Callable[[dict[str, Any]], str]]:
    servers: list[ThreadingHTTPServer] = []

    def serve(document: dict[str, Any]) -> str:
        body = json.dumps(document).encode()

        class Health(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200 if self.path == "/_localstack/health" else 404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def test_community_has_no_efs_so_the_model_comes_from_s3(serve_health: Callable[..., str]) -> None:
    target = LocalStackTarget("us-east-1", serve_health(COMMUNITY))
    target.start()
    assert not target.capabilities.model_on_efs
    assert "community edition" in target.describe()
    assert "model from S3 at cold start" in target.describe()


def test_efs_and_datasync_from_the_plugin_mean_the_efs_path(serve_health: Callable[..., str]) -> None:
    target = LocalStackTarget("us-east-1", serve_health(PLUGIN))
    target.start()
    assert target.capabilities.model_on_efs
    assert "LocalStack 4.13.1 host mode" in target.describe()
    assert "model from EFS via DataSync" in target.describe()


def test_efs_without_ec2_is_not_enough(serve_health: Callable[..., str]) -> None:
    services = {k: v for k, v in PLUGIN["services"].items() if k != "ec2"}  # type: ignore[attr-defined]
    target = LocalStackTarget("us-east-1", serve_health({**PLUGIN, "services": services}))
    target.start()
    assert not target.capabilities.model_on_efs


@pytest.mark.parametrize("state", [None, "disabled", "error"])
def test_a_missing_required_service_is_one_clear_line(
    serve_health: Callable[..., str], state: str | None
) -> None:
    services = dict(COMMUNITY["services"])  # type: ignore[call-overload]
    services.pop("lambda") if state is None else services.update({"lambda": state})
    url = serve_health({**COMMUNITY, "services": services})
    with pytest.raises(MlinfraError) as caught:
        LocalStackTarget("us-east-1", url).start()
    message = str(caught.value)
    assert f"LocalStack at {url} lacks services the flow needs: lambda" in message
    assert "\n" not in message


def test_nothing_listening_is_one_clear_line() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(MlinfraError) as caught:
        LocalStackTarget("us-east-1", url).start()
    assert str(caught.value).startswith(f"no LocalStack answers at {url}")
    assert "\n" not in str(caught.value)


def test_endpoint_follows_the_localstack_client_conventions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("LOCALSTACK_HOST", raising=False)
    assert default_endpoint() == "http://127.0.0.1:4566"
    monkeypatch.setenv("LOCALSTACK_HOST", "localhost.localstack.cloud")
    assert default_endpoint() == "http://localhost.localstack.cloud:4566"
    monkeypatch.setenv("LOCALSTACK_HOST", "127.0.0.1:4599")
    assert default_endpoint() == "http://127.0.0.1:4599"
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4510/")
    assert default_endpoint() == "http://127.0.0.1:4510"
    assert LocalStackTarget("us-east-1", "http://127.0.0.1:1234").endpoint_url == "http://127.0.0.1:1234"
