"""The locks and the canary table (scripts/lock.py, scripts/canary.py).

The locks must cover every dependency pyproject declares with an exact version, and the canary's
first line must name a failure: it is the only line a busy reader of CI's log sees.
"""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"script_{name}", REPO / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _declared() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    for extra in ("local", "example", "report"):
        wanted += project["optional-dependencies"][extra]
    return {re.split(r"[\[<>=!~ ;]", spec, maxsplit=1)[0].lower().replace("_", "-") for spec in wanted}


def test_every_declared_dependency_is_locked_exactly() -> None:
    canary = _script("canary")
    for lock in ("lock.txt", "floor.txt"):
        locked = canary.locked_versions(REPO / "constraints" / lock)
        missing = _declared() - set(locked)
        assert not missing, f"constraints/{lock} lacks {sorted(missing)}: run python scripts/lock.py"
    assert canary.locked_versions(REPO / "constraints" / "lock.txt")["torch"].endswith("+cpu")


def test_floor_lock_holds_the_floors_pyproject_declares() -> None:
    canary = _script("canary")
    floor = canary.locked_versions(REPO / "constraints" / "floor.txt")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for spec in project["dependencies"]:
        name, lowest = re.match(r"([A-Za-z0-9_.\-]+)(?:\[.*\])?>=([0-9.]+)", spec).groups()  # type: ignore[union-attr]
        assert floor[name.lower()].startswith(lowest), (
            f"{name}: floor lock {floor[name.lower()]} vs >={lowest}"
        )


def test_canary_table_names_a_failure_on_its_first_line() -> None:
    canary = _script("canary")
    locked = {"moto": "5.2.5", "boto3": "1.44.0", "pytest": "9.0.0"}
    newest = {"moto": "5.3.0", "boto3": "1.44.0", "pytest": "9.0.0"}
    failed = canary.table(locked, newest, 1, "FAILED tests/emulator/test_datasync.py::test_x - KeyError")
    first, header, *rows = failed.splitlines()
    assert first.startswith("canary: FAILED (tox -e latest exit 1)")
    assert "test_datasync.py::test_x" in first
    assert header.split() == ["package", "locked", "newest", "result"]
    assert rows[0].split() == ["moto", "5.2.5", "5.3.0", "suspect"]
    passed = canary.table(locked, newest, 0).splitlines()
    assert passed[0] == "canary: PASSED on the newest releases (1 newer than the lock)"
    assert passed[2].split() == ["moto", "5.2.5", "5.3.0", "ok"]


def test_first_failure_is_pytests_first_failed_line() -> None:
    canary = _script("canary")
    log = "collected 3 items\n...\nFAILED tests/a.py::b - boom\nFAILED tests/a.py::c\n1 failed"
    assert canary.first_failure(log) == "FAILED tests/a.py::b - boom"
    assert canary.first_failure("3 passed") == ""
