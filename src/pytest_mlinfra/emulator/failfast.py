"""Answer calls moto does not implement with 501, which AWS SDKs and Terraform do not retry.

moto raises ``NotImplementedError`` out of its Flask app for an unknown action; the WSGI server
would turn that into a 500, which boto3 retries a few times and the Terraform provider up to
``max_retries`` times (minutes of waiting for an answer that will never change).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class FailFast:
    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            return self.app(environ, start_response)
        except NotImplementedError as exc:
            return _not_implemented(environ, start_response, str(exc) or "not implemented")


def _not_implemented(
    environ: dict[str, Any], start_response: Callable[..., Any], message: str
) -> list[bytes]:
    message = f"{message} in the pytest-mlinfra embedded AWS"
    content_type = environ.get("CONTENT_TYPE", "")
    if "json" in content_type or environ.get("HTTP_X_AMZ_TARGET"):
        body = json.dumps({"__type": "NotImplemented", "message": message}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.1")]
    else:
        escaped = message.replace("&", "&amp;").replace("<", "&lt;")
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>NotImplemented</Code>"
            f"<Message>{escaped}</Message></Error><RequestId>0</RequestId></ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml")]
    headers += [("x-amzn-ErrorType", "NotImplemented"), ("Content-Length", str(len(body)))]
    start_response("501 Not Implemented", headers)
    return [body]
