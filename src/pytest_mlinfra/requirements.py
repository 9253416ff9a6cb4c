"""A function's ``requirements.txt``, built for the runtime it declares, not for this machine.

AWS's packaging guide: ``pip install --target package --platform manylinux2014_x86_64
--only-binary=:all: --python-version 3.12 -r requirements.txt``, then zip the package directory with
the handler. The same is done here for the declared runtime, once per (file content, runtime,
architecture): a later run with the same file reuses the directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pytest_mlinfra.emulator.lambda_pythons import built_wheels


@dataclass(frozen=True)
class BuiltRequirements:
    source: Path
    directory: Path
    runtime: str
    architecture: str
    cached: bool

    def describe(self) -> str:
        dists = sorted(p.name.split("-")[0] for p in self.directory.glob("*.dist-info"))
        size = sum(p.stat().st_size for p in self.directory.rglob("*") if p.is_file())
        how = "cached" if self.cached else "built now"
        return (
            f"{self.source.name} for {self.runtime} ({self.architecture}): {len(dists)} packages, "
            f"{size / 1e6:.1f} MB, {how} ({', '.join(dists[:6])}{', ...' if len(dists) > 6 else ''})"
        )


def requirements_file(handler_dir: Path | None, setting: Path | None) -> Path | None:
    """The file the user named, else ``requirements.txt`` beside the handler when there is one."""
    if setting is not None:
        return setting
    default = handler_dir / "requirements.txt" if handler_dir is not None else None
    return default if default is not None and default.is_file() else None


def build(source: Path, runtime: str, architecture: str, cache: Path) -> BuiltRequirements:
    """pip-install ``source`` for ``runtime``/``architecture`` into the cache (binary wheels only)."""
    from pytest_mlinfra.errors import MlinfraError

    try:
        text = source.read_bytes()
    except OSError as exc:
        raise MlinfraError(
            f"cannot read the requirements file {source}: {exc.strerror}",
            "set mlinfra_requirements to an existing file",
        ) from None
    requirements = ["-r", str(source.resolve())]
    target, cached = built_wheels(runtime, architecture, cache, requirements, identity=text)
    return BuiltRequirements(source, target, runtime, architecture, cached=cached)
