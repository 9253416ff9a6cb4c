"""The declared runtime runs the handler: CPython of that version, awslambdaric and boto3 built for it.

Real interpreters (pyenv/uv/PATH on this machine), real pip resolution of binary wheels for the
runtime's Python and platform, the real runtime interface client. A version this machine lacks is
skipped (the one-line refusal is tested with a fake search path).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_mlinfra.emulator import lambda_pythons
from pytest_mlinfra.errors import MlinfraError

from .conftest import unique

pytestmark = pytest.mark.slow  # real interpreters and pip builds (the floor job skips it)

VERSION_HANDLER = """
import sys, boto3, awslambdaric
def handler(event, context):
    return {"version": list(sys.version_info[:2]), "executable": sys.executable,
            "boto3": boto3.__version__, "path": sys.path}
"""


def _zip(files: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _with_packages(files: dict[str, str | bytes], packages: Path) -> dict[str, str | bytes]:
    """``files`` plus every file below ``packages``, at the zip's root (AWS's packaging guide)."""
    for path in packages.rglob("*"):
        if path.is_file():
            files[str(path.relative_to(packages))] = path.read_bytes()
    return files


def _deploy_and_invoke(client: Callable[[str], Any], role_arn: str, runtime: str, code: bytes) -> Any:
    name = unique(runtime.replace(".", ""))
    client("lambda").create_function(
        FunctionName=name,
        Runtime=runtime,
        Role=role_arn,
        Handler="fn.handler",
        Code={"ZipFile": code},
        Timeout=30,
        MemorySize=256,
    )
    response = client("lambda").invoke(FunctionName=name, Payload=b"{}")
    return response, json.loads(response["Payload"].read())


@pytest.mark.parametrize("runtime", ["python3.8", "python3.10", "python3.12", "python3.13"])
def test_the_declared_python_runs_the_handler(
    client: Callable[[str], Any], role_arn: str, runtime: str
) -> None:
    if lambda_pythons.find_python(runtime) is None:
        pytest.skip(f"no interpreter for {runtime} on this machine")
    response, body = _deploy_and_invoke(client, role_arn, runtime, _zip({"fn.py": VERSION_HANDLER}))
    assert "FunctionError" not in response, body
    assert f"python{body['version'][0]}.{body['version'][1]}" == runtime
    assert not any("site-packages" in p and "venv" in p for p in body["path"]), body["path"]


def test_an_extension_built_for_another_python_fails_as_on_aws(
    client: Callable[[str], Any], role_arn: str, tmp_path: Path
) -> None:
    """PyYAML's C loader built for cp311, imported by a python3.12 function: AWS's ImportModuleError."""
    if lambda_pythons.find_python("python3.12") is None:
        pytest.skip("no interpreter for python3.12 on this machine")
    lambda_pythons.pip_wheels_for("python3.11", "x86_64", tmp_path, ["pyyaml==6.0.2"])
    files = _with_packages(
        {"fn.py": "from yaml import CLoader\ndef handler(event, context):\n    return 'loaded'\n"}, tmp_path
    )
    response, body = _deploy_and_invoke(client, role_arn, "python3.12", _zip(files))
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"].startswith("Unable to import module 'fn': cannot import name 'CLoader'")


def test_a_built_extension_for_the_runtime_imports(
    client: Callable[[str], Any], role_arn: str, tmp_path: Path
) -> None:
    if lambda_pythons.find_python("python3.12") is None:
        pytest.skip("no interpreter for python3.12 on this machine")
    lambda_pythons.pip_wheels_for("python3.12", "x86_64", tmp_path, ["pyyaml==6.0.2"])
    files = _with_packages(
        {
            "fn.py": "import yaml\nfrom yaml import CLoader\n"
            "def handler(event, context):\n    return yaml.load('a: 1', Loader=CLoader)\n"
        },
        tmp_path,
    )
    response, body = _deploy_and_invoke(client, role_arn, "python3.12", _zip(files))
    assert "FunctionError" not in response, body
    assert body == {"a": 1}


def test_no_interpreter_is_one_line_saying_how_to_get_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    monkeypatch.setenv("UV_PYTHON_INSTALL_DIR", str(tmp_path / "uv"))
    monkeypatch.delenv(lambda_pythons.PYTHON_ENV, raising=False)
    monkeypatch.delenv(lambda_pythons.HOST_ENV, raising=False)
    # 3.5: a version no pyenv or uv on this machine has (the account home is searched too)
    with pytest.raises(MlinfraError) as raised:
        lambda_pythons.resolve("python3.5", "x86_64", tmp_path / "cache")
    text = str(raised.value)
    assert "\n" not in text
    assert "Lambda runtime python3.5 needs a Python 3.5 to run the handler here" in text
    assert "uv python install 3.5" in text and "mlinfra_lambda_host_python" in text


def test_the_host_stand_in_is_declared(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(lambda_pythons.HOST_ENV, "1")
    chosen = lambda_pythons.resolve("python3.7", "x86_64", tmp_path)
    assert chosen.stand_in and "declared stand-in" in chosen.describe()


def test_wheel_platforms_follow_the_runtime_os() -> None:
    al2 = lambda_pythons._manylinux_platforms("python3.11", "x86_64")
    al2023 = lambda_pythons._manylinux_platforms("python3.12", "arm64")
    assert al2[0] == "manylinux_2_26_x86_64" and "manylinux_2_28_x86_64" not in al2
    assert al2023[0] == "manylinux_2_34_aarch64" and "manylinux2014_aarch64" in al2023
