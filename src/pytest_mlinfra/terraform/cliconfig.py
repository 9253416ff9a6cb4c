"""The user's own Terraform CLI configuration: what of it the plugin's private config carries over.

Terraform reads one CLI config file (``TF_CLI_CONFIG_FILE``, else ``~/.terraformrc``). The plugin
must write its own (plugin cache lock, per-stack installation plan), so it reads the user's and
merges what decides where providers come from: ``plugin_cache_dir`` and the mirrors of
``provider_installation`` (filesystem mirrors, then network mirrors). A ``TF_CLI_CONFIG_FILE`` that
names a missing file is what Terraform itself tolerates (a warning): it counts as no config.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_mlinfra.errors import MlinfraError

CLI_CONFIG_ENV = "TF_CLI_CONFIG_FILE"


@dataclass(frozen=True)
class UserCliConfig:
    """The parts of the user's CLI config the plugin honours (``path`` None: there is none)."""

    path: Path | None = None
    plugin_cache_dir: Path | None = None
    mirrors: tuple[str, ...] = field(default_factory=tuple)  # folders and https:// URLs, in order


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return os.path.expandvars(os.path.expanduser(value.strip().strip('"')))
    return None


def _blocks(value: Any) -> list[dict[str, Any]]:
    return [b for b in (value if isinstance(value, list) else [value]) if isinstance(b, dict)]


def config_path(environ: dict[str, str] | None = None) -> Path | None:
    """The file Terraform would read, when it exists."""
    env = os.environ if environ is None else environ
    explicit = env.get(CLI_CONFIG_ENV)
    candidates = [Path(explicit)] if explicit else []
    candidates.append(Path(env.get("HOME") or Path.home()) / ".terraformrc")
    for candidate in candidates:
        if candidate.is_file() and str(candidate) != os.devnull:
            return candidate
    return None


def read_user_config(environ: dict[str, str] | None = None) -> UserCliConfig:
    """The user's config, read as Terraform would; one line when it does not parse."""
    from pytest_mlinfra.terraform.hcl import load_hcl_file

    path = config_path(environ)
    if path is None:
        return UserCliConfig()
    try:
        parsed = load_hcl_file(path)
    except MlinfraError as exc:
        raise MlinfraError(
            f"your Terraform CLI config {path} does not parse: {exc.what}",
            f"fix it, or point {CLI_CONFIG_ENV} at another file",
        ) from None
    cache = _text(parsed.get("plugin_cache_dir"))
    mirrors: list[str] = []
    for installation in _blocks(parsed.get("provider_installation")):
        for block in _blocks(installation.get("filesystem_mirror")):
            folder = _text(block.get("path"))
            if folder and Path(folder).is_dir():
                mirrors.append(str(Path(folder).resolve()))
        for block in _blocks(installation.get("network_mirror")):
            url = _text(block.get("url"))
            if url:
                mirrors.append(url)
    return UserCliConfig(path, Path(cache) if cache else None, tuple(mirrors))
