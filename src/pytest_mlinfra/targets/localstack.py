"""A LocalStack the user runs (Docker or host mode): find it, check it, adapt to its edition.

The endpoint follows the localstack-client conventions (``AWS_ENDPOINT_URL``, ``LOCALSTACK_HOST``)
unless given explicitly. Services the flow cannot do without must be available; EFS and DataSync
are optional (Community lacks them): without them the stack is applied with ``enable_efs=false``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.targets.base import Capabilities, Target

if TYPE_CHECKING:
    from pytest_mlinfra.settings import Settings

# The stack always creates a bucket, a role, a function and its log group; EFS/DataSync need EC2 too.
REQUIRED_SERVICES = ("s3", "lambda", "iam", "sts", "logs")
_UP = {"available", "running"}


def default_endpoint() -> str:
    explicit = os.environ.get("AWS_ENDPOINT_URL")
    if explicit:
        return explicit.rstrip("/")
    host = os.environ.get("LOCALSTACK_HOST", "127.0.0.1:4566")
    if ":" not in host:
        host = f"{host}:4566"
    return f"http://{host}"


class LocalStackTarget(Target):
    name = "localstack"

    def __init__(self, region: str, endpoint: str | None = None) -> None:
        self.region = region
        self._endpoint = (endpoint or default_endpoint()).rstrip("/")
        self.health: dict[str, Any] = {}

    @classmethod
    def from_settings(cls, settings: Settings, state_dir: Path) -> LocalStackTarget:
        return cls(region=settings.region, endpoint=settings.localstack_endpoint)

    @property
    def endpoint_url(self) -> str | None:
        return self._endpoint

    @property
    def services(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.health.get("services", {}).items()}

    @property
    def edition(self) -> str:
        return str(self.health.get("edition", "unknown"))

    @property
    def version(self) -> str:
        return str(self.health.get("version", "unknown"))

    @property
    def capabilities(self) -> Capabilities:
        up = {name for name, state in self.services.items() if state in _UP}
        vpc = "ec2" in up  # the function and the mount targets live in a VPC
        return Capabilities(efs="efs" in up and vpc, datasync="datasync" in up and vpc)

    def _read_health(self) -> None:
        import urllib.request

        with urllib.request.urlopen(f"{self._endpoint}/_localstack/health", timeout=5) as response:
            self.health = json.loads(response.read())

    def start(self) -> None:
        try:
            self._read_health()
        except (OSError, ValueError) as exc:  # urllib.error.URLError is an OSError
            reason = getattr(exc, "reason", exc)
            raise MlinfraError(
                f"no LocalStack answers at {self._endpoint} ({reason})",
                "start LocalStack (docker run -p 4566:4566 localstack/localstack) "
                "or point --mlinfra-localstack-endpoint / AWS_ENDPOINT_URL at it",
            ) from None
        missing = [s for s in REQUIRED_SERVICES if self.services.get(s) not in _UP]
        if missing:
            raise MlinfraError(
                f"LocalStack at {self._endpoint} lacks services the flow needs: {', '.join(missing)}",
                "enable them (SERVICES=...) or use a LocalStack edition that has them",
            )

    @classmethod
    def preview(cls, settings: Settings) -> str:
        endpoint = (settings.localstack_endpoint or default_endpoint()).rstrip("/")
        return f"localstack ({endpoint}, {settings.region})"

    def describe(self) -> str:
        """The started target: asks LocalStack (once) which edition answers and what it offers."""
        if not self.health:
            try:
                self._read_health()
            except (OSError, ValueError):
                return f"localstack ({self._endpoint}, {self.region}; not answering yet)"
        model_path = (
            "EFS via DataSync" if self.capabilities.model_on_efs else "S3 at cold start (no EFS/DataSync)"
        )
        # Host mode reports edition "unknown"; the Docker image says "community" or "pro".
        edition = "host mode" if self.edition == "unknown" else f"{self.edition} edition"
        return (
            f"localstack ({self._endpoint}, LocalStack {self.version} {edition}, {self.region}; "
            f"model from {model_path})"
        )
