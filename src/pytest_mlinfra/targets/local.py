"""The default target: the embedded AWS (moto server + the emulator's extensions), in process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pytest_mlinfra.emulator import EmbeddedAWS
from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.targets.base import Target


class LocalTarget(Target):
    name = "local"

    def __init__(self, state_dir: Path, region: str = "us-east-1", port: int = 0) -> None:
        self.region = region
        self.aws = EmbeddedAWS(state_dir=state_dir, port=port)
        self._started = False

    @property
    def endpoint_url(self) -> str | None:
        if not self._started:
            raise MlinfraError("the local target is used before it was started", "call start() first")
        return self.aws.endpoint_url

    def start(self) -> None:
        if not self._started:
            self.aws.start()
            self._started = True

    def stop(self) -> None:
        if self._started:
            self.aws.stop()
            self._started = False

    @property
    def efs_storage(self) -> Callable[[str], Path] | None:
        return self.aws.efs_storage

    def describe(self) -> str:
        where = (
            self.aws.endpoint_url if self._started else "embedded moto server on 127.0.0.1, started on demand"
        )
        return f"local ({where}, {self.region})"
