"""The emulator's configuration travels whole: every field reaches an emulator in another process,
and every setting that configures the emulator reaches the configuration."""

from __future__ import annotations

import argparse
from dataclasses import asdict, fields
from pathlib import Path

import pytest

from pytest_mlinfra.emulator import config
from pytest_mlinfra.emulator.__main__ import CONFIG_LINE
from pytest_mlinfra.emulator.config import EmulatorConfig
from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.service import spawn_emulator, terminate
from pytest_mlinfra.settings import Settings

# A value other than the default for every field: a field added later without a value here fails.
NON_DEFAULT = {
    "lambda_concurrency": 3,
    "lambda_eni_release_s": 7.5,
    "lambda_host_python": True,
    "keep_warm_s": 42.0,
}


def test_every_field_reaches_a_spawned_emulator(tmp_path: Path) -> None:
    assert {field.name for field in fields(EmulatorConfig)} == set(NON_DEFAULT)
    wanted = EmulatorConfig(**NON_DEFAULT)
    process = spawn_emulator(tmp_path / "aws", config=wanted)
    try:
        log = (tmp_path / "aws.log").read_text().splitlines()
        line = next(text for text in log if text.startswith(CONFIG_LINE))
        assert EmulatorConfig.from_json(line.removeprefix(CONFIG_LINE)) == wanted
    finally:
        terminate(process.pid)


def test_every_emulator_setting_reaches_the_configuration() -> None:
    settings = Settings(lambda_concurrency=3, lambda_eni_release_s=7.5, lambda_host_python=True)
    from_settings = asdict(EmulatorConfig.from_settings(settings))
    assert from_settings == {**NON_DEFAULT, "keep_warm_s": None}, "keep_warm_s is no setting; the rest are"


def test_options_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    parser = argparse.ArgumentParser()
    config.add_arguments(parser)
    monkeypatch.setenv(config.CONCURRENCY_ENV, "5")
    monkeypatch.setenv(config.ENI_RELEASE_ENV, "2")
    assert config.from_args(parser.parse_args([])) == EmulatorConfig(5, 2.0)
    given = config.from_args(parser.parse_args(["--lambda-concurrency", "1", "--lambda-host-python"]))
    assert given == EmulatorConfig(1, 2.0, True)
    whole = parser.parse_args(["--config", EmulatorConfig(2).to_json()])
    assert config.from_args(whole) == EmulatorConfig(2), "--config is whole: the environment adds nothing"


@pytest.mark.parametrize("text", ['{"lambda_concurency": 2}', "[]", "not json"])
def test_a_config_that_is_not_one_is_one_line(text: str) -> None:
    with pytest.raises(MlinfraError, match="is not an emulator configuration"):
        EmulatorConfig.from_json(text)


def test_values_are_checked() -> None:
    with pytest.raises(MlinfraError, match="lambda concurrency must be >= 1"):
        EmulatorConfig(lambda_concurrency=0)
