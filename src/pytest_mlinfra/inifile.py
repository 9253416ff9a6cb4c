"""The ini trap: ``pytest --mlinfra-stack /abs/path`` makes pytest take the value for a test path
when it picks rootdir and ini file, so the user's ``pytest.ini`` (with the ``mlinfra_*`` settings)
is silently skipped. Said in one line at start-up, before anything is deployed."""

from __future__ import annotations

import configparser
import itertools
import tomllib
from collections.abc import Collection, Sequence
from pathlib import Path

# pytest's ini files in the order it tries them, with the section that holds its settings
_SECTIONS = (
    ("pytest.ini", "pytest"),
    (".pytest.ini", "pytest"),
    ("tox.ini", "pytest"),
    ("setup.cfg", "tool:pytest"),
)


def holds_mlinfra_keys(path: Path) -> bool:
    """Whether ``path`` (a pytest ini file) sets any ``mlinfra_*`` key in pytest's section."""
    try:
        if path.name == "pyproject.toml":
            table = tomllib.loads(path.read_text()).get("tool", {}).get("pytest", {}).get("ini_options", {})
            return any(str(key).startswith("mlinfra_") for key in table)
        section = dict(_SECTIONS).get(path.name, "pytest")
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        parser.read(path, encoding="utf-8")
        return parser.has_section(section) and any(k.startswith("mlinfra_") for k in parser[section])
    except (OSError, ValueError, configparser.Error):
        return False


def mlinfra_ini_in(directory: Path) -> Path | None:
    """The ini file in ``directory`` that holds ``mlinfra_*`` settings, if any."""
    names = [name for name, _ in _SECTIONS] + ["pyproject.toml"]
    for name in names:
        path = directory / name
        if path.is_file() and holds_mlinfra_keys(path):
            return path
    return None


def spaced_values(args: Sequence[str], flags: Collection[str]) -> list[str]:
    """``--mlinfra-x VALUE`` pairs in ``args`` (options that take a value, spelled without ``=``)."""
    found = []
    for option, value in itertools.pairwise(args):
        takes_value = option.startswith("--mlinfra-") and "=" not in option and option not in flags
        if takes_value and not value.startswith("-"):
            found.append(f"{option}={value}")
    return found


def ini_trap(
    loaded: Path | None, invocation_dir: Path, args: Sequence[str], flags: Collection[str]
) -> str | None:
    """One line when pytest loaded another ini than the invocation dir's ``mlinfra_*`` one; else None."""
    wanted = mlinfra_ini_in(invocation_dir)
    if wanted is None or (loaded is not None and loaded.resolve() == wanted.resolve()):
        return None
    if loaded is not None and holds_mlinfra_keys(loaded):
        return None  # another project's mlinfra settings, chosen on purpose (pytest other/project)
    read = f"read {loaded}" if loaded is not None else "read no ini file"
    spaced = spaced_values(args, flags)
    fix = f"write {' '.join(spaced)}" if spaced else "spell values --mlinfra-x=VALUE"
    return (
        f"pytest {read}, not {wanted.name} here, which holds the mlinfra_* settings (a value after "
        f"an option and a space is taken for a test path when pytest picks its ini file): {fix}, "
        f"or pass -c {wanted.name}"
    )
