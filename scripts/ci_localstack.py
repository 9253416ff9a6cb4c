#!/usr/bin/env python3
"""CI job: the acceptance suite on a real LocalStack, with our plugin (EFS path) and without (S3 path).

Creates the LocalStack virtualenv when missing (``localstack-core[runtime]==4.13.1``, awslambdaric,
this package editable, no deps), then for each mode starts LocalStack in host mode on 127.0.0.1
with :class:`pytest_mlinfra.localstack_ext.launcher.LocalStack`, runs
``pytest --mlinfra-target=localstack <suite>`` against it and stops it, also when the tests fail
or the job is interrupted. Then the parity harness (``tests/parity``): the same boto3 scenarios and
Terraform stack against the embedded AWS and a fresh Community-like LocalStack, printing the
difference table. Exit status: 0 when every step passed, else the first failure's.

    python scripts/ci_localstack.py [--venv .venv-localstack] [--mode efs|s3] [--suite examples/ner]
        [--no-parity] [-- PYTEST_ARGS]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

REPO = Path(__file__).resolve().parents[1]
# Exact versions of LocalStack and what it needs (scripts/lock.py compiles constraints/localstack.in).
LOCALSTACK_LOCK = REPO / "constraints" / "localstack-lock.txt"
MODES = {
    # mode: (our EFS/DataSync/Lambda providers, what the run must report)
    "efs": (True, "model from EFS via DataSync"),
    "s3": (False, "model from S3 at cold start"),
}


def _log(message: str) -> None:
    print(f"ci-localstack: {message}", flush=True)


def ensure_venv(venv: Path) -> None:
    """LocalStack in its own virtualenv, with this checkout installed into it (no deps: moto-ext stays)."""
    python = venv / "bin" / "python"
    if not python.exists():
        _log(f"creating {venv}")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    # Exactly the lock (pip does nothing when it is met); the test env's PIP_CONSTRAINT is not ours.
    env = {key: value for key, value in os.environ.items() if key != "PIP_CONSTRAINT"}
    _log("installing LocalStack 4.13.1 (host mode) and awslambdaric from constraints/localstack-lock.txt")
    subprocess.run([*pip, "-r", str(LOCALSTACK_LOCK)], check=True, env=env)
    probe = "import pytest_mlinfra.localstack_ext as m, pathlib; print(pathlib.Path(m.__file__).resolve())"
    installed = subprocess.run([str(python), "-c", probe], capture_output=True, text=True)
    expected = (REPO / "src" / "pytest_mlinfra" / "localstack_ext" / "__init__.py").resolve()
    if installed.stdout.strip() != str(expected):
        _log(f"installing {REPO} into {venv} (editable, no deps)")
        subprocess.run([*pip, "--no-deps", "-e", str(REPO)], check=True)


def run_mode(mode: str, venv: Path, suite: str, pytest_args: list[str]) -> int:
    from pytest_mlinfra.localstack_ext.launcher import LocalStack
    from pytest_mlinfra.targets.localstack import LocalStackTarget

    plugin, expected = MODES[mode]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"mlinfra-ci-localstack-{mode}-") as workdir:
        ls = LocalStack(venv, plugin=plugin, executor=True, workdir=Path(workdir))
        with ls:
            target = LocalStackTarget("us-east-1", ls.endpoint_url)
            target.start()  # what the plugin will see: it must be the path this mode is about
            _log(f"[{mode}] up in {time.monotonic() - started:.1f} s: {target.describe()}")
            if expected not in target.describe():
                _log(f"[{mode}] expected '{expected}'")
                return 1
            command = [
                sys.executable,
                "-m",
                "pytest",
                "--mlinfra-target=localstack",
                f"--mlinfra-localstack-endpoint={ls.endpoint_url}",
                "-p",
                "no:cacheprovider",
                suite,
                *pytest_args,
            ]
            result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
            sys.stdout.write(result.stdout)
            sys.stderr.write(result.stderr)
            status = result.returncode
            if status != 0:
                log_tail = ls.log_path.read_text("utf-8", "replace").splitlines()[-40:]
                _log(f"[{mode}] last LocalStack log lines:\n" + "\n".join(log_tail))
    _log(f"[{mode}] pytest exit {status} after {time.monotonic() - started:.1f} s (LocalStack stopped)")
    return status


def run_parity(venv: Path) -> int:
    """tests/parity against a LocalStack it starts itself (its fixture finds the venv through the env)."""
    started = time.monotonic()
    env = {**os.environ, "MLINFRA_LOCALSTACK_VENV": str(venv)}
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs", "tests/parity"]
    status = subprocess.run(command, cwd=REPO, env=env).returncode
    _log(f"[parity] pytest exit {status} after {time.monotonic() - started:.1f} s (LocalStack stopped)")
    return status


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds the with-blocks: LocalStack is stopped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--venv", type=Path, default=REPO / ".venv-localstack")
    parser.add_argument("--mode", choices=sorted(MODES), action="append", help="default: efs, then s3")
    parser.add_argument("--suite", default="examples/ner")
    parser.add_argument("--no-parity", action="store_true", help="skip the parity harness (tests/parity)")
    parser.add_argument("pytest_args", nargs="*")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    # The example's torch (754 MB) reaches the function on EFS in production; here LocalStack's
    # mlinfra executor provides the host's copy instead of an upload: a declared stand-in (the
    # example's mlinfra_lambda_provided), named in the report header and the summary.
    os.environ.setdefault("MLINFRA_LAMBDA_PROVIDED", "torch")
    ensure_venv(args.venv.absolute())
    statuses = [
        run_mode(mode, args.venv.absolute(), args.suite, args.pytest_args)
        for mode in args.mode or ["efs", "s3"]
    ]
    if not args.no_parity:
        statuses.append(run_parity(args.venv.absolute()))
    failed = [status for status in statuses if status != 0]
    return failed[0] if failed else 0


if __name__ == "__main__":
    sys.exit(main())
