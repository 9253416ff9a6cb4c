"""Where each provider comes from: the user's mirrors, the bundled offline mirror, or the registry.

Terraform asks *every* installation method that matches a provider for its versions and fails init
when one of them cannot answer (``MultiSource.AvailableVersions`` in
``internal/getproviders/multi_source.go``): a ``direct`` block that matches ``hashicorp/aws`` makes an
offline init fail even when a mirror holds a version the stack admits. So the plan is made before
init, per provider, from what the filesystem mirrors hold and what the stack's constraints admit:

- a provider some filesystem mirror can serve (a held version meets every constraint) is excluded
  from ``direct`` and from the network mirrors: no network attempt at all for it;
- every other provider goes to the network mirrors the user gave (they then stand in for the
  registry, which is not configured), else to ``direct`` (the registry: reached or not, Terraform
  finds out when it must, and the error is turned into one line by :meth:`InstallPlan.cannot_install`).

Nothing here touches the network: reachability is only ever learned by Terraform trying.
"""

from __future__ import annotations

import json
import platform
import re
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.terraform.constraints import Version, newest_admitted
from pytest_mlinfra.terraform.requirements import DEFAULT_HOST, short_name

MIRROR_OPTION = "--mlinfra-provider-mirror"
MIRROR_INI = "mlinfra_provider_mirror"
_ARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "i386": "386",
    "i686": "386",
}
_PACKED = re.compile(
    r"^terraform-provider-(?P<type>[^_]+)_(?P<version>[^_]+)_(?P<platform>[^_]+_[^_.]+)\.zip$"
)


def current_platform() -> str:
    """Terraform's name for this machine's platform, e.g. ``linux_amd64``."""
    machine = platform.machine().lower()
    return f"{sys.platform.replace('win32', 'windows')}_{_ARCH.get(machine, machine)}"


@dataclass(frozen=True)
class FilesystemMirror:
    """A folder as ``terraform providers mirror DIR`` makes it (packed zips; unpacked folders too)."""

    path: Path
    bundled: bool = False
    kind: str = ""  # "machine" (an offline fallback found on this machine), "config" (your CLI config)

    @property
    def fallback(self) -> bool:
        """An offline fallback: consulted only when the registry cannot answer."""
        return self.bundled or self.kind == "machine"

    @property
    def label(self) -> str:
        if self.bundled:
            return f"the bundled offline mirror {self.path}"
        if self.kind == "machine":
            return f"this machine's offline mirror {self.path}"
        if self.kind == "config":
            return f"the mirror {self.path} of your Terraform CLI config"
        return f"your mirror {self.path}"

    def holdings(self, on: str | None = None) -> dict[str, list[Version]]:
        """Provider address -> versions held for platform ``on`` (default: this machine's)."""
        on = on or current_platform()
        held: dict[str, set[Version]] = {}
        for type_dir in self.path.glob("*/*/*"):
            if not type_dir.is_dir():
                continue
            address = "/".join(part.lower() for part in type_dir.relative_to(self.path).parts)
            for entry in type_dir.iterdir():
                packed = _PACKED.match(entry.name)
                if packed and packed["platform"] == on and packed["type"] == type_dir.name:
                    version = packed["version"]
                elif entry.is_dir() and (entry / on).is_dir():  # unpacked: VERSION/OS_ARCH/
                    version = entry.name
                else:
                    continue
                try:
                    held.setdefault(address, set()).add(Version.parse(version))
                except ValueError:
                    continue
        return {address: sorted(versions, key=lambda v: v.sort_key) for address, versions in held.items()}


@dataclass(frozen=True)
class NetworkMirror:
    """An ``https://`` base URL serving Terraform's provider network mirror protocol."""

    url: str

    @property
    def label(self) -> str:
        return f"the network mirror {self.url}"


Mirror = FilesystemMirror | NetworkMirror


def parse_mirror(value: str) -> Mirror:
    """One ``--mlinfra-provider-mirror`` value (a resolved folder, or a URL); one line when unusable."""
    if "://" in value:
        if not value.startswith("https://"):
            raise MlinfraError(
                f"{MIRROR_OPTION} {value!r}: a network mirror must be https:// (as Terraform requires)",
                "serve the mirror over HTTPS, or give the folder itself",
            )
        return NetworkMirror(value if value.endswith("/") else value + "/")
    path = Path(value)
    if not path.is_dir():
        raise MlinfraError(
            f"{MIRROR_OPTION} (ini {MIRROR_INI}) {path} is not a folder",
            "give a folder made by `terraform providers mirror DIR`, or an https:// network mirror URL",
        )
    return FilesystemMirror(path)


def _hcl_list(items: list[str]) -> str:
    return "[" + ", ".join(json.dumps(item) for item in items) + "]"


@dataclass
class InstallPlan:
    """The provider installation methods for one stack (``requirements``: address -> constraints).

    ``offline`` False (the registry is thought reachable): the mirrors and the registry are all
    offered every provider, so init takes the newest release the constraints admit among them, as
    Terraform itself chooses. True (the registry could not answer): what the filesystem mirrors can
    serve is kept from the registry, so init needs no network for it.
    """

    mirrors: list[Mirror]
    requirements: dict[str, list[str]] = field(default_factory=dict)
    offline: bool = True

    @cached_property
    def held(self) -> dict[FilesystemMirror, dict[str, list[Version]]]:
        return {m: m.holdings() for m in self.mirrors if isinstance(m, FilesystemMirror)}

    @property
    def network(self) -> list[NetworkMirror]:
        return [m for m in self.mirrors if isinstance(m, NetworkMirror)]

    @cached_property
    def served(self) -> dict[str, tuple[Version, FilesystemMirror]]:
        """Providers the filesystem mirrors serve: the version init will pick, and its mirror."""
        chosen: dict[str, tuple[Version, FilesystemMirror]] = {}
        addresses = {address for holding in self.held.values() for address in holding}
        for address in sorted(addresses):
            offered = [v for holding in self.held.values() for v in holding.get(address, [])]
            newest = newest_admitted(self.requirements.get(address, []), offered)
            if newest is not None:
                chosen[address] = (newest, self.mirror_holding(address, newest))
        return chosen

    def mirror_holding(self, address: str, version: Version) -> FilesystemMirror:
        """The first mirror holding it: Terraform takes a package from the first method that has it."""
        return next(m for m, holding in self.held.items() if version in holding.get(address, []))

    def installable(self, address: str) -> str:
        """'2.70.0, 3.39.0 (the bundled offline mirror /x)'; 'none' when no filesystem mirror holds it."""
        pieces = [
            f"{', '.join(str(v) for v in holding[address])} ({mirror.label})"
            for mirror, holding in self.held.items()
            if holding.get(address)
        ]
        if pieces:
            return "; ".join(pieces)
        return "none in the filesystem mirrors" if self.network else "none"

    def newest_held(self, address: str) -> Version | None:
        offered = [v for holding in self.held.values() for v in holding.get(address, [])]
        return max(offered, key=lambda v: v.sort_key) if offered else None

    def elsewhere(self, address: str) -> str:
        """Where init looks for a provider the filesystem mirrors do not serve."""
        if self.network:
            return " / ".join(m.label for m in self.network)
        return address.split("/")[0] if address.count("/") == 2 else DEFAULT_HOST

    def lines(self) -> list[str]:
        """The ``provider_installation`` block (none without mirrors: Terraform's default, the registry)."""
        if not self.mirrors:
            return []
        excluded = sorted(self.served) if self.offline else []
        blocks = []
        for mirror in self.mirrors:
            if isinstance(mirror, NetworkMirror):
                body = [f"url = {json.dumps(mirror.url)}"]
                if excluded:
                    body.append(f"exclude = {_hcl_list(excluded)}")
                blocks.append(("network_mirror", body))
                continue
            holds = sorted(self.held[mirror])
            if holds:  # an empty include would mean "everything"; a mirror holding nothing is left out
                blocks.append(
                    (
                        "filesystem_mirror",
                        [f"path = {json.dumps(str(mirror.path))}", f"include = {_hcl_list(holds)}"],
                    )
                )
        if not self.network:
            blocks.append(("direct", [f"exclude = {_hcl_list(excluded)}"] if excluded else []))
        out = ["provider_installation {"]
        for name, body in blocks:
            out += [f"  {name} {{", *(f"    {line}" for line in body), "  }"]
        return [*out, "}"]

    def describe(self) -> str:
        """The header's line: what is configured (before init; the stack's needs are not known yet)."""
        held = [
            f"{short_name(address)} {', '.join(str(v) for v in versions)} in {mirror.label}"
            for mirror, holding in self.held.items()
            for address, versions in sorted(holding.items())
        ]
        empty = [m.label for m, holding in self.held.items() if not holding]
        rest = " / ".join(m.url for m in self.network) if self.network else DEFAULT_HOST
        text = "; ".join(held) if held else "no mirrored providers"
        if empty:
            text += f" ({', '.join(empty)}: nothing for {current_platform()})"
        return f"{text}; anything else from {rest}"

    # -- after init ----------------------------------------------------------------------------------

    def source_of(self, address: str, version: str, init_output: str) -> str:
        """Where init took ``address`` ``version`` from, from its output and this plan."""
        short = short_name(address)
        try:
            parsed = Version.parse(version)
        except ValueError:
            parsed = None
        held_by = [
            m for m, holding in self.held.items() if parsed is not None and parsed in holding.get(address, [])
        ]
        if held_by and (address in self.served or not self.offline):
            origin = held_by[0].label
            if held_by[0].fallback:
                origin += " (offline fallback: the registry could not be reached)"
        else:
            origin = self.elsewhere(address) if self.network else f"the registry {self.elsewhere(address)}"
        if re.search(
            rf"Using {re.escape(short)} v{re.escape(version)} from the shared cache directory", init_output
        ):
            return f"the plugin cache, as offered by {origin}"
        if re.search(rf"Using previously-installed {re.escape(short)} v{re.escape(version)}", init_output):
            return f"this run dir's earlier init, as offered by {origin}"
        return origin

    def cannot_install(self, address: str, constraint: str, reason: str) -> MlinfraError:
        """The one line for a constraint nothing here can meet: what, what is installable, what to do."""
        short = short_name(address)
        newest = self.newest_held(address)
        relax = f'relax the constraint to admit one (e.g. version = ">= {newest}")' if newest else None
        mirror = f"add {MIRROR_OPTION}=DIR (ini {MIRROR_INI}) made by `terraform providers mirror DIR` "
        mirror += "on a machine with registry access"
        todo = f"{relax}, or {mirror}" if relax else mirror
        return MlinfraError(
            f"provider {short} {constraint} cannot be installed here: {reason}; "
            f"versions installable here: {self.installable(address)}",
            todo,
        )
