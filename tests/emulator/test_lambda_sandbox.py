"""The execution environment through boto3: only what the deployment provides imports, AWS's paths,
a private /tmp, layers at /opt, package limits, memory limit and exit wording as AWS words them."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_mlinfra.emulator import EmbeddedAWS, mounts
from pytest_mlinfra.emulator.lambda_backend import UNZIPPED_LIMIT, check_package

from .conftest import HANDLERS, unique

SANDBOXED = mounts.namespaces_available()
# A tmpfs /tmp would hide an interpreter that lives below /tmp (a checkout or tox env in /tmp): the
# sandbox then keeps the host's /tmp (mounts.private_tmp), and the /tmp checks cannot hold.
INTERPRETER_IN_TMP = any(
    p == "/tmp" or p.startswith("/tmp/") for p in (sys.executable, os.path.realpath(sys.base_prefix))
)


def _zip(files: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _invoke(client: Callable[[str], Any], name: str, event: Any = None) -> tuple[dict[str, Any], Any, str]:
    response = client("lambda").invoke(FunctionName=name, Payload=json.dumps(event or {}), LogType="Tail")
    log = base64.b64decode(response.get("LogResult", "")).decode()
    return response, json.loads(response["Payload"].read() or b"null"), log


def _create(client: Callable[[str], Any], role_arn: str, handler: str, code: bytes, **extra: Any) -> str:
    name = unique(handler.split(".")[-1].replace("_", "-"))
    client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role_arn,
        Handler=handler,
        Code={"ZipFile": code},
        Timeout=extra.pop("Timeout", 10),
        MemorySize=extra.pop("MemorySize", 256),
        **extra,
    )
    return name


def test_handler_sees_its_package_and_the_runtime_only(
    client: Callable[[str], Any], make_function: Callable[..., str]
) -> None:
    name = make_function("sandbox")
    modules = ["boto3", "botocore", "awslambdaric", "json", "moto", "pytest", "pytest_mlinfra", "torch"]
    response, body, _ = _invoke(client, name, {"modules": modules})
    assert "FunctionError" not in response, body
    imports = body["imports"]
    for present in ("boto3", "botocore", "awslambdaric", "json"):
        assert not imports[present].startswith("ImportError"), imports[present]
    for absent in ("moto", "pytest", "pytest_mlinfra", "torch"):  # all in the host venv
        assert imports[absent] == f"ImportError: No module named '{absent}'"
    if SANDBOXED:
        assert body["file"] == "/var/task/probe.py" and body["cwd"] == "/var/task"
        assert imports["boto3"] == "/var/runtime/boto3/__init__.py"
        assert body["sys_path"][:4] == [
            "/var/task",
            "/opt/python/lib/python3.11/site-packages",
            "/opt/python",
            "/var/runtime",
        ]


def test_import_of_an_unpackaged_module_fails_with_aws_text(
    client: Callable[[str], Any], role_arn: str
) -> None:
    code = _zip({"needs_torch.py": (HANDLERS / "needs_torch.py").read_text()})
    name = _create(client, role_arn, "needs_torch.handler", code)
    response, body, _ = _invoke(client, name)
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"] == "Unable to import module 'needs_torch': No module named 'torch'"


@pytest.mark.skipif(not SANDBOXED, reason="needs user namespaces for /var/task")
def test_traceback_shows_var_task_paths(
    client: Callable[[str], Any], make_function: Callable[..., str]
) -> None:
    _, body, log = _invoke(client, make_function("boom"), {"why": "test"})
    assert any('File "/var/task/probe.py"' in line for line in body["stackTrace"]), body["stackTrace"]
    assert str(HANDLERS) not in log


def test_pythonpath_on_the_efs_mount_is_importable(
    aws: EmbeddedAWS,
    client: Callable[[str], Any],
    make_function: Callable[..., str],
    access_point: dict[str, Any],
) -> None:
    packages = aws.efs_storage(access_point["file_system_id"]) / "lambda" / "python" / "efs_only_pkg"
    packages.mkdir(parents=True, exist_ok=True)
    (packages / "__init__.py").write_text("WHERE = 'efs'\n")
    name = make_function(
        "sandbox", mount=True, Environment={"Variables": {"PYTHONPATH": "/mnt/shared-storage/python"}}
    )
    _, body, _ = _invoke(client, name, {"modules": ["efs_only_pkg"]})
    found = body["imports"]["efs_only_pkg"]
    assert found.endswith("/python/efs_only_pkg/__init__.py"), found
    if SANDBOXED:
        assert found == "/mnt/shared-storage/python/efs_only_pkg/__init__.py"


@pytest.mark.skipif(not SANDBOXED, reason="needs user namespaces for a private tmpfs /tmp")
@pytest.mark.skipif(INTERPRETER_IN_TMP, reason="the interpreter lives below /tmp: no private /tmp over it")
def test_private_tmp_per_environment_sized_by_ephemeral_storage(
    client: Callable[[str], Any], make_function: Callable[..., str]
) -> None:
    first = make_function("sandbox", EphemeralStorage={"Size": 700})
    second = make_function("sandbox")
    _, one, _ = _invoke(client, first)
    _, again, _ = _invoke(client, first)
    _, other, _ = _invoke(client, second)
    assert one["tmp_mb"] == 700 and other["tmp_mb"] == 512
    assert len(again["tmp_files"]) == 2  # the same environment keeps its /tmp between invocations
    assert len(other["tmp_files"]) == 1  # and another function's environment has its own


def test_layers_are_seen_under_opt(client: Callable[[str], Any], role_arn: str) -> None:
    lam = client("lambda")
    layer = lam.publish_layer_version(
        LayerName=unique("layer"),
        Content={"ZipFile": _zip({"python/layer_mod.py": "WHERE = 'layer'\n"})},
        CompatibleRuntimes=["python3.11"],
    )
    code = _zip({"probe.py": (HANDLERS / "probe.py").read_text()})
    name = _create(client, role_arn, "probe.sandbox", code, Layers=[layer["LayerVersionArn"]])
    _, body, _ = _invoke(client, name, {"modules": ["layer_mod"]})
    found = body["imports"]["layer_mod"]
    assert found == "/opt/python/layer_mod.py" if SANDBOXED else found.endswith("/python/layer_mod.py")


def test_unzipped_package_over_250_mb_is_refused_as_aws_does(
    client: Callable[[str], Any], role_arn: str
) -> None:
    code = _zip({"probe.py": "x = 1\n", "blob.bin": b"\0" * UNZIPPED_LIMIT})  # compresses to ~250 KB
    lam = client("lambda")
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as caught:
        _create(client, role_arn, "probe.echo", code)
    assert caught.value.response["Error"]["Message"] == "Unzipped size must be smaller than 262144000 bytes"


def test_zipped_package_over_50_mb_is_refused_as_aws_does(
    client: Callable[[str], Any], role_arn: str
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("noise.bin", bytes(range(256)) * (52_428_800 // 256 + 1))
    with pytest.raises(Exception) as caught:
        _create(client, role_arn, "probe.echo", buffer.getvalue())
    error = caught.value.response["Error"]  # type: ignore[attr-defined]
    assert error["Code"] == "RequestEntityTooLargeException"
    assert error["Message"] == "Request must be smaller than 69905067 bytes for the CreateFunction operation"


def test_package_with_layers_over_the_limit_names_both() -> None:
    code = _zip({"a.bin": b"\0" * 200_000_000})
    layer = _zip({"python/b.bin": b"\0" * 70_000_000})
    with pytest.raises(
        Exception, match="Function code combined with layers exceeds the maximum allowed size"
    ):
        check_package(code, [layer], "CreateFunction", direct=True)


def test_worker_over_memory_size_is_killed_as_aws_does(
    client: Callable[[str], Any], make_function: Callable[..., str]
) -> None:
    name = make_function("hog", MemorySize=128)
    response, body, log = _invoke(client, name, {"mb": 40})
    assert "FunctionError" not in response, body
    used = int(log.split("Max Memory Used: ")[1].split()[0])
    assert 40 < used < 128  # measured: the interpreter plus what the handler holds
    response, body, log = _invoke(client, name, {"mb": 200, "hold_s": 2})
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ExitError"
    assert re.fullmatch(
        r"RequestId: [0-9a-f-]{36} Error: Runtime exited with error: signal: killed", body["errorMessage"]
    )
    assert "Status: error\tError Type: Runtime.OutOfMemory" in log
    assert "Max Memory Used: 128 MB" in log


@pytest.mark.parametrize(
    ("how", "wording"),
    [("exit", "exit status 3"), ("segfault", "signal: segmentation fault"), ("kill", "signal: killed")],
)
def test_crashed_runtime_is_worded_as_aws_does(
    client: Callable[[str], Any], make_function: Callable[..., str], how: str, wording: str
) -> None:
    response, body, _ = _invoke(client, make_function("die"), {"how": how})
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ExitError"
    assert body["errorMessage"].endswith(f"Error: Runtime exited with error: {wording}")


def test_sandbox_paths_in_a_fresh_emulator(tmp_path: Path) -> None:
    """The runtime's packages are found for the interpreter that runs handlers."""
    from pytest_mlinfra.emulator.lambda_sandbox import interpreter

    runtime = interpreter()
    names = {name for name, _ in runtime.runtime_entries}
    assert {"awslambdaric", "boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3"} <= names
    assert not names & {"torch", "moto", "pytest"}
