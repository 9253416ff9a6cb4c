"""The embedded AWS behind the ``local`` target: moto server plus what moto lacks.

``EmbeddedAWS`` is the whole public surface (``start``/``stop``/``endpoint_url``/``efs_storage``);
see :mod:`pytest_mlinfra.emulator.server` and README.md next to this file.
"""

from pytest_mlinfra.emulator.server import EmbeddedAWS

__all__ = ["EmbeddedAWS"]
