"""EFS with storage: every file system is a directory on disk, access points are subdirectories.

moto's EFS backend keeps only metadata. This subclass adds the bytes: a file system gets a directory
under the emulator's ``state_dir`` (removed with the file system), and an access point creates its
``RootDirectory.Path`` inside it the way EFS does, when the path does not exist yet, with
``CreationInfo.Permissions``. The directory stays owned by the user running the emulator: a
worker that mounts the access point runs as the access point's ``PosixUser`` (or the
``CreationInfo`` owner) in a user namespace that maps that uid/gid to ours
(:mod:`pytest_mlinfra.emulator.mounts`), so inside the function the files show the owner
``CreationInfo`` asked for. Data written through an access point is kept when the access point
is deleted, as on AWS. ``SizeInBytes`` is metered from the directory as EFS meters it: each
regular file its size rounded up to 4 KiB, each directory 4 KiB (all in Standard storage).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from moto.efs.exceptions import FileSystemNotFound
from moto.efs.models import AccessPoint, EFSBackend, FileSystem, efs_backends

from pytest_mlinfra.emulator import context, mounts

METERING_BLOCK = 4096


class StoredFileSystem(FileSystem):
    """A moto file system whose ``SizeInBytes`` is what its directory holds."""

    @property
    def size_in_bytes(self) -> dict[str, Any]:
        path = context.efs_dir(self.file_system_id)
        value = metered_size(path) if path is not None else 0
        return {
            "Value": value,
            "ValueInIA": 0,
            "ValueInStandard": value,
            "ValueInArchive": 0,
            "Timestamp": time.time(),
        }


def metered_size(root: Path) -> int:
    """EFS metering of a tree: files rounded up to 4 KiB, directories (below the root) 4 KiB each."""
    total = 0
    for directory, subdirectories, files in os.walk(root):
        total += METERING_BLOCK * len(subdirectories)
        for name in files:
            try:
                size = os.lstat(os.path.join(directory, name)).st_size
            except OSError:  # removed while walking
                continue
            total += -(-size // METERING_BLOCK) * METERING_BLOCK
    return total


class StorageEFSBackend(EFSBackend):
    """moto's EFS backend plus on-disk storage for file systems and access point roots."""

    @property
    def _url_module(self) -> Any:
        import moto.efs.urls

        return moto.efs.urls

    def create_file_system(self, *args: Any, **kwargs: Any) -> FileSystem:
        file_system = super().create_file_system(*args, **kwargs)
        # Same object, metered from disk (moto builds FileSystem itself, so it is re-classed here).
        setattr(file_system, "__class__", StoredFileSystem)  # noqa: B010
        context.register_efs(file_system.file_system_id)
        return file_system

    def delete_file_system(self, file_system_id: str) -> None:
        super().delete_file_system(file_system_id)
        path = context.forget_efs(file_system_id)
        if path is not None:
            shutil.rmtree(path, ignore_errors=True)

    def create_access_point(
        self,
        client_token: str,
        tags: list[dict[str, str]],
        file_system_id: str,
        posix_user: dict[str, Any],
        root_directory: dict[str, Any],
    ) -> AccessPoint:
        if file_system_id not in self.file_systems_by_id:
            raise FileSystemNotFound(file_system_id)
        access_point = super().create_access_point(
            client_token, tags, file_system_id, posix_user, root_directory
        )
        create_root(file_system_id, access_point.root_directory)
        return access_point


def storage_path(file_system_id: str) -> Path:
    path = context.efs_dir(file_system_id)
    if path is None:
        raise FileSystemNotFound(file_system_id)
    return path


def access_point_path(file_system_id: str, root_directory: dict[str, Any]) -> Path:
    """The host directory an access point exposes as the root of the file system."""
    relative = str(root_directory.get("Path") or "/").strip("/")
    return storage_path(file_system_id) / relative if relative else storage_path(file_system_id)


def create_root(file_system_id: str, root_directory: dict[str, Any]) -> Path:
    """Create the access point's root like EFS: only when missing, owned and moded per CreationInfo."""
    path = access_point_path(file_system_id, root_directory)
    if path.exists():
        return path
    info = root_directory.get("CreationInfo") or {}
    path.mkdir(parents=True, exist_ok=True)
    if "Permissions" in info:
        path.chmod(int(str(info["Permissions"]), 8))
    return path


def access_point_identity(
    posix_user: dict[str, Any] | None, root_directory: dict[str, Any]
) -> tuple[int, int] | None:
    """The uid/gid a function acts as through an access point: PosixUser, else the root's owner."""
    if posix_user and "Uid" in posix_user and "Gid" in posix_user:
        return int(posix_user["Uid"]), int(posix_user["Gid"])
    info = root_directory.get("CreationInfo") or {}
    if "OwnerUid" in info and "OwnerGid" in info:
        return int(info["OwnerUid"]), int(info["OwnerGid"])
    return None


def access_point_mount(account_id: str, region: str, arn: str, local_mount_path: str) -> mounts.Mount | None:
    """How a function sees access point ``arn`` at ``local_mount_path`` (None: no such access point).

    Shared by the embedded Lambda backend and the LocalStack executor, so both mount alike.
    """
    access_point = efs_backends[account_id][region].access_points.get(arn.rsplit("/", 1)[-1])
    if access_point is None:
        return None
    host_dir = create_root(access_point.file_system_id, access_point.root_directory)
    identity = access_point_identity(access_point.posix_user, access_point.root_directory)
    return mounts.Mount(host_dir, local_mount_path, identity)
