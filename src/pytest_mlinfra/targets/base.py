"""What every target offers the layers above: an endpoint, credentials, clients, capabilities."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

if TYPE_CHECKING:
    from pytest_mlinfra.settings import Settings
    from pytest_mlinfra.terraform.override import EmulatorEndpoint

FAKE_KEY = "test"


@dataclass(frozen=True)
class Capabilities:
    """Which parts of the flow the target can run (LocalStack Community has no EFS/DataSync)."""

    efs: bool = True
    datasync: bool = True

    @property
    def model_on_efs(self) -> bool:
        return self.efs and self.datasync


class Target(ABC):
    """A place to deploy to. ``start()`` before use, ``stop()`` after; both idempotent.

    Subclasses are registered by name in :data:`pytest_mlinfra.targets.TARGETS`.
    """

    name: str
    region: str
    outlives_session = True  # False: what is deployed disappears when the target stops (embedded AWS)
    #  What the code outside targets/ asks of a target by its registered name (a ledger, a CLI flag),
    #  without starting it:
    #  - deployed_in_emulator: what is deployed lives in an emulator process of this project's (gone
    #    with that process; kept between sessions only by `mlinfra up`'s service);
    #  - real_aws: resources cost money and AWS's rules hold (reap deletes only with --yes; a runtime
    #    AWS refuses for new functions is an error, not a warning).
    deployed_in_emulator: ClassVar[bool] = False
    real_aws: ClassVar[bool] = False

    @classmethod
    def from_settings(cls, settings: Settings, state_dir: Path) -> Self:
        """The target configured by ``settings``; ``state_dir`` is the run's folder for its state.

        Every registered target defines it (helpers such as the sweep's endpoint-only target need not)."""
        raise NotImplementedError(f"{cls.__name__} cannot be built from settings")

    @classmethod  # noqa: B027 - most targets have nothing to check
    def preflight(cls, settings: Settings) -> None:
        """Checks that cost nothing and call no AWS (run before any test); raise MlinfraError."""

    @property
    @abstractmethod
    def endpoint_url(self) -> str | None:
        """The AWS endpoint (``None`` for real AWS)."""

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities()

    def lambda_python(self, runtime: str) -> str | None:
        """Make ready what runs a Python ``runtime``'s handlers (before deploy) and say it in one line;
        raise MlinfraError when this target cannot run it. None: AWS's own runtime runs it."""
        return None

    def start(self) -> None:  # noqa: B027 - targets without a process have nothing to start
        """Make the target usable (start a server, check health, check the account)."""

    def stop(self) -> None:  # noqa: B027
        """Release what ``start`` took."""

    @property
    def efs_storage(self) -> Callable[[str], Path] | None:
        """file system id -> the local directory holding its contents, where the target can show it."""
        return None

    def emulator_endpoint(self) -> EmulatorEndpoint | None:
        """Where Terraform's provider override points (``None``: use the stack's provider as written)."""
        from pytest_mlinfra.terraform.override import EmulatorEndpoint

        url = self.endpoint_url
        return EmulatorEndpoint(url=url, region=self.region) if url else None

    def credentials_env(self) -> dict[str, str]:
        """Environment for Terraform and subprocesses talking to the target."""
        env = {"AWS_REGION": self.region, "AWS_DEFAULT_REGION": self.region}
        if self.endpoint_url:
            env |= {"AWS_ACCESS_KEY_ID": FAKE_KEY, "AWS_SECRET_ACCESS_KEY": FAKE_KEY}
        return env

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client configured for this target."""
        import boto3
        from botocore.config import Config

        config = kwargs.pop("config", None) or Config()
        options: dict[str, Any] = {"region_name": self.region}
        if self.endpoint_url:
            # Emulators answer unimplemented calls with 500: fail fast instead of retrying.
            emulator = Config(
                retries={"max_attempts": 2, "mode": "standard"}, s3={"addressing_style": "path"}
            )
            config = emulator.merge(config)
            options |= {
                "endpoint_url": self.endpoint_url,
                "aws_access_key_id": FAKE_KEY,
                "aws_secret_access_key": FAKE_KEY,
            }
        options["config"] = config
        options.update(kwargs)
        make_client: Any = boto3.session.Session().client  # service is a plain str, not a stub Literal
        return make_client(service, **options)

    @classmethod
    def preview(cls, settings: Settings) -> str:
        """The report header's line, from the settings alone (nothing started, nothing imported)."""
        return f"{cls.name} ({settings.region})"

    def describe(self) -> str:
        """One line describing the started target."""
        return f"{self.name} ({self.endpoint_url or 'AWS'}, {self.region})"
