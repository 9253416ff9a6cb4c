"""Everything a run is configured by, as one plain object (pytest fills it from options and ini)."""

from __future__ import annotations

import getpass
import secrets
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_REQUIRED_TAGS = ("Name", "Environment", "Project", "Owner")
RUN_ID_TAG = "mlinfra:run-id"


def bundled_stack() -> Path:
    """The example stack shipped in the wheel (``pytest_mlinfra/fixtures_tf``), or the repo's copy."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "fixtures_tf", here.parent.parent / "fixtures_tf"):
        if candidate.is_dir():
            return candidate
    return here / "fixtures_tf"


def new_run_id() -> str:
    """Short, unique, valid in S3 bucket names: 'r' + 7 hex digits."""
    return "r" + secrets.token_hex(4)[:7]


def _owner() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@dataclass
class Settings:
    target: str = "local"
    region: str = "us-east-1"
    stack_dir: Path = field(default_factory=bundled_stack)
    keep: bool = False
    terraform: str | None = None
    required_tags: tuple[str, ...] = DEFAULT_REQUIRED_TAGS
    extra_tags: dict[str, str] = field(default_factory=dict)
    environment: str = "test"
    project: str = "pytest-mlinfra"
    port: int = 0
    aws_opt_in: bool = False
    aws_accounts: tuple[str, ...] = ()
    localstack_endpoint: str | None = None
    handler_dir: Path | None = None
    handler: str = "model.predict"
    model_path: Path | None = None
    runtime: str = "python3.8"
    memory_mb: int = 1024
    timeout_s: int = 30
    package_include: tuple[str, ...] = ()
    sync_timeout_s: float = 300.0
    examples: int | None = None
    profile: str = "quick"
    latency_budgets: dict[str, float] = field(default_factory=dict)
    min_recall: float = 0.9
    audit: bool = True
    model_source: str = "auto"  # auto (EFS where the target has it) | efs | s3
    run_id: str = field(default_factory=new_run_id)
    runs_dir: Path | None = None

    @property
    def name_prefix(self) -> str:
        return f"mlinfra-{self.run_id}"

    def cost_tags(self) -> dict[str, str]:
        """Tags every resource must carry, with values for the required keys (Name is per resource)."""
        tags = {"Environment": self.environment, "Project": self.project, "Owner": _owner()}
        tags.update(self.extra_tags)
        tags[RUN_ID_TAG] = self.run_id
        return tags

    def untagged_required(self) -> list[str]:
        """Required keys the plugin has no value for (Name is set per resource by the stack)."""
        tags = self.cost_tags()
        return [key for key in self.required_tags if key != "Name" and key not in tags]
