"""``python -m pytest_mlinfra``: the ``mlinfra`` command (see :mod:`pytest_mlinfra.cli`)."""

import sys

from pytest_mlinfra.cli import main

sys.exit(main())
