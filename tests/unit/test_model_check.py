"""The model check hook (``mlinfra_model_check``): how a user's function's verdict becomes one line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.preflight import check_model, parse_model_check
from pytest_mlinfra.run import Run
from pytest_mlinfra.settings import Settings

CHECKS = """
from pathlib import Path

def ok(path: Path) -> None:
    assert path.read_bytes() == b"weights"

def refuses(path: Path) -> bool:
    return False

def crashes(path: Path) -> None:
    raise RuntimeError("unexpected EOF, expected 12 more bytes\\nsecond line")
"""


@pytest.fixture
def checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "handler"
    folder.mkdir()
    (folder / "mlinfra_checks_mod.py").write_text(CHECKS)
    (tmp_path / "model.pt").write_bytes(b"weights")
    monkeypatch.delitem(sys.modules, "mlinfra_checks_mod", raising=False)
    return folder


def test_a_passing_check_returns_its_seconds(checks: Path) -> None:
    assert check_model("mlinfra_checks_mod:ok", checks.parent / "model.pt", [checks]) >= 0


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("mlinfra_checks_mod:refuses", "fails its check mlinfra_checks_mod:refuses (it returned False)"),
        (
            "mlinfra_checks_mod:crashes",
            "fails its check mlinfra_checks_mod:crashes: RuntimeError: unexpected EOF, "
            "expected 12 more bytes. point --mlinfra-model",
        ),
        (
            "mlinfra_checks_mod:absent",
            "model check mlinfra_checks_mod:absent cannot be imported: AttributeError",
        ),
        ("no_such_module_here:f", "cannot be imported: ModuleNotFoundError"),
    ],
)
def test_a_failing_check_is_one_line(checks: Path, spec: str, expected: str) -> None:
    with pytest.raises(MlinfraError) as caught:
        check_model(spec, checks.parent / "model.pt", [checks])
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)
    assert str(checks) not in sys.path, "the search path is restored"


@pytest.mark.parametrize("spec", ["model", "model.check", "model:", ":check", "my-model:check", "a:b:c"])
def test_the_spelling_is_module_colon_function(spec: str) -> None:
    with pytest.raises(MlinfraError, match="is not MODULE:FUNCTION"):
        parse_model_check(spec)
    assert parse_model_check("pkg.model:check_artifact") == ("pkg.model", "check_artifact")


def test_run_checks_once_and_only_when_the_session_syncs_the_model(checks: Path, tmp_path: Path) -> None:
    settings = Settings(
        model_path=tmp_path / "model.pt", model_check="mlinfra_checks_mod:crashes", handler_dir=checks
    )
    run = Run(settings, log=lambda line: None)
    run.fixtures = {"mlinfra_target"}
    run.check_model()  # no model fixture: not called
    run.fixtures = {"mlinfra_target", "mlinfra_model"}
    with pytest.raises(MlinfraError, match="RuntimeError"):
        run.check_model()
    settings.model_check = "mlinfra_checks_mod:ok"
    said: list[str] = []
    run = Run(settings, log=said.append)
    run.fixtures = {"mlinfra_model"}
    run.check_model()
    run.check_model()
    assert len([line for line in said if "model check mlinfra_checks_mod:ok passed" in line]) == 1
