"""What one execution environment contains, laid out as on AWS.

On AWS a Python function sees its package at ``/var/task``, its layers under ``/opt``, the managed
runtime (the runtime interface client, boto3/botocore and their dependencies) in ``/var/runtime``,
the standard library, a private ``/tmp`` of ``EphemeralStorage`` MB, and nothing else. Here the
same layout is built for each worker: inside a private mount namespace (see
:mod:`pytest_mlinfra.emulator.mounts`) those paths are bind mounts of host directories; where
namespaces are unavailable the worker keeps host paths, but ``sys.path`` is still restricted
(:mod:`pytest_mlinfra.emulator.lambda_bootstrap`) to the same set of directories.

The runtime's packages (``awslambdaric`` and ``boto3`` and their requirements, by distribution
metadata) are found once per interpreter: in its own environment, or in a directory built for it
(:mod:`pytest_mlinfra.emulator.lambda_pythons`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from pytest_mlinfra.errors import MlinfraError

BOOTSTRAP = Path(__file__).with_name("lambda_bootstrap.py")
RUNTIME_DISTRIBUTIONS = ("awslambdaric", "boto3")  # what the managed Python runtime ships
TASK_ROOT = "/var/task"
RUNTIME_DIR = "/var/runtime"
PROVIDED_DIR = "/var/mlinfra-provided"  # a declared stand-in's packages (MLINFRA_LAMBDA_PROVIDED)
PROVIDED_ENV = "MLINFRA_LAMBDA_PROVIDED"
OPT_DIR = "/opt"

_PROBE = r"""
import importlib.metadata as md, json, re, sys
todo, seen, entries = list(sys.argv[1:]), set(), {}
while todo:
    name = todo.pop()
    key = re.sub(r"[-_.]+", "-", name).lower()
    if key in seen:
        continue
    seen.add(key)
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        continue
    for req in dist.requires or []:
        if "extra ==" not in req:
            todo.append(re.match(r"[A-Za-z0-9_.\-]+", req).group(0))
    for file in dist.files or []:
        first = file.parts[0]
        if first not in ("..", "__pycache__") and not first.endswith(".pth"):
            entries[first] = str(dist.locate_file(first))
print(json.dumps({"version": list(sys.version_info[:3]), "entries": entries}))
"""


@dataclass(frozen=True)
class Interpreter:
    """The Python that runs handlers, and the managed runtime's packages in its environment."""

    python: str
    version: tuple[int, int, int]
    runtime_entries: tuple[tuple[str, str], ...]  # (name in /var/runtime, host path)

    @property
    def runtime_name(self) -> str:
        """The Lambda runtime identifier of this interpreter, e.g. ``python3.11``."""
        return f"python{self.version[0]}.{self.version[1]}"

    @property
    def version_text(self) -> str:
        return ".".join(map(str, self.version))


def _probe_argv(python: str, packages: str) -> list[str]:
    """Probe ``python``'s own environment, or (``packages``) only that directory of packages."""
    if not packages:
        return [python, "-c", _PROBE]
    return [python, "-I", "-S", "-c", f"import sys; sys.path.insert(0, {packages!r})\n{_PROBE}"]


@functools.cache
def interpreter(python: str = "", packages: str = "") -> Interpreter:
    """Probe ``python`` (default: this process's interpreter) once per process; its runtime
    packages are its own environment's, or those in ``packages`` (built for it, see lambda_pythons)."""
    python = python or sys.executable
    try:
        proc = subprocess.run(
            [*_probe_argv(python, packages), *RUNTIME_DISTRIBUTIONS],
            capture_output=True,
            text=True,
            timeout=60,
        )
        data = json.loads(proc.stdout)
    except (OSError, subprocess.SubprocessError, ValueError):
        raise MlinfraError(
            f"cannot run the Lambda interpreter {python}", "point the emulator at a working Python"
        ) from None
    entries = tuple(sorted(data["entries"].items()))
    if not any(name == "awslambdaric" for name, _ in entries):
        raise MlinfraError(
            f"awslambdaric is not installed for {python}", "pip install awslambdaric in that environment"
        )
    major, minor, micro = data["version"]
    return Interpreter(python, (major, minor, micro), entries)


@functools.cache
def provided_entries(python: str, names: tuple[str, ...], packages: str = "") -> tuple[tuple[str, str], ...]:
    """Top-level entries of the named distributions (and their requirements) for ``python``:
    a declared stand-in for packages that production delivers some other way (e.g. on EFS)."""
    if not names:
        return ()
    python = python or sys.executable
    try:
        proc = subprocess.run([python, "-c", _PROBE, *names], capture_output=True, text=True, timeout=60)
        data = json.loads(proc.stdout)
    except (OSError, subprocess.SubprocessError, ValueError):
        raise MlinfraError(
            f"cannot run the Lambda interpreter {python}", "check MLINFRA_LAMBDA_PYTHON"
        ) from None
    runtime = {name for name, _ in interpreter(python, packages).runtime_entries}
    return tuple(sorted((k, v) for k, v in data["entries"].items() if k not in runtime))


def provided_from_env() -> tuple[str, ...]:
    """``MLINFRA_LAMBDA_PROVIDED``: distributions stood in from the host, comma or space separated."""
    return tuple(n for n in os.environ.get(PROVIDED_ENV, "").replace(",", " ").split() if n)


@dataclass(frozen=True)
class Sandbox:
    """Where a worker's files come from on the host, and how big its ``/tmp`` is."""

    task_root: Path
    runtime: Interpreter
    opt_dir: Path | None = None  # the function's layers, extracted in order
    tmp_mb: int = 512
    provided: tuple[tuple[str, str], ...] = ()  # declared stand-in: (name, host path), last on sys.path

    def bind_mounts(self) -> list[tuple[str, str, bool]]:
        """(host path, sandbox path, read only) for the namespace layout."""
        binds = [(str(self.task_root), TASK_ROOT, True)]
        if self.opt_dir is not None:
            binds.append((str(self.opt_dir), OPT_DIR, True))
        binds.append((str(BOOTSTRAP), f"{RUNTIME_DIR}/bootstrap.py", True))
        binds += [(host, f"{RUNTIME_DIR}/{name}", True) for name, host in self.runtime.runtime_entries]
        binds += [(host, f"{PROVIDED_DIR}/{name}", True) for name, host in self.provided]
        return binds

    def relocatable(self) -> bool:
        """Whether ``/var`` and ``/opt`` may be replaced: no host source lives below them."""
        sources = [str(self.task_root), str(BOOTSTRAP), sys.base_prefix, self.runtime.python]
        sources += [host for _, host in self.runtime.runtime_entries + self.provided]
        if self.opt_dir is not None:
            sources.append(str(self.opt_dir))
        return not any(s == root or s.startswith(root + "/") for s in sources for root in ("/var", "/opt"))

    def host_runtime_dir(self, cache: Path) -> Path:
        """For workers without a namespace: a directory of links standing in for ``/var/runtime``."""
        key = hashlib.sha256(repr((self.runtime, self.provided, str(BOOTSTRAP))).encode()).hexdigest()[:12]
        target = cache / key
        if not target.is_dir():
            partial = cache / f"{key}.{os.getpid()}.partial"
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir(parents=True)
            (partial / "bootstrap.py").symlink_to(BOOTSTRAP)
            for name, host in self.runtime.runtime_entries:
                (partial / name).symlink_to(host)
            (partial / "provided").mkdir()
            for name, host in self.provided:
                (partial / "provided" / name).symlink_to(host)
            try:
                partial.rename(target)
            except OSError:  # another worker made it first
                shutil.rmtree(partial, ignore_errors=True)
        return target
