"""The embedded AWS's configuration, whole: one frozen object, in this process or across a spawn.

Built once, from the plugin's settings (:meth:`EmulatorConfig.from_settings`) or from the options
of ``python -m pytest_mlinfra.emulator`` / ``mlinfra up`` (:func:`add_arguments`,
:func:`from_args`, whose defaults are the documented ``MLINFRA_LAMBDA_*`` variables), and handed
to :class:`~pytest_mlinfra.emulator.server.EmbeddedAWS`; a spawned emulator gets it as
``--config JSON``. Nothing inside the emulator reads these settings from the environment, so a
setting cannot be lost on the way to an emulator in another process.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

from pytest_mlinfra.errors import MlinfraError

if TYPE_CHECKING:
    from pytest_mlinfra.settings import Settings

CONCURRENCY_ENV = "MLINFRA_LAMBDA_CONCURRENCY"
ENI_RELEASE_ENV = "MLINFRA_LAMBDA_ENI_RELEASE_S"
HOST_PYTHON_ENV = "MLINFRA_LAMBDA_HOST_PYTHON"


@dataclass(frozen=True)
class EmulatorConfig:
    """``lambda_concurrency``: execution environments at once for functions without reserved
    concurrency (None: 2 x cores, at least 4). ``lambda_eni_release_s``: seconds a VPC function's
    ENIs stay in use after it is deleted (0: no ENIs). ``lambda_host_python``: every Python runtime
    runs on the emulator's own Python (a declared stand-in). ``keep_warm_s``: idle environments
    are reclaimed after this (None: 300 s, as AWS does within minutes)."""

    lambda_concurrency: int | None = None
    lambda_eni_release_s: float = 0.0
    lambda_host_python: bool = False
    keep_warm_s: float | None = None

    def __post_init__(self) -> None:
        if self.lambda_concurrency is not None and self.lambda_concurrency < 1:
            raise MlinfraError(
                f"lambda concurrency must be >= 1, got {self.lambda_concurrency}", "give 1 or more"
            )
        if not 0 <= self.lambda_eni_release_s < float("inf"):
            raise MlinfraError(
                f"lambda ENI release delay {self.lambda_eni_release_s} is not a number of seconds",
                "give 0 (off) or the seconds, e.g. 30",
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> EmulatorConfig:
        return cls(
            lambda_concurrency=settings.lambda_concurrency,
            lambda_eni_release_s=settings.lambda_eni_release_s,
            lambda_host_python=settings.lambda_host_python,
        )

    @classmethod
    def from_env(cls) -> EmulatorConfig:
        """The documented variables, for an emulator started without the plugin."""
        return cls(
            lambda_concurrency=_env_number(CONCURRENCY_ENV, int),
            lambda_eni_release_s=_env_number(ENI_RELEASE_ENV, float) or 0.0,
            lambda_host_python=host_python_from_env(),
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> EmulatorConfig:
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        known = {field.name for field in fields(cls)}
        if not isinstance(data, dict) or not set(data) <= known:
            raise MlinfraError(
                f"emulator --config is not an emulator configuration: {text[:200]}",
                f"give a JSON object with the keys {', '.join(sorted(known))}",
            )
        return cls(**data)


def host_python_from_env() -> bool:
    """``$MLINFRA_LAMBDA_HOST_PYTHON`` set to a true value (1, true, yes, on)."""
    return os.environ.get(HOST_PYTHON_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def _env_number(name: str, kind: type[Any]) -> Any:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        return kind(raw)
    except ValueError:
        raise MlinfraError(
            f"{name}={raw} is not a number", f"unset it or give a number, e.g. {name}=4"
        ) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The emulator's options, shared by ``python -m pytest_mlinfra.emulator`` and ``mlinfra up``."""
    parser.add_argument(
        "--lambda-concurrency",
        type=int,
        default=None,
        metavar="N",
        help=f"execution environments at once for functions without reserved concurrency "
        f"(default: ${CONCURRENCY_ENV}, else 2 x cores, at least 4)",
    )
    parser.add_argument(
        "--lambda-eni-release-s",
        type=float,
        default=None,
        metavar="SECONDS",
        help="VPC functions' network interfaces stay in use this long after the function is deleted, "
        f"as on AWS (default: ${ENI_RELEASE_ENV}, else 0: none)",
    )
    parser.add_argument(
        "--lambda-host-python",
        action="store_true",
        default=None,
        help=f"run every Python runtime on this Python, a declared stand-in (default: ${HOST_PYTHON_ENV})",
    )
    parser.add_argument("--config", default=None, metavar="JSON", help="the whole configuration, as JSON")


def from_args(args: argparse.Namespace) -> EmulatorConfig:
    """``--config`` when given, else the environment's defaults with the options given on top."""
    base = EmulatorConfig.from_json(args.config) if args.config else EmulatorConfig.from_env()
    given = {
        "lambda_concurrency": args.lambda_concurrency,
        "lambda_eni_release_s": args.lambda_eni_release_s,
        "lambda_host_python": args.lambda_host_python,
    }
    return EmulatorConfig(**{**asdict(base), **{k: v for k, v in given.items() if v is not None}})
