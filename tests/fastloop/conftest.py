"""A private cache (so runs, kept stacks and the service record are this test's own) and an
``mlinfra up`` service that is always stopped again."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_mlinfra import service, service_cli

SMALL = Path(__file__).resolve().parents[1] / "stacks" / "small"


@pytest.fixture
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("MLINFRA_CACHE_DIR", str(cache))
    return cache


@pytest.fixture
def up(private_cache: Path) -> Iterator[service.EmulatorProcess]:
    """``mlinfra up``; afterwards ``mlinfra down`` and proof that the process is gone."""
    assert service_cli.up_main([]) == 0
    record = service.running_service()
    assert record is not None
    try:
        yield record
    finally:
        service_cli.down_main([])
        service.terminate(record.pid)  # the safety net when down itself failed
        assert not service.EmulatorProcess.alive(record)


def client(record: service.EmulatorProcess, name: str) -> Any:
    import boto3

    return boto3.client(
        name,
        endpoint_url=record.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def tagged(record: service.EmulatorProcess, run_id: str | None = None) -> list[str]:
    """ARNs carrying a run id tag (this run's, or any run's): the leak sweep."""
    filters = [{"Key": "mlinfra:run-id", **({"Values": [run_id]} if run_id else {})}]
    found = client(record, "resourcegroupstaggingapi").get_resources(TagFilters=filters)
    return [item["ResourceARN"] for item in found["ResourceTagMappingList"]]


def notes(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]


def emulator_processes(marker: str) -> list[int]:
    """Pids of emulator processes whose command line mentions ``marker`` (a private path)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "pytest_mlinfra.emulator" in cmdline and marker in cmdline and int(proc.name) != os.getpid():
            pids.append(int(proc.name))
    return pids
