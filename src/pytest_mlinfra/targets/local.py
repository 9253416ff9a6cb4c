"""The default target: the embedded AWS (moto server + the emulator's extensions), in process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.ports import check_port_free
from pytest_mlinfra.targets.base import Target

if TYPE_CHECKING:
    from pytest_mlinfra.settings import Settings

HOST = "127.0.0.1"


class LocalTarget(Target):
    name = "local"
    outlives_session = False

    def __init__(self, state_dir: Path, region: str = "us-east-1", port: int = 0) -> None:
        from pytest_mlinfra.emulator import EmbeddedAWS  # moto: imported once the target is used

        self.region = region
        self.aws = EmbeddedAWS(state_dir=state_dir, port=port)
        self._started = False

    @classmethod
    def from_settings(cls, settings: Settings, state_dir: Path) -> LocalTarget:
        return cls(state_dir=state_dir, region=settings.region, port=settings.port)

    @classmethod
    def preflight(cls, settings: Settings) -> None:
        if settings.port:
            check_port_free(HOST, settings.port)

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

    @classmethod
    def preview(cls, settings: Settings) -> str:
        where = f"127.0.0.1:{settings.port}" if settings.port else "127.0.0.1"
        return f"local (embedded moto server on {where}, started on demand, {settings.region})"

    def describe(self) -> str:
        where = (
            self.aws.endpoint_url if self._started else "embedded moto server on 127.0.0.1, started on demand"
        )
        return f"local ({where}, {self.region})"
