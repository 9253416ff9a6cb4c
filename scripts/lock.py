"""Compile the locks that tox and .ci/run install from, with uv (pip install uv).

python scripts/lock.py            # rewrite constraints/lock.txt, localstack-lock.txt and floor.txt
python scripts/lock.py --check    # exit 1 when a lock no longer satisfies its .in file or pyproject

The locks are for Linux x86_64, CPython 3.11 (the machines CI and the README's commands run on).
Refresh them when the canary (`tox -e latest`, run by .ci/run) is green on newer releases:
`python scripts/lock.py --upgrade` takes the newest releases pyproject admits.
torch is the 2.13.0 CPU wheel (`2.13.0+cpu`): it comes from pip's configured find-links when they
offer it, else from PyTorch's CPU index (https://download.pytorch.org/whl/cpu).
"""

from __future__ import annotations

import argparse
import difflib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONSTRAINTS = REPO / "constraints"
# source -> (lock, uv resolution): the floor lock takes the oldest release of each direct dependency.
LOCKS = {
    CONSTRAINTS / "requirements.in": (CONSTRAINTS / "lock.txt", "highest"),
    CONSTRAINTS / "localstack.in": (CONSTRAINTS / "localstack-lock.txt", "highest"),
    CONSTRAINTS / "floor.in": (CONSTRAINTS / "floor.txt", "lowest-direct"),
}
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def torch_sources() -> list[str]:
    """Where the CPU torch wheel comes from: pip's find-links when set, else PyTorch's CPU index."""
    found = subprocess.run(
        [sys.executable, "-m", "pip", "config", "get", "global.find-links"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    links = [link for link in found if Path(link).is_dir()]
    if links:
        return [arg for link in links for arg in ("--find-links", link)]
    return ["--extra-index-url", TORCH_CPU_INDEX, "--index-strategy", "unsafe-best-match"]


def compile_lock(source: Path, output: Path, upgrade: bool, resolution: str = "highest") -> str:
    uv = shutil.which("uv")
    if uv is None:
        sys.exit("scripts/lock.py needs uv: pip install uv")
    command = [
        uv, "pip", "compile", str(source.relative_to(REPO)),
        "--python-version", "3.11",
        "--no-emit-package", "pytest-mlinfra",
        "--resolution", resolution,
        "--custom-compile-command", "python scripts/lock.py",
        "--quiet",
        "-o", str(output),
        *torch_sources(),
    ]  # fmt: skip
    if upgrade or not output.exists():  # else uv keeps the versions already in the output file
        command.append("--upgrade")
    env = {**os.environ, "UV_NO_CONFIG": "1"}
    subprocess.run(command, cwd=REPO, check=True, env=env)
    # uv writes the find-links it used as a header line; the lock must not name a machine's folders.
    lines = [
        line for line in output.read_text().splitlines(keepends=True) if not line.startswith("--find-links")
    ]
    text = "".join(lines)
    output.write_text(text)
    return text


def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/lock.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--upgrade", action="store_true", help="take the newest releases pyproject admits")
    parser.add_argument("--check", action="store_true", help="exit 1 when a lock is out of date")
    args = parser.parse_args()
    stale = []
    for source, (output, resolution) in LOCKS.items():
        if args.check:
            with tempfile.TemporaryDirectory() as tmp:
                copy = Path(tmp) / output.name
                shutil.copy(output, copy)
                fresh = compile_lock(source, copy, upgrade=False, resolution=resolution)
            if fresh != output.read_text():
                stale.append(output)
                sys.stdout.writelines(
                    difflib.unified_diff(output.read_text().splitlines(True), fresh.splitlines(True))
                )
        else:
            compile_lock(source, output, upgrade=args.upgrade, resolution=resolution)
            print(f"wrote {output.relative_to(REPO)}")
    if stale:
        print(
            f"out of date: {', '.join(str(p.relative_to(REPO)) for p in stale)}; run python scripts/lock.py"
        )
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
