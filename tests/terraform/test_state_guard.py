"""A state that Terraform leaves torn is put back (issue 24: two interrupts left a 0-byte state).

Real Terraform (built-in ``terraform_data``, no provider): the second apply's provisioner does what
a Terraform killed mid-write does, it truncates ``terraform.tfstate`` and SIGKILLs its Terraform.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import tftest

from pytest_mlinfra.terraform.process import TerraformProcess
from pytest_mlinfra.terraform.state_guard import LAST_GOOD_SUFFIX, StateGuard, state_serial
from pytest_mlinfra.terraform.toolchain import find_terraform

FIRST = 'resource "terraform_data" "kept" {\n  input = "kept"\n}\n'
TORN = """
resource "terraform_data" "torn" {
  input = "torn"
  provisioner "local-exec" {
    # Terraform dies between truncating its state and writing it again.
    command = ": > terraform.tfstate; kill -KILL $PPID; sleep 5"
  }
}
"""


def _terraform(tmp_path: Path) -> TerraformProcess:
    env = {"CHECKPOINT_DISABLE": "1", "TF_CLI_CONFIG_FILE": os.devnull}
    return TerraformProcess(str(tmp_path), binary=str(find_terraform().path), env=env)


def test_a_state_torn_by_a_killed_terraform_is_restored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    said: list[str] = []
    monkeypatch.setattr("pytest_mlinfra.interrupts.report", said.append)
    (tmp_path / "main.tf").write_text(FIRST)
    tf = _terraform(tmp_path)
    tf.execute_command("init", "-input=false")
    tf.execute_command("apply", "-auto-approve", "-input=false")
    state = tmp_path / "terraform.tfstate"
    before = state.read_bytes()
    assert state_serial(before) is not None
    (tmp_path / "torn.tf").write_text(TORN)
    with pytest.raises(tftest.TerraformTestError):
        tf.execute_command("apply", "-auto-approve", "-input=false")
    data = state.read_bytes()
    assert state_serial(data) is not None, f"state left {len(data)} bytes"
    kept = [r["type"] + "." + r["name"] for r in json.loads(data)["resources"]]
    assert "terraform_data.kept" in kept
    assert any("restored the last good state" in line for line in said), said
    assert (tmp_path / "terraform.tfstate.torn").read_bytes() == b""
    assert not (tmp_path / ("terraform.tfstate" + LAST_GOOD_SUFFIX)).exists()


def test_a_good_state_is_left_alone(tmp_path: Path) -> None:
    state = tmp_path / "terraform.tfstate"
    good = json.dumps({"version": 4, "serial": 3, "resources": []}).encode()
    said: list[str] = []
    with StateGuard(state, said.append):
        state.write_bytes(good)
    assert state.read_bytes() == good and said == []


def test_the_newest_good_copy_wins_over_an_older_backup(tmp_path: Path) -> None:
    state = tmp_path / "terraform.tfstate"
    (tmp_path / "terraform.tfstate.backup").write_bytes(json.dumps({"version": 4, "serial": 1}).encode())
    newest = json.dumps({"version": 4, "serial": 7, "resources": []}).encode()
    said: list[str] = []
    with StateGuard(state, said.append) as guard:
        state.write_bytes(newest)
        guard.snapshot()
        state.write_bytes(b'{"version": 4, "ser')  # cut short mid-write
    assert state.read_bytes() == newest
    assert "serial 7" in said[0]
