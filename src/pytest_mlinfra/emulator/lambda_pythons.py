"""The Python a declared Lambda runtime runs on, and the managed runtime's packages built for it.

AWS runs a ``python3.12`` function on CPython 3.12, with the runtime interface client and boto3 in
``/var/runtime``. Here the same holds: the interpreter for the declared version is found on this
machine (``MLINFRA_LAMBDA_PYTHON`` when it is that version, this process's own, ``python3.12`` on
PATH, pyenv's versions, uv's managed interpreters), and awslambdaric and boto3 are installed once
per (runtime, architecture, versions) into the cache from binary wheels for that Python and a
manylinux platform, by pip, as AWS's packaging guide tells users to build. The versions are the
ones installed beside the emulator (the lock) or, where those have no wheel for an old Python,
the newest release below them that has one.

Running every runtime on the emulator's own Python is a declared stand-in
(``mlinfra_lambda_host_python``, ``MLINFRA_LAMBDA_HOST_PYTHON=1``), never a silent fallback: a
handler that imports fine on 3.11 can fail on 3.12, and a cp311 extension cannot load on 3.12.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from pytest_mlinfra.emulator.config import HOST_PYTHON_ENV, host_python_from_env
from pytest_mlinfra.errors import MlinfraError

PYTHON_ENV = "MLINFRA_LAMBDA_PYTHON"  # an interpreter to use for its own version
HOST_ENV = HOST_PYTHON_ENV  # "1": every runtime runs on the emulator's Python (stand-in)
RUNTIME_DISTRIBUTIONS = ("awslambdaric", "boto3")
# Amazon Linux 2 (python3.8-3.11) has glibc 2.26, Amazon Linux 2023 (python3.12+) glibc 2.34.
_GLIBC = {"al2": 26, "al2023": 34}
_PY = re.compile(r"^python(\d)\.(\d+)$")


@dataclass(frozen=True)
class RuntimePython:
    """The interpreter that runs a runtime's handlers, and where its runtime packages live."""

    runtime: str
    python: str
    found_by: str  # "this Python", "PATH", "pyenv", "uv", PYTHON_ENV, or the stand-in's name
    packages: str = ""  # a directory holding awslambdaric/boto3 for it ("" = the interpreter's own)
    stand_in: bool = False  # the host's Python standing in for another version (declared)

    def describe(self) -> str:
        if self.stand_in:
            return (
                f"Lambda runtime {self.runtime} runs on this Python {_running()} "
                f"(a declared stand-in: {HOST_ENV} / mlinfra_lambda_host_python)"
            )
        return f"Lambda runtime {self.runtime} runs on {self.python} ({self.found_by})"


def python_version(runtime: str) -> str | None:
    """``python3.12`` -> ``3.12``; None for a runtime that is not a Python one."""
    match = _PY.match(runtime)
    return f"{match.group(1)}.{match.group(2)}" if match else None


def _running() -> str:
    return f"{sys.version_info[0]}.{sys.version_info[1]}"


@functools.cache
def _reports(python: str, wanted: str) -> bool:
    """Whether ``python`` runs and is CPython ``wanted`` (pyenv shims of other versions fail here)."""
    try:
        proc = subprocess.run(
            [python, "-I", "-S", "-c", "import sys;print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return proc.returncode == 0 and proc.stdout.strip() == wanted


def _patch_key(path: Path) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", path.name)[:3])


def _candidates(wanted: str) -> list[tuple[str, str]]:
    """(interpreter, how it was found), in the order they are tried."""
    found: list[tuple[str, str]] = []
    explicit = os.environ.get(PYTHON_ENV)
    if explicit:
        found.append((explicit, PYTHON_ENV))
    if _running() == wanted:
        found.append((sys.executable, "this Python"))
    on_path = shutil.which(f"python{wanted}")
    if on_path:
        found.append((on_path, "PATH"))
    for pyenv_root in _pyenv_roots():
        for home in sorted((pyenv_root / "versions").glob(f"{wanted}.*"), key=_patch_key, reverse=True):
            found.append((str(home / "bin" / f"python{wanted}"), "pyenv"))
    for uv_root in _uv_roots():
        for home in sorted(uv_root.glob(f"cpython-{wanted}.*-linux-*"), key=_patch_key, reverse=True):
            found.append((str(home / "bin" / f"python{wanted}"), "uv"))
    return found


def _homes() -> list[Path]:
    """``$HOME`` and the account's home: a test harness may point ``$HOME`` elsewhere."""
    import pwd

    homes = [Path.home()]
    with contextlib.suppress(KeyError):
        homes.append(Path(pwd.getpwuid(os.getuid()).pw_dir))
    return list(dict.fromkeys(homes))


def _pyenv_roots() -> list[Path]:
    """``$PYENV_ROOT``, the root of the ``pyenv`` on PATH, and ``~/.pyenv``."""
    roots = [Path(os.environ["PYENV_ROOT"])] if os.environ.get("PYENV_ROOT") else []
    pyenv = shutil.which("pyenv")
    if pyenv:
        roots.append(Path(os.path.realpath(pyenv)).parent.parent)
    roots += [home / ".pyenv" for home in _homes()]
    return list(dict.fromkeys(roots))


def _uv_roots() -> list[Path]:
    if os.environ.get("UV_PYTHON_INSTALL_DIR"):
        return [Path(os.environ["UV_PYTHON_INSTALL_DIR"])]
    roots = [Path(os.environ["XDG_DATA_HOME"]) / "uv" / "python"] if os.environ.get("XDG_DATA_HOME") else []
    roots += [home / ".local" / "share" / "uv" / "python" for home in _homes()]
    return list(dict.fromkeys(roots))


def find_python(runtime: str) -> tuple[str, str] | None:
    """The interpreter for a ``pythonX.Y`` runtime and how it was found; None when there is none."""
    wanted = python_version(runtime)
    if wanted is None:
        return None
    for python, how in _candidates(wanted):
        if Path(python).is_file() and _reports(python, wanted):
            return python, how
    return None


def missing_python(runtime: str) -> MlinfraError:
    wanted = python_version(runtime)
    return MlinfraError(
        f"Lambda runtime {runtime} needs a Python {wanted} to run the handler here; none was found "
        f"({PYTHON_ENV}, PATH, pyenv, uv)",
        f"install one (uv python install {wanted}, or pyenv install {wanted}) or point {PYTHON_ENV} at it; "
        f"or set mlinfra_lambda_host_python = true to run it on this Python {_running()} as a declared "
        "stand-in; nothing was deployed",
    )


def _manylinux_platforms(runtime: str, architecture: str) -> list[str]:
    """The wheel platforms the runtime's Amazon Linux can load, newest glibc first."""
    wanted = python_version(runtime) or "3.12"
    minor = int(wanted.split(".")[1])
    glibc = _GLIBC["al2023" if minor >= 12 else "al2"]
    arch = "aarch64" if architecture == "arm64" else "x86_64"
    tags = [f"manylinux_2_{n}_{arch}" for n in range(glibc, 16, -1)]
    return [*tags, f"manylinux2014_{arch}", "any"]


def _ceilings() -> list[str]:
    """awslambdaric/boto3 no newer than the ones installed beside the emulator (the lock's)."""
    specs = []
    for name in RUNTIME_DISTRIBUTIONS:
        try:
            specs.append(f"{name}<={version(name)}")
        except PackageNotFoundError:
            specs.append(name)
    return specs


@functools.cache
def _has_pip(python: str) -> bool:
    try:
        return subprocess.run([python, "-c", "import pip"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _pip_python(runtime: str) -> str:
    """A Python with pip to run it (a uv-made venv has none: its base interpreter, or the runtime's)."""
    found = find_python(runtime)
    candidates = [sys.executable, getattr(sys, "_base_executable", ""), found[0] if found else ""]
    for python in candidates:
        if python and _has_pip(python):
            return python
    raise MlinfraError(
        f"cannot build packages for {runtime}: no pip beside {sys.executable} or its base interpreter",
        "install pip into this environment (python -m ensurepip)",
    )


def pip_wheels_for(runtime: str, architecture: str, target: Path, requirements: list[str]) -> None:
    """pip-install binary wheels for ``runtime``/``architecture`` into ``target`` (not this Python's).

    The test environment's own constraint file is left out: it pins versions for this Python."""
    wanted = python_version(runtime)
    assert wanted is not None
    cmd = [_pip_python(runtime), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    cmd += ["--no-input", "--no-compile", "--target", str(target), "--only-binary=:all:"]
    cmd += ["--implementation", "cp", "--python-version", wanted]
    for platform in _manylinux_platforms(runtime, architecture):
        cmd += ["--platform", platform]
    env = {k: v for k, v in os.environ.items() if k not in ("PIP_CONSTRAINT", "PIP_REQUIRE_VIRTUALENV")}
    proc = subprocess.run(cmd + requirements, capture_output=True, text=True, env=env, timeout=900)
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.splitlines() if line.startswith("ERROR")] or [
            proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"pip exit {proc.returncode}"
        ]
        raise MlinfraError(
            f"cannot install {' '.join(requirements)} for {runtime} ({architecture}): {lines[0]}",
            "check that each package publishes a binary wheel for that Python and platform",
        )


def _too_new(directory: Path, wanted: str) -> list[str]:
    """``name<version`` for each installed dist whose ``Requires-Python`` excludes ``wanted``."""
    from email.parser import Parser

    from packaging.specifiers import SpecifierSet

    bounds = []
    for meta in directory.glob("*.dist-info/METADATA"):
        headers = Parser().parsestr(meta.read_text(errors="replace"), headersonly=True)
        needs = headers.get("Requires-Python")
        if needs and wanted + ".0" not in SpecifierSet(needs):
            bounds.append(f"{headers['Name']}<{headers['Version']}")
    return bounds


def _pip_honouring_requires_python(
    runtime: str, architecture: str, target: Path, requirements: list[str]
) -> None:
    """pip with ``--python-version`` may take releases whose metadata excludes that Python (an
    index page without ``data-requires-python``): each such release is excluded and pip runs again."""
    wanted = python_version(runtime) or ""
    bounds: list[str] = []
    for _ in range(8):
        pip_wheels_for(runtime, architecture, target, requirements + bounds)
        found = _too_new(target, wanted)
        if not found:
            return
        bounds += found
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
    raise MlinfraError(
        f"cannot find releases of {' '.join(requirements)} that support {runtime}",
        "pin versions that support it in the requirements",
    )


def built_wheels(
    runtime: str, architecture: str, cache: Path, requirements: list[str], identity: object
) -> tuple[Path, bool]:
    """``requirements`` pip-installed for ``runtime`` into a cache directory named by ``identity``
    (what decides its content), built once: (the directory, whether it was already there)."""
    key = hashlib.sha256(repr((identity, runtime, architecture)).encode()).hexdigest()[:16]
    target = cache / f"{runtime}-{architecture}-{key}"
    if target.is_dir():
        return target, True
    partial = cache / f"{target.name}.{os.getpid()}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        _pip_honouring_requires_python(runtime, architecture, partial, requirements)
        shutil.rmtree(partial / "bin", ignore_errors=True)
        partial.rename(target)
    except OSError:  # another process made it first
        pass
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target, False


def runtime_packages(runtime: str, architecture: str, cache: Path) -> Path:
    """The managed runtime's packages for ``runtime``, installed once into ``cache``."""
    requirements = _ceilings()
    return built_wheels(runtime, architecture, cache, requirements, identity=requirements)[0]


def resolve(runtime: str, architecture: str, cache: Path, host: bool | None = None) -> RuntimePython:
    """The interpreter (and runtime packages) that run ``runtime`` here; MlinfraError when none.
    ``host``: every runtime on this Python (the stand-in; None: ``$MLINFRA_LAMBDA_HOST_PYTHON``, how
    LocalStack's executor is configured)."""
    wanted = python_version(runtime)
    if wanted is None or (host_python_from_env() if host is None else host):
        return RuntimePython(runtime, sys.executable, "this Python", stand_in=wanted != _running())
    found = find_python(runtime)
    if found is None:
        raise missing_python(runtime)
    python, how = found
    if how in ("this Python", PYTHON_ENV):  # its own environment has the runtime's packages
        return RuntimePython(runtime, python, how)
    return RuntimePython(runtime, python, how, str(runtime_packages(runtime, architecture, cache)))
