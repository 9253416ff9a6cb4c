"""``python -m pytest_mlinfra.emulator --port N [--state-dir D]``: the embedded AWS as a server.

Prints the endpoint URL as the first line of stdout (so a parent process can read it), serves
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
from pytest_mlinfra.emulator.server import EmbeddedAWS
from pytest_mlinfra.errors import MlinfraError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pytest_mlinfra.emulator", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--state-dir", type=Path, default=None, help="where EFS storage and Lambda code live")
    parser.add_argument(
        "--watch-pid", type=int, default=None, help="stop when this process is gone (a session's emulator)"
    )
    parser.add_argument(
        "--lambda-eni-release-s",
        type=float,
        default=None,
        metavar="SECONDS",
        help="VPC functions get their ENIs, in use this long after the function is deleted "
        "(default: $MLINFRA_LAMBDA_ENI_RELEASE_S, else 0: no ENIs)",
    )
    args = parser.parse_args(argv)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        aws = EmbeddedAWS(
            state_dir=args.state_dir, port=args.port, lambda_eni_release_s=args.lambda_eni_release_s
        ).start()
    except MlinfraError as exc:
        print(f"mlinfra emulator: {exc}", file=sys.stderr, flush=True)
        return 2
    try:
        print(aws.endpoint_url, flush=True)
        while not stop.wait(0.5):
            if args.watch_pid and not pid_running(args.watch_pid):
                break
    finally:
        aws.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
