"""The default target: the embedded AWS (moto server + the emulator's extensions).

In process by default; attached (:meth:`LocalTarget.attach`) to an emulator running as a process
of its own when there is one to use: ``mlinfra up``'s service, or the one the first pytest-xdist
worker started for the session.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_mlinfra.emulator.config import EmulatorConfig
from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.ports import check_port_free
from pytest_mlinfra.targets.base import Target

if TYPE_CHECKING:
    from pytest_mlinfra.service import EmulatorProcess
    from pytest_mlinfra.settings import Settings

HOST = "127.0.0.1"


class LocalTarget(Target):
    name = "local"
    outlives_session = False
    deployed_in_emulator = True

    def __init__(
        self,
        state_dir: Path,
        region: str = "us-east-1",
        port: int = 0,
        config: EmulatorConfig | None = None,
    ) -> None:
        from pytest_mlinfra.emulator import EmbeddedAWS  # moto: imported once the target is used

        self.region = region
        self.config = config or EmulatorConfig()
        self.aws = EmbeddedAWS(state_dir=state_dir, port=port, config=self.config)
        self.attached: EmulatorProcess | None = None
        self._started = False

    def attach(self, process: EmulatorProcess, outlives_session: bool) -> None:
        """Use an emulator that runs as its own process instead of starting one in this one."""
        self.attached = process
        self.outlives_session = outlives_session

    @classmethod
    def from_settings(cls, settings: Settings, state_dir: Path) -> LocalTarget:
        return cls(
            state_dir=state_dir,
            region=settings.region,
            port=settings.port,
            config=EmulatorConfig.from_settings(settings),
        )

    @classmethod
    def preflight(cls, settings: Settings) -> None:
        if settings.port:
            check_port_free(HOST, settings.port)

    @property
    def endpoint_url(self) -> str | None:
        if not self._started:
            raise MlinfraError("the local target is used before it was started", "call start() first")
        return self.attached.endpoint_url if self.attached else self.aws.endpoint_url

    def start(self) -> None:
        if self._started:
            return
        if self.attached is None:
            self.aws.start()
        elif not self.attached.alive():
            raise MlinfraError(
                f"the embedded AWS at {self.attached.endpoint_url} (pid {self.attached.pid}) is not running",
                "start it again with: mlinfra up (or forget it with: mlinfra down)",
            )
        self._started = True

    def stop(self) -> None:
        """Stops the in-process emulator; an attached one belongs to whoever started it."""
        if self._started:
            if self.attached is None:
                self.aws.stop()
            self._started = False

    def lambda_python(self, runtime: str) -> str | None:
        """The declared version's interpreter, with awslambdaric/boto3 built for it now (not at the
        first invoke, where a pip install would eat the function's timeout)."""
        from pytest_mlinfra.emulator import lambda_pythons
        from pytest_mlinfra.terraform.toolchain import cache_root

        if lambda_pythons.python_version(runtime) is None:
            return None
        chosen = lambda_pythons.resolve(
            runtime, "x86_64", cache_root() / "lambda-runtimes", host=self.config.lambda_host_python
        )
        return chosen.describe()

    @property
    def efs_storage(self) -> Callable[[str], Path] | None:
        return self.attached.efs_storage if self.attached else self.aws.efs_storage

    @classmethod
    def preview(cls, settings: Settings) -> str:
        if not settings.port:
            from pytest_mlinfra.service import running_service  # a file read: cheap enough for a header

            service = running_service()
            if service is not None:
                where = f"mlinfra up service pid {service.pid} at {service.endpoint_url}"
                return f"local ({where}, {settings.region})"
        where = f"127.0.0.1:{settings.port}" if settings.port else "127.0.0.1"
        return f"local (embedded moto server on {where}, started on demand, {settings.region})"

    def describe(self) -> str:
        if self.attached is not None:
            where = f"embedded AWS pid {self.attached.pid} at {self.attached.endpoint_url}"
        elif self._started:
            where = self.aws.endpoint_url
        else:
            where = "embedded moto server on 127.0.0.1, started on demand"
        return f"local ({where}, {self.region})"
