"""How a worker gets its execution-environment layout and its EFS mounts without Docker or root.

Preferred: a private user+mount namespace (``unshare -rm``). Inside it the worker's wrapper first
lays out the sandbox (:class:`pytest_mlinfra.emulator.lambda_sandbox.Sandbox`): a tmpfs over
``/var`` holding the function's package at ``/var/task`` (read only) and the managed runtime's
packages at ``/var/runtime``, layers at ``/opt``, and last a private tmpfs ``/tmp`` of the
function's ephemeral storage size. Then it bind
mounts the access point's host directory at ``LocalMountPath`` (e.g. ``/mnt/shared-storage``).
When that path does not exist on the host, a tmpfs is mounted over its parent (``/mnt``) first so
the mount point can be created; inside the worker the parent then shows only the EFS mounts.
When the access point names a POSIX identity (``PosixUser``, else ``CreationInfo`` owner), the
runtime is then started in a nested user namespace (``unshare --map-user/--map-group``) where
that uid/gid is us: the handler runs as that user and sees the access point's files owned by
it, as through a real access point. Nothing changes on the host: the mounts vanish with the worker.

Fallback (no ``unshare``, namespaces disabled, or ``MLINFRA_EMULATOR_MOUNT=env``): the worker runs
in the host namespace and every function environment variable whose value starts with
``LocalMountPath`` is rewritten to the host directory, with a one-time warning. A handler that
hard-codes the mount path instead of reading it from an environment variable will not find its
files in that mode.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import shutil
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

from pytest_mlinfra.emulator.lambda_sandbox import OPT_DIR, Sandbox
from pytest_mlinfra.errors import MlinfraError

MOUNT_PATH = re.compile(r"^/mnt/[A-Za-z0-9_.\-]+$")
_warned = False


@dataclass(frozen=True)
class Mount:
    host_dir: Path
    mount_path: str
    identity: tuple[int, int] | None = None  # uid, gid the function acts as through the mount


def check_mount_path(path: str) -> None:
    if not MOUNT_PATH.match(path):
        raise MlinfraError(
            f"LocalMountPath {path!r} is not allowed by Lambda",
            "use a path of the form /mnt/<name> (letters, digits, - _ .)",
        )


@functools.cache
def namespaces_available() -> bool:
    """True when ``unshare -rm`` can set up mounts here (checked once per process)."""
    if os.environ.get("MLINFRA_EMULATOR_MOUNT", "").lower() == "env":
        return False
    unshare = shutil.which("unshare")
    if unshare is None or not Path("/proc/self/ns/mnt").exists():
        return False
    probe = "mount -t tmpfs mlinfra-probe /mnt 2>/dev/null || mount -t tmpfs mlinfra-probe /tmp"
    try:
        return (
            subprocess.run([unshare, "-rm", "sh", "-c", probe], capture_output=True, timeout=10).returncode
            == 0
        )
    except (OSError, subprocess.SubprocessError):
        return False


@functools.cache
def _map_user_available() -> bool:
    probe = "exec unshare --map-user=1000 --map-group=1000 -U -- true"
    try:
        return (
            subprocess.run(["unshare", "-rm", "sh", "-c", probe], capture_output=True, timeout=10).returncode
            == 0
        )
    except (OSError, subprocess.SubprocessError):
        return False


def relocates(mounts: list[Mount], sandbox: Sandbox | None) -> bool:
    """Whether the worker gets the AWS layout (``/var/task``, ``/var/runtime``, private ``/tmp``)."""
    return (
        sandbox is not None
        and namespaces_available()
        and sandbox.relocatable()
        and not any(_hidden_by_tmpfs(m) for m in mounts)
        and not any(str(m.host_dir).startswith("/var/") for m in mounts)
    )


def wrap(
    argv: list[str], mounts: list[Mount], env: dict[str, str], sandbox: Sandbox | None = None
) -> list[str]:
    """The command that runs ``argv`` with the sandbox laid out and ``mounts`` visible (or, as
    fallback, ``env`` rewritten to host paths)."""
    if relocates(mounts, sandbox):
        return _namespace_command(argv, mounts, sandbox)
    if not mounts:
        return argv
    if namespaces_available() and not any(_hidden_by_tmpfs(m) for m in mounts):
        return _namespace_command(argv, mounts, None)
    _rewrite_env(mounts, env)
    return argv


def _hidden_by_tmpfs(mount: Mount) -> bool:
    parent = str(Path(mount.mount_path).parent)
    return str(mount.host_dir).startswith(parent.rstrip("/") + "/")


def _bind(source: str, target: str, read_only: bool) -> str:
    src, dst = shlex.quote(source), shlex.quote(target)
    make = (
        f"mkdir -p {dst}"
        if Path(source).is_dir()
        else f"mkdir -p {shlex.quote(str(Path(target).parent))}; touch {dst}"
    )
    line = f"{make}; mount --bind {src} {dst}"
    if read_only:
        line += f"; mount -o remount,bind,ro {dst} 2>/dev/null || true"
    return line


def _sandbox_lines(sandbox: Sandbox) -> list[str]:
    lines = ["mount -t tmpfs -o mode=755 mlinfra-var /var"]
    if sandbox.opt_dir is not None:
        lines.append(f"mount -t tmpfs -o mode=755 mlinfra-opt {OPT_DIR}")
    lines += [_bind(source, target, ro) for source, target, ro in sandbox.bind_mounts()]
    return lines


def private_tmp(sandbox: Sandbox | None) -> bool:
    """A tmpfs ``/tmp`` hides the host's: only when the interpreter does not live below it."""
    return sandbox is not None and not any(
        p == "/tmp" or p.startswith("/tmp/")
        for p in (sandbox.runtime.python, os.path.realpath(sys.base_prefix))
    )


def _namespace_command(argv: list[str], mounts: list[Mount], sandbox: Sandbox | None) -> list[str]:
    lines = ["set -e"]
    if sandbox is not None:
        lines += _sandbox_lines(sandbox)
    parents: dict[str, str] = {}
    for mount in mounts:
        parent = str(Path(mount.mount_path).parent)
        flag = parents.setdefault(parent, f"tmpfs_{len(parents)}")
        target, source = shlex.quote(mount.mount_path), shlex.quote(str(mount.host_dir))
        lines.append(
            f'if [ ! -d {target} ]; then if [ -z "${{{flag}:-}}" ]; then '
            f"mount -t tmpfs -o mode=755 mlinfra-efs {shlex.quote(parent)}; {flag}=1; fi; "
            f"mkdir -p {target}; fi"
        )
        lines.append(f"mount --bind {source} {target}")
    if sandbox is not None and private_tmp(sandbox):
        lines.append(f"mount -t tmpfs -o size={max(1, sandbox.tmp_mb)}m,mode=1777 mlinfra-tmp /tmp")
    identity = next((m.identity for m in mounts if m.identity is not None), None)
    if identity is not None and _map_user_available():
        uid, gid = identity
        lines.append(f'exec unshare --map-user={uid} --map-group={gid} -U -- "$@"')
    else:
        lines.append('exec "$@"')
    return ["unshare", "-rm", "--", "sh", "-c", "\n".join(lines), "mlinfra-sandbox", *argv]


def _rewrite_env(mounts: list[Mount], env: dict[str, str]) -> None:
    global _warned
    for key, value in list(env.items()):
        for mount in mounts:
            if value == mount.mount_path or value.startswith(mount.mount_path.rstrip("/") + "/"):
                env[key] = str(mount.host_dir) + value[len(mount.mount_path) :]
    if not _warned:
        _warned = True
        warnings.warn(
            "mount namespaces are unavailable here: Lambda file system mounts are emulated by rewriting "
            "environment variables that point under LocalMountPath to the host directory",
            RuntimeWarning,
            stacklevel=2,
        )
