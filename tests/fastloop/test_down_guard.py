"""`mlinfra down` does not pull the service from under a pytest run that is deploying into it."""

from __future__ import annotations

import pytest

from pytest_mlinfra import service, service_cli
from pytest_mlinfra.ledger import APPLIED, DESTROYED, Ledger
from pytest_mlinfra.reap import default_runs_dir


def test_down_refuses_while_a_run_deploys_into_the_service(
    up: service.EmulatorProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = Ledger(
        "r0busy00", default_runs_dir() / "r0busy00", "local", "us-east-1", endpoint=up.endpoint_url
    )
    ledger.set_status(APPLIED)  # this test's process is the "pytest run": alive
    assert service_cli.down_main([]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "run r0busy00 (pytest pid " in err and "mlinfra down --force" in err
    assert service.running_service() is not None, "nothing was stopped"

    ledger.set_status(DESTROYED)  # the run finished: down goes ahead
    assert service_cli.down_main([]) == 0
    assert service.running_service() is None


def test_force_stops_it_anyway(up: service.EmulatorProcess) -> None:
    ledger = Ledger(
        "r0busy01", default_runs_dir() / "r0busy01", "local", "us-east-1", endpoint=up.endpoint_url
    )
    ledger.set_status(APPLIED)
    assert service_cli.down_main(["--force"]) == 0
    assert service.running_service() is None
