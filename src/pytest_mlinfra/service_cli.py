"""``mlinfra up | down | status``: a target that outlives the pytest session.

``up`` starts the embedded AWS as a background service (127.0.0.1, state dir under the cache, its pid
and endpoint recorded where the plugin finds them: the local target then deploys into it).
``down`` destroys every stack kept on it, then stops it; for ``--target localstack|aws`` (nothing of
ours runs there) it destroys the stacks kept on that target. ``status`` says what runs and what is kept.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pytest_mlinfra import kept, service
from pytest_mlinfra.emulator import config as emulator_config
from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.targets import TARGET_NAMES, target_class


def _parser(command: str, text: str) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(prog=f"mlinfra {command}", description=text)


def up_main(argv: list[str]) -> int:
    parser = _parser("up", "Start the embedded AWS as a background service.")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    emulator_config.add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        record, started = service.start_service(port=args.port, config=emulator_config.from_args(args))
    except MlinfraError as exc:
        print(f"mlinfra up: {exc}", file=sys.stderr)
        return 1
    verb = "started" if started else "already running"
    print(f"embedded AWS {verb}: {record.endpoint_url} (pid {record.pid}, state {record.state_dir})")
    print("pytest --mlinfra-target=local now deploys into it; stop it with: mlinfra down")
    return 0


def down_main(argv: list[str]) -> int:
    parser = _parser("down", "Destroy the kept stacks, then stop the embedded AWS service.")
    parser.add_argument(
        "--target",
        choices=TARGET_NAMES,
        default="local",
        help="whose kept stacks to destroy (local also stops the service; default local)",
    )
    parser.add_argument(
        "--keep-running", action="store_true", help="destroy the kept stacks but leave the service running"
    )
    parser.add_argument(
        "--force", action="store_true", help="stop the service even while a pytest run is deploying into it"
    )
    args = parser.parse_args(argv)
    the_service = target_class(args.target).deployed_in_emulator  # what `mlinfra up` started
    if the_service and not args.keep_running and not args.force:
        busy = _runs_using_the_service()
        if busy:
            more = f" (and {len(busy) - 1} more)" if len(busy) > 1 else ""
            print(
                f"mlinfra down: run {busy[0].run_id} (pytest pid {busy[0].pid}) is deploying into the "
                f"service right now{more}; nothing was stopped. "
                "let it finish (or stop it), then: mlinfra down; or stop it anyway: mlinfra down --force",
                file=sys.stderr,
            )
            return 1
    failed = kept.destroy_all(args.target, log=print)
    if the_service and not args.keep_running:
        if failed:
            print(
                f"mlinfra down: {failed} kept stack(s) could not be destroyed; the service keeps running "
                "so you can retry: mlinfra down",
                file=sys.stderr,
            )
            return 1
        stopped = service.stop_service()
        print(f"embedded AWS stopped (pid {stopped.pid})" if stopped else "embedded AWS was not running")
    return 1 if failed else 0


def _runs_using_the_service() -> list[Any]:
    """Unfinished runs of a live pytest process whose target is the running service: stopping the
    service would pull the embedded AWS from under them (their destroy could not run)."""
    from pytest_mlinfra.ledger import iter_ledgers
    from pytest_mlinfra.reap import default_runs_dir

    record = service.running_service()
    if record is None:
        return []
    return [
        ledger
        for ledger in iter_ledgers(default_runs_dir())
        if target_class(ledger.target).deployed_in_emulator
        and ledger.endpoint == record.endpoint_url
        and not ledger.finished
        and not ledger.kept
        and ledger.pid_alive()
    ]


def _status_json(record: Any) -> dict[str, Any]:
    """What ``status`` prints, for scripts: the service (None when not recorded) and the kept stacks."""
    described = None
    if record is not None:
        alive = record.alive()
        described = {"pid": record.pid, "endpoint_url": record.endpoint_url, "alive": alive}
        described["state_dir"] = str(record.state_dir)
    stacks = [
        {
            "run_id": k.run_id,
            "target": k.target,
            "where": k.where,
            "source": k.source,
            "owner": k.owner,
            "workdir": str(k.workdir),
            "created": k.created,
            "reused": k.reused,
            "summary": k.describe(),
        }
        for k in kept.all_kept()
    ]
    return {"service": described, "kept": stacks}


def status_main(argv: list[str]) -> int:
    parser = _parser("status", "Show what runs (the embedded AWS service) and what is kept.")
    parser.add_argument(
        "--json", action="store_true", help="one JSON object: the service and the kept stacks"
    )
    args = parser.parse_args(argv)
    record = service.recorded_service()
    if args.json:
        print(json.dumps(_status_json(record), indent=2, sort_keys=True))
        return 0
    if record is None:
        print("embedded AWS: not running (start it with: mlinfra up)")
    elif record.alive():
        print(f"embedded AWS: running at {record.endpoint_url} (pid {record.pid}, state {record.state_dir})")
    else:
        print(f"embedded AWS: recorded pid {record.pid} is gone (start it again with: mlinfra up)")
    stacks = kept.all_kept()
    if not stacks:
        print("kept stacks: none")
    for stack in stacks:
        print(f"kept stack: {stack.describe()}")
    return 0
