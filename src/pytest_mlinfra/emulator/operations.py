"""The emulator's operation layer: parsed request dict in, response dict out, moto behind it.

What the emulator adds to or changes in an AWS operation is a handler registered here under
(service, botocore operation name). The layer sits in front of moto's server: it recognises the
operation, decodes the request with botocore's service model into the dict a boto3 caller passed,
calls the handler, and serialises its dict (or its :class:`AwsError`) in the protocol the caller
spoke. A handler that needs moto's own answer calls :meth:`Call.moto`, which sends the request
through moto's server and parses the reply with botocore, exactly as a client would (what
LocalStack's ``call_moto`` does). So nothing here depends on how moto's response classes parse
requests or build responses, which is what moto keeps changing between releases; requests for
operations without a handler go to moto untouched.

Protocols handled: ``json`` (``X-Amz-Target``) and ``smithy-rpc-v2-cbor``
(``POST /service/<target prefix>/operation/<name>``); both are what AWS SDKs send to DataSync
today (botocore speaks CBOR, the Terraform provider JSON).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from pytest_mlinfra.emulator import moto_surface

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Handler = Callable[["Call"], dict[str, Any]]

_HANDLERS: dict[tuple[str, str], Handler] = {}
_CBOR_PATH = re.compile(r"^/service/(?P<prefix>[^/]+)/operation/(?P<operation>[^/]+)$")
_REGION = re.compile(r"Credential=[^/]+/[^/]+/(?P<region>[^/]+)/")
_ACCESS_KEY = re.compile(r"Credential=(?P<key>[^/]+)/")


class AwsError(Exception):
    """An AWS error response: its code (``__type``), message and HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def operation(service: str, name: str) -> Callable[[Handler], Handler]:
    """Register ``handler`` for botocore operation ``name`` of ``service`` (botocore's service name)."""

    def register(handler: Handler) -> Handler:
        _HANDLERS[(service, name)] = handler
        return handler

    return register


def handler_for(service: str, name: str) -> Handler | None:
    """The emulator's handler of an operation, None where moto answers it (also used inside LocalStack)."""
    return _HANDLERS.get((service, name))


@dataclass
class Call:
    """One intercepted request: what the caller asked, and a way to ask moto the same.

    ``ask_moto`` is how this front end reaches moto: through moto's server here, through
    LocalStack's ``call_moto`` inside LocalStack (:mod:`pytest_mlinfra.localstack_ext.plugins`).
    """

    service: str
    operation: str
    params: dict[str, Any]
    region: str
    account_id: str
    ask_moto: Callable[[dict[str, Any] | None], dict[str, Any]] = field(repr=False)

    def moto(self, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """moto's answer to this operation (with ``params`` instead of the caller's, if given), parsed.

        A moto error is raised as :class:`AwsError` with moto's code, message and status.
        """
        return self.ask_moto(params)


def _moto_over_wsgi(
    app: WSGIApp, environ: dict[str, Any], body: bytes, service: str, name: str, protocol: str
) -> Callable[[dict[str, Any] | None], dict[str, Any]]:
    """Ask moto's server in process, as a client would, and parse its reply with botocore."""

    def ask(params: dict[str, Any] | None) -> dict[str, Any]:
        from botocore.parsers import create_parser

        model = _operation_model(service, name)
        request_environ = dict(environ)
        request_body = body
        if params is not None:
            from botocore.serialize import create_serializer

            serializer = create_serializer(protocol, include_validation=False)
            serialized = serializer.serialize_to_request(params, model)["body"]
            request_body = serialized if isinstance(serialized, bytes) else serialized.encode()
        request_environ["wsgi.input"] = io.BytesIO(request_body)
        request_environ["CONTENT_LENGTH"] = str(len(request_body))
        status, headers, payload = _run(app, request_environ)
        response = {"status_code": status, "headers": headers, "body": payload}
        parsed: dict[str, Any] = create_parser(protocol).parse(
            response, model.output_shape if status < 300 else None
        )
        if status >= 300:
            error = parsed.get("Error", {})
            raise AwsError(str(error.get("Code") or status), str(error.get("Message", "")), status)
        parsed.pop("ResponseMetadata", None)
        return parsed

    return ask


def answer(call: Call) -> dict[str, Any]:
    """Run the registered handler of ``call``; a moto exception it lets through becomes :class:`AwsError`."""
    handler = _HANDLERS[(call.service, call.operation)]
    try:
        return handler(call)
    except AwsError:
        raise
    except Exception as exc:  # a moto exception raised by a backend method the handler called
        fields = moto_surface.error_fields(exc)
        if fields is None:
            raise
        raise AwsError(*fields) from None


class OperationLayer:
    """WSGI middleware: operations with a registered handler are answered here, the rest by ``app``."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        found = _recognise(environ)
        if found is None:
            return self.app(environ, start_response)
        service, name, protocol = found
        body = _read_body(environ)
        environ["wsgi.input"] = io.BytesIO(body)  # moto can still read it when we fall through
        try:
            params = _decode(protocol, body, service, name)
        except Exception:
            return self.app(environ, start_response)  # not ours to judge: moto answers as it does
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        region = _REGION.search(authorization)
        key = _ACCESS_KEY.search(authorization)
        call = Call(
            service=service,
            operation=name,
            params=params,
            region=region.group("region") if region else "us-east-1",
            account_id=moto_surface.account_id_for(key.group("key") if key else "AKIAEXAMPLE"),
            ask_moto=_moto_over_wsgi(self.app, environ, body, service, name, protocol),
        )
        try:
            status, payload, error_type = 200, _encode(protocol, answer(call), service, name), ""
        except AwsError as exc:
            status, payload, error_type = exc.status, _encode_error(protocol, exc), exc.code
        content_type = (
            "application/cbor" if protocol == "smithy-rpc-v2-cbor" else "application/x-amz-json-1.1"
        )
        headers = [("Content-Type", content_type), ("Content-Length", str(len(payload)))]
        if protocol == "smithy-rpc-v2-cbor":
            headers.append(("smithy-protocol", "rpc-v2-cbor"))
        if error_type:
            headers.append(("x-amzn-ErrorType", error_type))
        start_response(f"{status} {_REASONS.get(status, 'Error')}", headers)
        return [payload]


_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 409: "Conflict", 500: "Internal Server Error"}


@cache
def _service_model(service: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


def _operation_model(service: str, name: str) -> Any:
    return _service_model(service).operation_model(name)


@cache
def _services_by_target_prefix() -> dict[str, str]:
    """``FmrsService`` -> ``datasync`` for the services that have handlers."""
    return {
        _service_model(service).metadata["targetPrefix"]: service
        for service in {service for service, _ in _HANDLERS}
        if _service_model(service).metadata.get("targetPrefix")
    }


def _recognise(environ: dict[str, Any]) -> tuple[str, str, str] | None:
    """(service, operation, protocol) when the request is an operation with a handler, else None."""
    if environ.get("REQUEST_METHOD") != "POST" or not _HANDLERS:
        return None
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target and "." in target:
        prefix, name = target.rsplit(".", 1)
        protocol = "json"
    else:
        match = _CBOR_PATH.match(environ.get("PATH_INFO", ""))
        if match is None:
            return None
        prefix, name = match.group("prefix"), match.group("operation")
        protocol = "smithy-rpc-v2-cbor"
    service = _services_by_target_prefix().get(prefix)
    if service is None or (service, name) not in _HANDLERS:
        return None
    return service, name, protocol


def _read_body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ["wsgi.input"]
    return bytes(stream.read(length) if length else stream.read())


def _decode(protocol: str, body: bytes, service: str, name: str) -> dict[str, Any]:
    """The request's parameters as the caller's SDK had them (types per the input shape)."""
    from botocore.parsers import create_parser

    shape = _operation_model(service, name).input_shape
    if shape is None or not body:
        return {}
    parsed: dict[str, Any] = create_parser(protocol).parse(
        {"status_code": 200, "headers": {}, "body": body}, shape
    )
    parsed.pop("ResponseMetadata", None)
    return parsed


def _epoch(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _encode(protocol: str, result: dict[str, Any], service: str, name: str) -> bytes:
    if protocol == "json":
        return json.dumps(result, default=_epoch).encode()
    from botocore.serialize import CBORSerializer

    shape = _operation_model(service, name).output_shape
    if shape is None:
        return b""
    body = bytearray()
    CBORSerializer()._serialize_data_item(body, result, shape)  # botocore's encoder for this shape
    return bytes(body)


def _encode_error(protocol: str, error: AwsError) -> bytes:
    document = {"__type": error.code, "message": error.message}
    if protocol == "json":
        return json.dumps(document).encode()
    from botocore.serialize import CBORSerializer

    body = bytearray()
    serializer = CBORSerializer()
    serializer._serialize_type_map(body, document, _STRING_MAP, None)
    return bytes(body)


class _StringShape:
    type_name = "string"
    serialization: dict[str, Any] = {}


class _StringMapShape:
    type_name = "map"
    key = _StringShape()
    value = _StringShape()


_STRING_MAP = _StringMapShape()


def _run(app: WSGIApp, environ: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    """Call a WSGI app in process; its status, headers (lower-case names) and body."""
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        answer["status"] = int(status.split(" ", 1)[0])
        answer["headers"] = {name.lower(): value for name, value in headers}

    chunks = app(environ, start_response)
    try:
        payload = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return answer["status"], answer["headers"], payload
