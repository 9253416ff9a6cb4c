"""Python packages the function imports from EFS, delivered the way production delivers them.

torch (754 MB installed) cannot fit a Lambda zip or layers (250 MB unzipped), so production puts
it on the function's EFS file system: the packages are uploaded to S3 next to the model
(``<model_key>/python/...``), the stack's DataSync task copies them to EFS with the model, and the
function's ``PYTHONPATH`` names the directory on the mount (``/mnt/shared-storage/python``).

The upload is content addressed: a manifest (path -> sha256, size) is kept in S3 beside the
packages, and a file whose hash the manifest already has is not uploaded again (DataSync's
default ``TransferMode=CHANGED`` then skips it on the copy too). Hashes are cached on disk by
path, size and modification time, so an unchanged torch costs a few stat calls, not 754 MB of
reading.

A **declared stand-in** (``mlinfra_lambda_provided``): the named distributions and what they
require are not uploaded. On the local target the emulated EFS directory gets links to the host's
installed copies at the same paths, so the handler still imports them from the mount through
``PYTHONPATH``, without copying 754 MB; on LocalStack, the mlinfra executor provides the ones
``MLINFRA_LAMBDA_PROVIDED`` names. The header and the terminal summary say so.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import json
import os
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_mlinfra.errors import MlinfraError

if TYPE_CHECKING:
    from pytest_mlinfra.settings import Settings

PACKAGES_DIR = "python"  # below the model prefix in S3 and the access point's root on EFS
MANIFEST = ".mlinfra-packages.json"
# What the managed Python runtime already has: never shipped (the runtime's copy wins anyway).
RUNTIME_PROVIDED = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"}
)


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class PackageFile:
    relpath: str  # relative to the packages directory (site-packages layout)
    path: Path
    size: int
    mtime_ns: int


@dataclass
class Distribution:
    name: str
    version: str
    root: Path  # the site-packages directory it is installed in
    files: list[PackageFile]
    top_level: list[str]  # first path components (packages, modules, the .dist-info dir)


def resolve(names: Iterable[str], skip_files: frozenset[str] | None = frozenset()) -> list[Distribution]:
    """The named distributions and everything they require, as installed here (files listed and
    stat'ed except for those in ``skip_files``, all when None: torch alone has 14,621)."""
    from packaging.requirements import Requirement

    todo, seen, found = list(names), set(RUNTIME_PROVIDED), []
    while todo:
        name = todo.pop(0)
        if _key(name) in seen:
            continue
        seen.add(_key(name))
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise MlinfraError(
                f"package {name} for the function's EFS packages is not installed here",
                "pip install it, or remove it from mlinfra_efs_packages",
            ) from None
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
        root = Path(str(dist.locate_file(""))).resolve()
        files, top = [], set()
        listed = skip_files is not None and _key(name) not in skip_files
        for entry in dist.files or []:
            parts = entry.parts
            if parts[0] == ".." or "__pycache__" in parts or entry.suffix == ".pyc":
                continue
            top.add(parts[0])
            if not listed:
                continue
            path = root / str(entry)
            try:
                stat = path.stat()
            except OSError:
                continue
            files.append(PackageFile(entry.as_posix(), path, stat.st_size, stat.st_mtime_ns))
        found.append(Distribution(dist.metadata["Name"], dist.version, root, files, sorted(top)))
    return found


@dataclass
class PackageReport:
    """What happened to the function's EFS packages in this run (for the summary)."""

    distributions: list[str]
    provided: list[str]  # stood in from the host (declared), not uploaded
    files: int = 0
    bytes: int = 0
    uploaded: int = 0
    unchanged: int = 0
    mount_dir: str = ""
    stand_in_how: str = "linked from the host's site-packages"

    def describe(self) -> str:
        shipped = [d for d in self.distributions if d not in self.provided]
        parts = [f"EFS packages at {self.mount_dir} (PYTHONPATH):"]
        if shipped:
            parts.append(
                f"{', '.join(shipped)} through S3 + DataSync ({self.files} files, {self.bytes / 1e6:.1f} MB; "
                f"uploaded {self.uploaded}, unchanged {self.unchanged})"
            )
        if self.provided:
            parts.append(
                f"{'; ' if shipped else ''}STAND-IN {', '.join(self.provided)} {self.stand_in_how}, "
                "not uploaded (mlinfra_lambda_provided; production: S3 + DataSync)"
            )
        return " ".join(parts)


class HashCache:
    """sha256 per (path, size, mtime) in one JSON file, so unchanged packages are not re-read."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._data: dict[str, list[Any]] = {}
        if path is not None and path.is_file():
            try:
                self._data = json.loads(path.read_text())
            except ValueError:
                self._data = {}

    def sha256(self, file: PackageFile) -> str:
        known = self._data.get(str(file.path))
        if known and known[0] == file.size and known[1] == file.mtime_ns:
            return str(known[2])
        digest = hashlib.sha256()
        with open(file.path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        self._data[str(file.path)] = [file.size, file.mtime_ns, digest.hexdigest()]
        return digest.hexdigest()

    def save(self) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self._data))
            os.replace(tmp, self.path)


def _wheel_tags(dist: metadata.Distribution) -> list[str]:
    text = dist.read_text("WHEEL") or ""
    return [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Tag:")]


def loads_on(tags: list[str], runtime: str) -> bool:
    """Whether a wheel with ``tags`` (``cp311-cp311-manylinux_2_28_x86_64``) can load on a
    ``pythonX.Y`` runtime: pure Python, a stable-ABI build for an older or equal version, or a build
    for exactly that version. No tags (not installed from a wheel): assumed to load."""
    if not tags or not runtime.startswith("python"):
        return True
    wanted = "cp" + runtime.removeprefix("python").replace(".", "")
    for tag in tags:
        interpreter, abi, _ = [*tag.split("-"), "", ""][:3]
        if abi == "none" and interpreter.startswith("py"):
            return True
        if abi == "abi3" and int(interpreter[2:] or 0) <= int(wanted[2:]):
            return True
        if interpreter == wanted:
            return True
    return False


def built_for_another_python(names: Iterable[str], runtime: str) -> list[str]:
    """The distributions (with their requirements) installed here that ``runtime`` cannot load,
    as ``name version (tag)``: host builds for this Python, not the function's."""
    bad = []
    for dist in resolve(names, None):
        installed = metadata.distribution(dist.name)
        tags = _wheel_tags(installed)
        if not loads_on(tags, runtime):
            bad.append(f"{dist.name} {dist.version} ({tags[0]})")
    return bad


@dataclass
class PackageSync:
    """Upload (content addressed) the function's EFS packages, or stand them in on the local target."""

    names: tuple[str, ...]
    provided: tuple[str, ...] = ()
    mount_dir: str = "/mnt/shared-storage/python"
    hash_cache: Path | None = None
    threads: int = 8
    stand_in_how: str = "linked from the host's site-packages"
    distributions: list[Distribution] = field(default_factory=list)

    def __post_init__(self) -> None:
        # A provided distribution comes with what it requires, as installed on the host.
        provided = {_key(d.name) for d in resolve(self.provided, None)}
        self._provided = provided if self.provided else set()
        self.distributions = resolve(self.names, frozenset(self._provided))
        unknown = {_key(p) for p in self.provided} - {_key(d.name) for d in self.distributions}
        if unknown:
            raise MlinfraError(
                f"mlinfra_lambda_provided names {', '.join(sorted(unknown))}, not among the EFS packages",
                "list it in mlinfra_efs_packages too (the stand-in replaces a delivery, it adds nothing)",
            )

    def all_provided(self) -> bool:
        return all(self._is_provided(d) for d in self.distributions)

    def _is_provided(self, dist: Distribution) -> bool:
        return _key(dist.name) in self._provided

    def report(self, stand_in: bool) -> PackageReport:
        return PackageReport(
            [d.name for d in self.distributions],
            [d.name for d in self.distributions if stand_in and self._is_provided(d)],
            mount_dir=self.mount_dir,
            stand_in_how=self.stand_in_how,
        )

    def upload(self, s3: Any, bucket: str, prefix: str, stand_in: bool) -> PackageReport:
        """Put the shipped distributions under ``s3://bucket/prefix/python/``, skipping unchanged files."""
        report = self.report(stand_in)
        shipped = [f for d in self.distributions if d.name not in report.provided for f in d.files]
        base = f"{prefix.strip('/')}/{PACKAGES_DIR}"
        old = _read_manifest(s3, bucket, f"{base}/{MANIFEST}")
        cache = HashCache(self.hash_cache)
        manifest = {f.relpath: {"sha256": cache.sha256(f), "size": f.size} for f in shipped}
        cache.save()
        changed = [f for f in shipped if old.get(f.relpath) != manifest[f.relpath]]

        def put(file: PackageFile) -> None:
            with open(file.path, "rb") as body:
                s3.put_object(Bucket=bucket, Key=f"{base}/{file.relpath}", Body=body)

        with ThreadPoolExecutor(max_workers=self.threads) as pool:
            list(pool.map(put, changed))
        if changed or old.keys() != manifest.keys():
            s3.put_object(Bucket=bucket, Key=f"{base}/{MANIFEST}", Body=json.dumps(manifest, sort_keys=True))
        report.files, report.bytes = len(shipped), sum(f.size for f in shipped)
        report.uploaded, report.unchanged = len(changed), len(shipped) - len(changed)
        return report

    def stand_in(self, efs_packages_dir: Path) -> None:
        """Link the provided distributions' top-level entries into the emulated EFS packages dir."""
        efs_packages_dir.mkdir(parents=True, exist_ok=True)
        for dist in self.distributions:
            if not self._is_provided(dist):
                continue
            for name in dist.top_level:
                link = efs_packages_dir / name
                if link.is_symlink() or link.exists():
                    if link.is_symlink() and Path(os.readlink(link)) == dist.root / name:
                        continue
                    raise MlinfraError(
                        f"{link} exists on the emulated EFS; the stand-in for {dist.name} would hide it",
                        f"remove {dist.name} from mlinfra_lambda_provided, or the file from the S3 packages",
                    )
                link.symlink_to(dist.root / name)

    def verify(self, efs_packages_dir: Path, report: PackageReport) -> None:
        """Every shipped file arrived on EFS with its size (the local target can look)."""
        for dist in self.distributions:
            if dist.name in report.provided:
                continue
            for file in dist.files:
                landed = efs_packages_dir / file.relpath
                if not landed.is_file() or landed.stat().st_size != file.size:
                    raise MlinfraError(
                        f"EFS package file {landed} is missing or has the wrong size after DataSync",
                        "check the DataSync task's source and destination subdirectories",
                    )


def _read_manifest(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as exc:  # NoSuchKey on a first run; anything else is a real error
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "404"):
            return {}
        raise
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def stand_in_honoured(settings: Settings) -> bool:
    """Whether the target stands in ``mlinfra_lambda_provided``: the local target links them on its
    EFS; LocalStack's mlinfra executor provides what ``MLINFRA_LAMBDA_PROVIDED`` names."""
    if not settings.lambda_provided:
        return False
    if settings.target == "local":
        return True
    declared = set(os.environ.get("MLINFRA_LAMBDA_PROVIDED", "").replace(",", " ").split())
    return settings.target == "localstack" and set(settings.lambda_provided) <= declared


def packages_line(settings: Settings) -> str:
    """How the function's EFS packages get there in this run (the stand-in named, never silent)."""
    names = ", ".join(settings.efs_packages)
    text = f"EFS packages {names} (+ requirements) synced with the model, PYTHONPATH on the mount"
    provided = ", ".join(settings.lambda_provided)
    if not provided:
        return text
    if not stand_in_honoured(settings):
        return text + f"; mlinfra_lambda_provided ({provided}) ignored: uploaded on {settings.target}"
    if settings.target == "localstack":
        return text + (
            f"; STAND-IN: {provided} provided by LocalStack's mlinfra executor from its host, "
            "not uploaded (MLINFRA_LAMBDA_PROVIDED)"
        )
    linked = f"; STAND-IN: {provided} linked from the host's site-packages, not uploaded"
    return text + linked + " (mlinfra_lambda_provided)"
