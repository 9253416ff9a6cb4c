"""Real AWS, behind an explicit opt-in and an optional account allow-list.

Nothing here calls AWS before the user has opted in; with an allow-list, the only call made before
the check passes is ``sts:GetCallerIdentity``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.targets.base import Target

if TYPE_CHECKING:
    from pytest_mlinfra.settings import Settings

OPT_IN_ENV = "MLINFRA_AWS_OPT_IN"
_YES = {"1", "true", "yes", "on"}


def opted_in(flag: bool) -> bool:
    return flag or os.environ.get(OPT_IN_ENV, "").strip().lower() in _YES


def check_opt_in(flag: bool) -> None:
    """Refuse, in one line and without any AWS call, unless the user opted in."""
    if not opted_in(flag):
        raise MlinfraError(
            "the aws target deploys real, billed resources and needs an explicit opt-in",
            f"pass --mlinfra-aws-opt-in or set {OPT_IN_ENV}=1 (and consider --mlinfra-aws-accounts)",
        )


class AwsTarget(Target):
    name = "aws"
    real_aws = True

    def __init__(self, region: str, opt_in: bool = False, allowed_accounts: Sequence[str] = ()) -> None:
        self.region = region
        self.opt_in = opt_in
        self.allowed_accounts = tuple(a.strip() for a in allowed_accounts if a.strip())
        self.account: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings, state_dir: Path) -> AwsTarget:
        return cls(settings.region, opt_in=settings.aws_opt_in, allowed_accounts=settings.aws_accounts)

    @classmethod
    def preflight(cls, settings: Settings) -> None:
        check_opt_in(settings.aws_opt_in)

    @property
    def endpoint_url(self) -> str | None:
        return None

    def start(self) -> None:
        check_opt_in(self.opt_in)
        if not self.allowed_accounts:
            return
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.account = str(self.client("sts").get_caller_identity()["Account"])
        except (BotoCoreError, ClientError) as exc:
            raise MlinfraError(
                f"cannot read the AWS account of the current credentials ({exc})",
                "configure credentials (AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)",
            ) from None
        if self.account not in self.allowed_accounts:
            raise MlinfraError(
                f"AWS account {self.account} is not on the allow-list ({', '.join(self.allowed_accounts)})",
                "switch credentials to an allowed account or extend --mlinfra-aws-accounts",
            )

    @classmethod
    def preview(cls, settings: Settings) -> str:
        return cls.from_settings(settings, Path()).describe()

    def describe(self) -> str:
        accounts = ", ".join(self.allowed_accounts) if self.allowed_accounts else "any account"
        return f"aws (real AWS, {self.region}; allowed: {accounts})"
