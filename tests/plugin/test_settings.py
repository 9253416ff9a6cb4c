"""The settings declaration: options, ini settings, defaults and the README all come from it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pytest_mlinfra.settings import declarations, markdown_table

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from gen_settings_table import render  # noqa: E402

# Every option name users had before the settings were declared in one place.
OPTIONS_BEFORE = (
    "--mlinfra-target", "--mlinfra-region", "--mlinfra-environment", "--mlinfra-project",
    "--mlinfra-handler", "--mlinfra-runtime", "--mlinfra-localstack-endpoint", "--mlinfra-aws-accounts",
    "--mlinfra-stack", "--mlinfra-handler-dir", "--mlinfra-model", "--mlinfra-keep", "--mlinfra-terraform",
    "--mlinfra-require-tags", "--mlinfra-tag", "--mlinfra-port", "--mlinfra-model-source",
    "--mlinfra-no-audit", "--mlinfra-examples", "--mlinfra-profile", "--mlinfra-latency-budget",
    "--mlinfra-min-recall", "--mlinfra-aws-opt-in",
)  # fmt: skip


def test_readme_options_table_is_the_declaration() -> None:
    readme = (ROOT / "README.md").read_text()
    assert markdown_table() in readme
    assert render(readme) == readme, "README is out of date: run python scripts/gen_settings_table.py"


def test_every_earlier_option_is_declared_and_each_ini_matches_its_option() -> None:
    declared = {d.option: d for _name, d in declarations()}
    assert set(OPTIONS_BEFORE) <= set(declared)
    for option, d in declared.items():
        assert d.ini == "mlinfra_" + option.removeprefix("--mlinfra-").replace("-", "_")


def test_plugin_with_nothing_set_equals_settings_defaults(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import dataclasses
        from pytest_mlinfra.settings import Settings

        def test_defaults(mlinfra_run):
            plugin = dataclasses.asdict(mlinfra_run.settings)
            plain = dataclasses.asdict(Settings())
            assert plugin.pop("run_id") != plain.pop("run_id")
            assert plugin == plain
            assert plain["latency_budgets"] == {"p50": 250, "p95": 1000, "p99": 2000, "cold": 30000}
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_ini_names_old_aliases_flags_and_options_win(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLINFRA_AWS_OPT_IN", "yes")
    pytester.makeini(
        """
        [pytest]
        mlinfra_required_tags = Name Owner Team
        mlinfra_tags =
            Team=ml
            CostCenter=42
        mlinfra_keep = true
        mlinfra_no_audit = true
        mlinfra_port = 4599
        mlinfra_latency_budget = p50=10
        mlinfra_package_include =
            app.py
        """
    )
    pytester.makepyfile(
        """
        def test_settings(mlinfra_run):
            s = mlinfra_run.settings
            assert s.required_tags == ("Name", "Owner", "Team")
            assert s.extra_tags == {"Team": "ml", "CostCenter": "43"}
            assert (s.keep, s.audit, s.aws_opt_in) == (True, False, True)
            assert (s.port, s.latency_budgets) == (4599, {"p50": 10.0})
            assert s.package_include == ("app.py", "lib/*.py")
        """
    )
    result = pytester.runpytest(
        "--mlinfra-tag=CostCenter=43",
        "--mlinfra-package-include=lib/*.py",
        "-W",
        "error::pytest.PytestConfigWarning",
    )
    result.assert_outcomes(passed=1)


def test_a_bad_number_is_one_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest("--mlinfra-port=eighty")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: mlinfra: --mlinfra-port (ini mlinfra_port) 'eighty' is not valid*"])


def test_stock_property_suite_is_collected_from_the_ini(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nmlinfra_properties = ner\n")
    pytester.makepyfile("def test_own():\n    pass\n")
    result = pytester.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines(
        ["*.py::test_own", "mlinfra:ner::test_spans_match_the_input", "mlinfra::latency-budget"]
    )
    unknown = pytester.runpytest("--mlinfra-properties=nlp")
    assert unknown.ret == pytest.ExitCode.USAGE_ERROR
    unknown.stderr.fnmatch_lines(["ERROR: mlinfra: property suite 'nlp' is unknown. use one of: ner"])
