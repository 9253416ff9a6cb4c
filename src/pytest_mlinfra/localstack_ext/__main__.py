"""``python -m pytest_mlinfra.localstack_ext``: run LocalStack in host mode with our plugin until Ctrl-C.

For users without Docker: prints ``AWS_ENDPOINT_URL=http://127.0.0.1:PORT`` as its first line,
serves until SIGINT/SIGTERM, then stops LocalStack and every Lambda worker. ``--no-plugin`` starts
it as Community has it (no EFS/DataSync) with only the Docker-free Lambda executor.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.localstack_ext.launcher import LocalStack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pytest_mlinfra.localstack_ext", description=__doc__)
    parser.add_argument("--venv", type=Path, help="LocalStack's virtualenv (default: ./.venv-localstack)")
    parser.add_argument("--port", type=int, default=4566, help="0 picks a free one")
    parser.add_argument("--no-plugin", action="store_true", help="no EFS/DataSync (Community-like)")
    args = parser.parse_args(argv)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        localstack = LocalStack(args.venv, plugin=not args.no_plugin, executor=True, port=args.port).start()
    except MlinfraError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        print(f"AWS_ENDPOINT_URL={localstack.endpoint_url}", flush=True)
        print(f"LocalStack log: {localstack.log_path}; Ctrl-C stops it", file=sys.stderr, flush=True)
        stop.wait()
    finally:
        localstack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
