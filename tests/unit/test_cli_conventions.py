"""Every ``mlinfra`` subcommand follows the same conventions in its ``--help``."""

from __future__ import annotations

import pytest

from pytest_mlinfra.cli import COMMANDS, main


def exit_code(argv: list[str]) -> int | str | None:
    """What ``mlinfra ARGV`` exits with (argparse raises SystemExit; some commands return it)."""
    try:
        return main(argv)
    except SystemExit as done:
        return done.code


@pytest.mark.parametrize("name", list(COMMANDS))
def test_help_names_the_command_as_typed_in_one_voice(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code([name, "--help"]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: mlinfra {name} ")
    description = text.split("\n\n")[1].replace("\n", " ")
    assert description[0].isupper() and description.endswith("."), description


@pytest.mark.parametrize("name", ["runs", "status"])
def test_listings_have_json(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code([name, "--help"]) == 0
    assert "--json" in capsys.readouterr().out
