"""``python -m pytest_mlinfra.emulator --port N [--state-dir D] [--config JSON]``: the embedded AWS.

Prints the endpoint URL as the first line of stdout (so a parent process can read it) and the
configuration it runs with (:mod:`.config`) as the second, serves
until SIGINT or SIGTERM (or until the ``--watch-pid`` process is gone), then stops cleanly (Lambda
workers killed). A taken port is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from pytest_mlinfra.children import pid_running
from pytest_mlinfra.emulator import config
from pytest_mlinfra.emulator.server import EmbeddedAWS
from pytest_mlinfra.errors import MlinfraError

CONFIG_LINE = "mlinfra emulator config: "


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pytest_mlinfra.emulator", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--state-dir", type=Path, default=None, help="where EFS storage and Lambda code live")
    parser.add_argument(
        "--watch-pid", type=int, default=None, help="stop when this process is gone (a session's emulator)"
    )
    config.add_arguments(parser)
    args = parser.parse_args(argv)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        aws = EmbeddedAWS(state_dir=args.state_dir, port=args.port, config=config.from_args(args)).start()
    except MlinfraError as exc:
        print(f"mlinfra emulator: {exc}", file=sys.stderr, flush=True)
        return 2
    try:
        print(aws.endpoint_url, flush=True)
        print(f"{CONFIG_LINE}{aws.config.to_json()}", flush=True)
        while not stop.wait(0.5):
            if args.watch_pid and not pid_running(args.watch_pid):
                break
    finally:
        aws.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
