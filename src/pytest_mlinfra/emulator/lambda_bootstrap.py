"""The first code inside an execution environment, run as ``python -I -S bootstrap.py <handler>``.

``-I -S`` give an interpreter that sees only the standard library (no site-packages, no
``PYTHONPATH``, no current directory). This script then builds ``sys.path`` the way the Lambda
Python runtime has it: the function's package, the ``PYTHONPATH`` the function sets (e.g. packages
on an EFS mount), the layers under ``/opt``, the runtime's own packages (awslambdaric, boto3,
botocore and their dependencies), a declared stand-in's packages (``MLINFRA_LAMBDA_PROVIDED``),
then the standard library. Anything else does not import, so a handler that depends on the host's
virtualenv fails here as it would on AWS (``Runtime.ImportModuleError``). Standard library only:
nothing else is importable yet.
Runs on every Python a runtime can name (3.8 up): no syntax or annotation newer than that.
"""

from __future__ import annotations

import os
import sys


def lambda_path() -> list[str]:
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    extra = [entry for entry in os.environ.get("PYTHONPATH", "").split(":") if entry]
    front = [os.environ.get("LAMBDA_TASK_ROOT", "/var/task"), *extra]
    front += [f"/opt/python/lib/{version}/site-packages", "/opt/python"]
    front.append(os.environ.get("LAMBDA_RUNTIME_DIR", "/var/runtime"))
    if os.environ.get("MLINFRA_PROVIDED_DIR"):  # a declared stand-in (MLINFRA_LAMBDA_PROVIDED)
        front.append(os.environ["MLINFRA_PROVIDED_DIR"])
    seen: set[str] = set()
    return [p for p in front + sys.path if not (p in seen or seen.add(p))]  # type: ignore[func-returns-value]


def main() -> None:
    sys.path[:] = lambda_path()
    os.chdir(os.environ.get("LAMBDA_TASK_ROOT", "/var/task"))
    from awslambdaric.__main__ import main as run_runtime

    run_runtime([sys.argv[0], sys.argv[1]])


if __name__ == "__main__":
    main()
