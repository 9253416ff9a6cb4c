"""A reap whose target goes away mid-sweep (a stopped `mlinfra up` service) ends in one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from pytest_mlinfra import reap
from pytest_mlinfra.ledger import APPLIED, Ledger


def test_lost_target_is_a_failed_outcome_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = Ledger(
        "r0lost00", tmp_path / "r0lost00", "local", "us-east-1", endpoint="http://127.0.0.1:9", pid=1
    )
    ledger.set_status(APPLIED)

    def gone(*args: Any) -> reap.ReapResult:
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9/")

    monkeypatch.setattr(reap, "_reap_run", gone)
    result = reap.reap_run(ledger)
    assert result.outcome == "failed"
    assert result.detail.startswith("lost the local target while reaping (Could not connect")
    assert "run dir kept" in result.detail and ledger.run_dir.exists()
