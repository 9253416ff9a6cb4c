"""``mlinfra runs`` and ``mlinfra reap``: find the runs of this machine again and finish them.

A run that crashed (SIGKILL, a dead CI runner, a second Ctrl-C) leaves its run dir with its ledger
(:mod:`pytest_mlinfra.ledger`) and, usually, its Terraform state. ``reap`` first deletes the
children the state may lack and no tag can find (an EFS file system's mount targets, created just
before the kill), then destroys from the state when it is there; when it is gone (or destroy leaves
something), it sweeps by the run's ``mlinfra:run-id`` tag (:mod:`pytest_mlinfra.sweep`). Clean run
dirs are removed; failed ones are kept and listed. On ``aws`` nothing is deleted without ``--yes``.

SIGINT, SIGTERM and SIGHUP stop a reap (``timeout 150 mlinfra reap`` must not leave a provider
behind): Terraform gets an interrupt and :data:`INTERRUPT_GRACE_S` to stop, then its process group
(the provider with it) is killed; nothing is lost, the next reap starts over from what remains.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pytest_mlinfra import interrupts
from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.ledger import DESTROY_FAILED, DESTROYED, Ledger, endpoint_listening, iter_ledgers
from pytest_mlinfra.targets import target_class
from pytest_mlinfra.terraform.toolchain import cache_root

#  How long an interrupted reap lets terraform destroy stop by itself before its process group is
#  killed: a destroy can wait on a held subnet for 45 min without heeding the interrupt, and a reap
#  loses nothing by stopping (the next one refreshes, or sweeps by tag when the state is unreadable).
INTERRUPT_GRACE_S = 10.0


def default_runs_dir() -> Path:
    return cache_root() / "runs"


def state_resources(ledger: Ledger) -> list[str]:
    """Addresses of the managed resources in the run's state file (empty: none, or no state)."""
    path = Path(ledger.state_path) if ledger.state_path else ledger.run_dir / "stack" / "terraform.tfstate"
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    addresses = []
    for resource in state.get("resources", []):
        if resource.get("mode") != "managed" or not resource.get("instances"):
            continue
        prefix = f"{resource['module']}." if resource.get("module") else ""
        addresses.append(f"{prefix}{resource['type']}.{resource['name']}")
    return addresses


def embedded_and_gone(ledger: Ledger) -> bool:
    """A ``local`` run whose in-process embedded AWS died with it: nothing of it can be deployed."""
    in_emulator = target_class(ledger.target).deployed_in_emulator
    return in_emulator and not ledger.pid_alive() and not endpoint_listening(ledger.endpoint)


def remains(ledger: Ledger) -> str:
    """What may still be deployed, in a few words (for ``mlinfra runs``)."""
    if ledger.status == DESTROYED:
        return "nothing"
    if ledger.pid_alive():
        return f"running (pid {ledger.pid})"
    if ledger.kept:
        return (
            f"kept for --mlinfra-reuse ({len(state_resources(ledger))} resource(s); mlinfra down destroys it)"
        )
    in_state = state_resources(ledger)
    if embedded_and_gone(ledger):
        return "nothing (its embedded AWS stopped with it)"
    if in_state:
        return f"{len(in_state)} resource(s) in state"
    return "unknown: state empty or gone (reap sweeps by tag)"


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.0f}h"
    return f"{seconds / 86400:.0f}d"


def parse_age(text: str) -> float:
    """'90s', '30m', '2h', '3d' -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    try:
        return float(text[:-1]) * units[text[-1]] if text and text[-1] in units else float(text)
    except ValueError:
        raise MlinfraError(f"age {text!r} is not a duration", "write it like 90s, 30m, 2h or 3d") from None


def runs_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="mlinfra runs", description="List the runs on this machine.")
    parser.add_argument("--runs-dir", type=Path, default=None, help="default: <cache>/runs")
    parser.add_argument("--json", action="store_true", help="one JSON object per run")
    args = parser.parse_args(argv)
    runs_dir = args.runs_dir or default_runs_dir()
    ledgers = list(iter_ledgers(runs_dir))
    if args.json:
        for ledger in ledgers:
            print(json.dumps({**ledger.to_json(), "remains": remains(ledger)}, sort_keys=True))
        return 0
    if not ledgers:
        print(f"no runs in {runs_dir}")
        return 0
    now = time.time()
    rows = [("RUN", "STATUS", "AGE", "TARGET", "REMAINS")]
    rows += [
        (ledger.run_id, ledger.status, _age(ledger.age_s(now)), ledger.target, remains(ledger))
        for ledger in ledgers
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4])
    return 0


@dataclass
class ReapResult:
    run_id: str
    outcome: str  # "reaped", "removed", "skipped", "failed", "dry-run"
    detail: str
    removed: int = 0
    seconds: float = 0.0


def reap_run(
    ledger: Ledger,
    yes: bool = False,
    log: Callable[[str], None] = print,
    sweep_timeout_s: float | None = None,
) -> ReapResult:
    """Finish one run: destroy from its state, sweep by tag, remove the run dir when clean."""
    from botocore.exceptions import EndpointConnectionError

    started = time.monotonic()
    try:
        return _reap_run(ledger, yes, log, sweep_timeout_s, started)
    except EndpointConnectionError as exc:  # the target went away mid-sweep (a stopped service)
        return ReapResult(
            ledger.run_id,
            "failed",
            f"lost the {ledger.target} target while reaping ({exc}); run dir kept",
            0,
            time.monotonic() - started,
        )


def _reap_run(
    ledger: Ledger,
    yes: bool,
    log: Callable[[str], None],
    sweep_timeout_s: float | None,
    started: float,
) -> ReapResult:

    def result(outcome: str, detail: str, removed: int = 0) -> ReapResult:
        return ReapResult(ledger.run_id, outcome, detail, removed, time.monotonic() - started)

    if ledger.pid_alive():
        return result("skipped", f"still running (pid {ledger.pid})")
    if ledger.status == DESTROYED or embedded_and_gone(ledger):
        ledger.archive()
        shutil.rmtree(ledger.run_dir, ignore_errors=True)
        return result("removed", "nothing deployed; run dir removed")
    from pytest_mlinfra.sweep import UNTRACKED_CHILDREN, Sweep, target_for

    target = target_for(ledger)
    try:
        target.start()
    except MlinfraError as exc:
        return result("failed", f"cannot reach the {ledger.target} target: {exc}")
    sweep = Sweep(target, ledger.run_id, log=log, timeout_s=sweep_timeout_s)
    in_state = state_resources(ledger)
    if target_class(ledger.target).real_aws and not yes:
        found = sweep.find()
        for resource in found:
            log(f"  would delete {resource.kind} {resource.ident}")
        return result(
            "dry-run",
            f"{len(in_state)} resource(s) in state, {len(found)} tagged {ledger.run_id}; "
            "nothing deleted (pass --yes to delete)",
        )
    removed = 0
    destroy_error = ""
    if in_state:
        # Mount targets created just before a kill may be in no state; left there, the file system
        # refuses deletion and the subnets wait on their network interfaces until destroy times out.
        children = sweep.run(kinds=UNTRACKED_CHILDREN)
        removed += len([c for c in children if not _in_state_ids(ledger, c.ident)])
        log(f"{ledger.run_id}: terraform destroy of {len(in_state)} resource(s) in {ledger.state_path}")
        try:
            _destroy_from_state(ledger, target.credentials_env(), log)
            removed += len(in_state)
        except MlinfraError as exc:
            if interrupts.interrupted():
                raise KeyboardInterrupt(interrupts.received()[0]) from None
            destroy_error = exc.what
            log(f"{ledger.run_id}: destroy failed ({exc.what}); sweeping by tag")
    deleted = sweep.run()
    removed += len(deleted)
    left = sweep.find()
    if left:
        ledger.set_status(DESTROY_FAILED, f"reap left {len(left)} tagged resource(s)")
        detail = ", ".join(f"{r.kind} {r.ident}" for r in left[:5])
        return result("failed", f"{len(left)} resource(s) remain: {detail}; run dir kept", removed)
    if destroy_error and in_state and not deleted:
        ledger.set_status(DESTROY_FAILED, destroy_error)
        return result("failed", f"destroy failed: {destroy_error}; run dir kept", removed)
    ledger.set_status(DESTROYED, "reaped")
    ledger.archive()
    shutil.rmtree(ledger.run_dir, ignore_errors=True)
    return result("reaped", f"{removed} resource(s) removed; run dir removed", removed)


def _in_state_ids(ledger: Ledger, ident: str) -> bool:
    """Whether the run's state file names this id (a child terraform destroy will delete itself)."""
    path = Path(ledger.state_path) if ledger.state_path else ledger.run_dir / "stack" / "terraform.tfstate"
    try:
        return f'"{ident}"' in path.read_text()
    except OSError:
        return False


def _destroy_from_state(ledger: Ledger, credentials: dict[str, str], log: Callable[[str], None]) -> None:
    from pytest_mlinfra.terraform.stack import Stack
    from pytest_mlinfra.terraform.toolchain import Toolchain, find_terraform

    stack = Stack(
        source=Path(ledger.stack_source),
        workdir=ledger.run_dir,
        toolchain=Toolchain(find_terraform(ledger.terraform or None)),
        variables={},
        env=credentials,
        log=log,
        run_id=ledger.run_id,
        applied=True,
        progress=lambda line: log(f"  {line}"),
        interrupt_grace_s=INTERRUPT_GRACE_S,
    )
    stack.destroy()


def reap_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="mlinfra reap",
        description="Finish what crashed runs left: destroy from their state, else sweep by run-id tag.",
    )
    parser.add_argument("run_ids", nargs="*", metavar="RUN_ID")
    parser.add_argument("--all", action="store_true", help="every unfinished run of this machine")
    parser.add_argument("--older-than", metavar="AGE", help="runs older than AGE (e.g. 2h), failed ones too")
    parser.add_argument(
        "--kept", action="store_true", help="with --all/--older-than: kept stacks (--mlinfra-reuse) too"
    )
    parser.add_argument("--yes", action="store_true", help="on aws: really delete (default: dry run)")
    parser.add_argument("--runs-dir", type=Path, default=None, help="default: <cache>/runs")
    args = parser.parse_args(argv)
    runs_dir = args.runs_dir or default_runs_dir()
    try:
        chosen = _choose(runs_dir, args.run_ids, args.all, args.older_than)
    except MlinfraError as exc:
        sys.stderr.write(f"mlinfra reap: error: {exc}\n")
        return 2
    if not args.run_ids and not args.kept:
        for ledger in (lg for lg in chosen if lg.kept):
            why = "kept for --mlinfra-reuse (mlinfra down or reap --kept destroys it)"
            print(f"{ledger.run_id}: skipped: {why}")
        chosen = [lg for lg in chosen if not lg.kept]
    if not chosen:
        print(f"nothing to reap in {runs_dir}")
        return 0
    failed = 0
    with _stopped_by_signals():
        for ledger in chosen:
            try:
                outcome = reap_run(ledger, yes=args.yes)
            except KeyboardInterrupt:
                name = (interrupts.received() or ["SIGINT"])[0]
                sys.stderr.write(
                    f"mlinfra reap: stopped by {name}; {ledger.run_id} may still have resources: "
                    f"finish with: mlinfra reap --runs-dir {runs_dir} {ledger.run_id}\n"
                )
                return 128 + int(signal.Signals[name])
            print(f"{outcome.run_id}: {outcome.outcome}: {outcome.detail} ({outcome.seconds:.1f} s)")
            failed += outcome.outcome == "failed"
    return 1 if failed else 0


class _stopped_by_signals:
    """SIGINT/SIGTERM/SIGHUP raise KeyboardInterrupt in the reap, every time (no shielded destroy as
    in a pytest session: a reap is the retry, so stopping loses nothing). Terraform's runner then
    interrupts its child and kills the child's process group (the provider with it); a second
    signal cuts Terraform's wait short."""

    def __enter__(self) -> None:
        def stop(signum: int, _frame: object) -> None:
            interrupts.note(signum)
            raise KeyboardInterrupt(signal.Signals(signum).name)

        self._previous = {signum: signal.signal(signum, stop) for signum in interrupts.SIGNALS}

    def __exit__(self, *_exc: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)


def _choose(runs_dir: Path, run_ids: list[str], every: bool, older_than: str | None) -> list[Ledger]:
    ledgers = {ledger.run_id: ledger for ledger in iter_ledgers(runs_dir)}
    if run_ids:
        missing = [r for r in run_ids if r not in ledgers]
        if missing:
            raise MlinfraError(f"no run {missing[0]} in {runs_dir}", "list the runs with: mlinfra runs")
        return [ledgers[r] for r in run_ids]
    if older_than is not None:
        limit = parse_age(older_than)
        return [lg for lg in ledgers.values() if lg.age_s() > limit and not lg.pid_alive()]
    if every:
        return [lg for lg in ledgers.values() if not lg.pid_alive()]
    raise MlinfraError("say which runs to reap", "give RUN_ID..., --all, or --older-than 2h")
