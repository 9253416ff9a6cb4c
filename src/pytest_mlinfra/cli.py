"""``mlinfra``: one console script, subcommands registered in :data:`COMMANDS`.

Each entry names a ``module:function`` taking the remaining argv and returning the exit code; the
module is imported only when its subcommand runs, so ``mlinfra runs`` never imports the audit or
boto3. Add a subcommand by adding one row. ``python -m pytest_mlinfra`` is the same command.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass

PROG = "mlinfra"


@dataclass(frozen=True)
class Command:
    summary: str
    target: str  # "package.module:function", called with argv (list[str]) -> exit code

    def load(self) -> Callable[[list[str]], int]:
        module, _, function = self.target.partition(":")
        entry: Callable[[list[str]], int] = getattr(importlib.import_module(module), function)
        return entry


COMMANDS: dict[str, Command] = {
    "init": Command(
        "write a minimal repo (stack, handler, model, tests, CI) that passes", "pytest_mlinfra.scaffold:main"
    ),
    "audit": Command(
        "cost-tag audit of Terraform source, a plan/state, or live resources", "pytest_mlinfra.audit.cli:main"
    ),
    "summary": Command(
        "print a --mlinfra-json report as Markdown (CI step summary)",
        "pytest_mlinfra.report.step_summary:main",
    ),
    "runs": Command(
        "list the runs on this machine: status, age, target, what remains", "pytest_mlinfra.reap:runs_main"
    ),
    "reap": Command("finish what crashed or interrupted runs left deployed", "pytest_mlinfra.reap:reap_main"),
    "up": Command("start the embedded AWS as a background service", "pytest_mlinfra.service_cli:up_main"),
    "down": Command("destroy the kept stacks, stop the embedded AWS", "pytest_mlinfra.service_cli:down_main"),
    "status": Command("what runs (the service) and what is kept", "pytest_mlinfra.service_cli:status_main"),
}


def version() -> str:
    """The installed distribution's version (what ``pip show pytest-mlinfra`` says)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("pytest-mlinfra")
    except PackageNotFoundError:
        return "unknown (not installed)"


def usage() -> str:
    width = max(len(name) for name in COMMANDS)
    rows = "\n".join(f"  {name.ljust(width)}  {command.summary}" for name, command in COMMANDS.items())
    tail = f"{PROG} COMMAND --help for a command's options"
    return f"usage: {PROG} [--version] COMMAND [ARGS...]\n\ncommands:\n{rows}\n\n{tail}\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:  # a command is required: help on stderr, usage error
        sys.stderr.write(usage())
        return 2
    if args[0] in {"-h", "--help"}:
        sys.stdout.write(usage())
        return 0
    if args[0] in {"-V", "--version"}:
        sys.stdout.write(f"{PROG} {version()}\n")
        return 0
    name, rest = args[0], args[1:]
    _line_buffered()
    command = COMMANDS.get(name)
    if command is None:
        sys.stderr.write(f"{PROG}: error: unknown command {name!r}. Use one of: {', '.join(COMMANDS)}\n")
        return 2
    return command.load()(rest)


def _line_buffered() -> None:
    """Progress lines reach a log file or a pipe (cron, ``| tee``) as they happen, not at exit
    (stderr is line-buffered by Python already)."""
    reconfigure = getattr(sys.stdout, "reconfigure", None)  # absent on a replaced stdout
    if reconfigure is not None:
        reconfigure(line_buffering=True)


if __name__ == "__main__":
    sys.exit(main())
