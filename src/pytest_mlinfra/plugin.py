"""pytest glue only: options and ini settings, the report header, the terminal summary.

Nothing heavy happens at import or configure time: the target starts and the stack is applied only
when a test asks for a fixture (see :mod:`pytest_mlinfra.fixtures`). ``-p no:mlinfra`` disables it all.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from _pytest.junitxml import xml_key
from hypothesis import settings as hypothesis_settings

from pytest_mlinfra import interrupts
from pytest_mlinfra.checks import SessionCheckItem, check_cost_tags, check_latency_budget
from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.fixtures import *  # noqa: F403 - registers the public fixtures
from pytest_mlinfra.latency import format_summary, parse_budgets
from pytest_mlinfra.ports import check_port_free
from pytest_mlinfra.reporting import report_figures, stage_table
from pytest_mlinfra.run import Run
from pytest_mlinfra.settings import DEFAULT_REQUIRED_TAGS, Settings, bundled_stack
from pytest_mlinfra.strategies import PROFILE, PROFILE_EXAMPLES
from pytest_mlinfra.targets import TARGET_NAMES
from pytest_mlinfra.targets.aws import check_opt_in, opted_in
from pytest_mlinfra.terraform.stack import check_stack_dir
from pytest_mlinfra.terraform.toolchain import Toolchain, find_terraform

RUN_KEY = pytest.StashKey[Run]()
MODEL_SOURCES = ("auto", "efs", "s3")
LOOP_KEY = pytest.StashKey[float]()
_BUDGET = "p50=250 p95=1000 p99=2000 cold=30000"
MESSAGES_KEY = pytest.StashKey[list[str]]()
SIGNALS_KEY = pytest.StashKey[bool]()

# (option, ini name, help, default) for the plain string settings.
_STRING_SETTINGS = (
    ("--mlinfra-region", "mlinfra_region", "AWS region to deploy into", "us-east-1"),
    ("--mlinfra-environment", "mlinfra_environment", "value of the Environment cost tag", "test"),
    ("--mlinfra-project", "mlinfra_project", "value of the Project cost tag", "pytest-mlinfra"),
    ("--mlinfra-handler", "mlinfra_handler", "Lambda handler, module.function", "model.predict"),
    ("--mlinfra-runtime", "mlinfra_runtime", "Lambda runtime declared in the stack", "python3.8"),
    ("--mlinfra-localstack-endpoint", "mlinfra_localstack_endpoint", "LocalStack URL", ""),
    ("--mlinfra-aws-accounts", "mlinfra_aws_accounts", "comma-separated account allow-list (aws)", ""),
)
_PATH_SETTINGS = (
    ("--mlinfra-stack", "mlinfra_stack", "Terraform root module to apply (default: the bundled stack)"),
    ("--mlinfra-handler-dir", "mlinfra_handler_dir", "directory zipped into the Lambda package"),
    ("--mlinfra-model", "mlinfra_model", "model artifact uploaded and synced (model.pt)"),
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mlinfra", "infrastructure-and-model acceptance tests (pytest-mlinfra)")
    group.addoption(
        "--mlinfra-target",
        choices=TARGET_NAMES,
        default=None,
        help="where to deploy: local (embedded, offline; default), localstack, aws (needs opt-in)",
    )
    parser.addini("mlinfra_target", "default for --mlinfra-target", default="local")
    for option, ini, text, default in _STRING_SETTINGS:
        group.addoption(option, default=None, help=f"{text} (ini: {ini}; default {default or 'unset'})")
        parser.addini(ini, text, default=default)
    for option, ini, text in _PATH_SETTINGS:
        group.addoption(option, default=None, help=f"{text} (ini: {ini}, relative to the ini file)")
        parser.addini(ini, text, type="paths", default=[])
    group.addoption(
        "--mlinfra-keep",
        action="store_true",
        default=False,
        help="skip destroy (debugging); prints the exact command that destroys later",
    )
    group.addoption("--mlinfra-terraform", default=None, help="terraform/tofu binary (env MLINFRA_TERRAFORM)")
    group.addoption(
        "--mlinfra-require-tags",
        default=None,
        help=f"comma-separated cost tags each resource must have (default {','.join(DEFAULT_REQUIRED_TAGS)})",
    )
    parser.addini("mlinfra_required_tags", "cost tags every resource must carry", type="args", default=[])
    group.addoption(
        "--mlinfra-tag", action="append", default=[], metavar="KEY=VALUE", help="extra cost tag (repeatable)"
    )
    parser.addini("mlinfra_tags", "extra cost tags, KEY=VALUE per line", type="linelist", default=[])
    group.addoption(
        "--mlinfra-port", type=int, default=0, help="port of the embedded AWS (default: a free one)"
    )
    group.addoption(
        "--mlinfra-model-source",
        choices=MODEL_SOURCES,
        default=None,
        help="where the function reads the model: auto (EFS where the target has it), efs, s3",
    )
    parser.addini("mlinfra_model_source", "auto, efs or s3 (see --mlinfra-model-source)", default="auto")
    group.addoption(
        "--mlinfra-no-audit", action="store_true", default=False, help="skip the cost-tag audit of the stack"
    )
    group.addoption("--mlinfra-examples", type=int, default=None, help="Hypothesis examples per property")
    group.addoption(
        "--mlinfra-profile",
        choices=sorted(PROFILE_EXAMPLES),
        default=None,
        help="Hypothesis profile for predictor properties: quick (default) or nightly (ini: mlinfra_profile)",
    )
    parser.addini("mlinfra_profile", "Hypothesis profile: quick or nightly", default="quick")
    parser.addini("mlinfra_examples", "Hypothesis examples per property (overrides the profile)", default="")
    group.addoption(
        "--mlinfra-latency-budget",
        default=None,
        help="budgets in ms of warm p50/p95/p99 and the cold start, e.g. 'p50=100 p95=300 cold=5000'",
    )
    parser.addini("mlinfra_latency_budget", "latency budgets (see --mlinfra-latency-budget)", default=_BUDGET)
    group.addoption("--mlinfra-min-recall", type=float, default=None, help="min recall of inserted names")
    parser.addini("mlinfra_min_recall", "minimum recall of names inserted into templates", default="0.9")
    parser.addini(
        "mlinfra_package_include",
        "globs (relative to the handler dir) zipped into the Lambda",
        type="linelist",
    )
    group.addoption(
        "--mlinfra-aws-opt-in",
        action="store_true",
        default=False,
        help="allow the aws target to deploy real, billed resources (or MLINFRA_AWS_OPT_IN=1)",
    )


def _setting(config: pytest.Config, option: str, ini: str) -> str:
    value = config.getoption(option)
    return str(value) if value not in (None, "") else str(config.getini(ini) or "")


def _path_setting(config: pytest.Config, option: str, ini: str) -> Path | None:
    value = config.getoption(option)
    if value:
        return Path(value).resolve()
    paths = config.getini(ini)
    return Path(paths[0]).resolve() if paths else None


def _tags(pairs: list[str]) -> dict[str, str]:
    tags = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise MlinfraError(f"cost tag {pair!r} is not KEY=VALUE", "write tags as --mlinfra-tag Team=ml")
        tags[key.strip()] = value.strip()
    return tags


def settings_from_config(config: pytest.Config) -> Settings:
    """Options win over ini settings, ini settings over defaults."""
    get = config.getoption
    required = get("--mlinfra-require-tags")
    required_tags = (
        tuple(t.strip() for t in required.split(",") if t.strip())
        if required
        else tuple(config.getini("mlinfra_required_tags")) or DEFAULT_REQUIRED_TAGS
    )
    accounts = _setting(config, "--mlinfra-aws-accounts", "mlinfra_aws_accounts")
    return Settings(
        target=get("--mlinfra-target") or config.getini("mlinfra_target") or "local",
        region=_setting(config, "--mlinfra-region", "mlinfra_region"),
        stack_dir=_path_setting(config, "--mlinfra-stack", "mlinfra_stack") or bundled_stack(),
        keep=bool(get("--mlinfra-keep")),
        terraform=get("--mlinfra-terraform"),
        required_tags=required_tags,
        extra_tags=_tags(list(config.getini("mlinfra_tags")) + list(get("--mlinfra-tag"))),
        environment=_setting(config, "--mlinfra-environment", "mlinfra_environment"),
        project=_setting(config, "--mlinfra-project", "mlinfra_project"),
        port=int(get("--mlinfra-port") or 0),
        aws_opt_in=opted_in(bool(get("--mlinfra-aws-opt-in"))),
        aws_accounts=tuple(a for a in accounts.split(",") if a.strip()),
        localstack_endpoint=_setting(config, "--mlinfra-localstack-endpoint", "mlinfra_localstack_endpoint")
        or None,
        handler_dir=_path_setting(config, "--mlinfra-handler-dir", "mlinfra_handler_dir"),
        handler=_setting(config, "--mlinfra-handler", "mlinfra_handler"),
        model_path=_path_setting(config, "--mlinfra-model", "mlinfra_model"),
        runtime=_setting(config, "--mlinfra-runtime", "mlinfra_runtime"),
        package_include=tuple(config.getini("mlinfra_package_include")),
        examples=get("--mlinfra-examples") or _optional_int(config.getini("mlinfra_examples")),
        profile=get("--mlinfra-profile") or config.getini("mlinfra_profile") or "quick",
        latency_budgets=parse_budgets(
            get("--mlinfra-latency-budget") or config.getini("mlinfra_latency_budget")
        ),
        audit=not get("--mlinfra-no-audit"),
        model_source=get("--mlinfra-model-source") or config.getini("mlinfra_model_source") or "auto",
        min_recall=float(get("--mlinfra-min-recall") or config.getini("mlinfra_min_recall")),
    )


def _optional_int(value: str) -> int | None:
    return int(value) if str(value).strip() else None


def _check(settings: Settings) -> None:
    """Checks that cost nothing and need no AWS call: bad input stops pytest before any test runs."""
    if settings.target not in TARGET_NAMES:
        raise MlinfraError(f"unknown target {settings.target!r}", f"use one of: {', '.join(TARGET_NAMES)}")
    check_stack_dir(settings.stack_dir)
    if settings.model_source not in MODEL_SOURCES:
        raise MlinfraError(
            f"model source {settings.model_source!r} is unknown", f"use one of: {', '.join(MODEL_SOURCES)}"
        )
    valueless = settings.untagged_required()
    if valueless:
        key = valueless[0]
        raise MlinfraError(f"required cost tag {key} has no value", f"pass --mlinfra-tag {key}=VALUE")
    if settings.target == "aws":
        check_opt_in(settings.aws_opt_in)
    if settings.target == "local" and settings.port:
        check_port_free("127.0.0.1", settings.port)
    if settings.terraform:
        find_terraform(settings.terraform)
    for path, what in ((settings.handler_dir, "handler directory"), (settings.model_path, "model artifact")):
        if path is not None and not path.exists():
            raise MlinfraError(f"{what} {path} does not exist", "fix the path in the option or ini setting")


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "mlinfra: test uses the deployed stack (pytest-mlinfra)")
    try:
        settings = settings_from_config(config)
        _check(settings)
    except MlinfraError as exc:
        raise pytest.UsageError(f"mlinfra: {exc}") from None
    messages: list[str] = []
    config.stash[MESSAGES_KEY] = messages
    run = Run(settings, log=messages.append)
    config.stash[RUN_KEY] = run
    # xdist workers get their signals from the controller; an inner pytester run keeps the outer's.
    if not hasattr(config, "workerinput") and interrupts.install():
        config.stash[SIGNALS_KEY] = True
        interrupts.set_leftover_hint(run.leftover_hint)
    examples = settings.examples or PROFILE_EXAMPLES.get(settings.profile, PROFILE_EXAMPLES["quick"])
    hypothesis_settings.register_profile(PROFILE, max_examples=examples)


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Append the session-level checks: cost tags when a test deploys the stack, the latency budget
    when a test drives the predictor. They run last, while the stack is still deployed."""
    run = config.stash.get(RUN_KEY, None)
    if run is None:
        return
    used = {name for item in items for name in getattr(item, "fixturenames", ())}
    if "mlinfra_stack" in used and run.settings.audit:
        items.append(
            SessionCheckItem.from_parent(session, name="mlinfra-cost-tags", check=check_cost_tags, run=run)
        )
    if "ner_predictor" in used:
        items.append(
            SessionCheckItem.from_parent(
                session, name="mlinfra-latency-budget", check=check_latency_budget, run=run
            )
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> object:
    started = time.perf_counter()
    try:
        return (yield)
    finally:
        session.config.stash[LOOP_KEY] = time.perf_counter() - started


@pytest.hookimpl(wrapper=True, specname="pytest_sessionfinish")
def _exit_interrupted(session: pytest.Session) -> object:
    """A signal pytest did not see as KeyboardInterrupt (one noted during destroy) still exits 2."""
    try:
        return (yield)
    finally:
        if interrupts.interrupted():
            session.exitstatus = pytest.ExitCode.INTERRUPTED


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Put the stage times and latency percentiles into the JUnit XML, when one is written."""
    run = session.config.stash.get(RUN_KEY, None)
    xml = session.config.stash.get(xml_key, None)
    if run is None or xml is None:
        return
    for name, value in report_figures(run, session.config.stash.get(LOOP_KEY, None)).items():
        xml.add_global_property(name, f"{value:.3f}")


def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.stash.get(RUN_KEY, None)
    if run is not None:
        run.stop_target()  # safety net: nothing left running, whatever happened
    if config.stash.get(SIGNALS_KEY, False):
        interrupts.restore()


def pytest_report_header(config: pytest.Config) -> list[str]:
    run = config.stash.get(RUN_KEY, None)
    if run is None:
        return []
    settings = run.settings
    lines = [f"mlinfra: target {run.target.describe()}; run id {settings.run_id}"]
    try:
        toolchain = Toolchain(find_terraform(settings.terraform))
        lines.append(f"mlinfra: terraform {toolchain.describe()}")
        lines.append(f"mlinfra: provider {toolchain.provider_source}")
    except MlinfraError as exc:
        lines.append(f"mlinfra: terraform not usable: {exc}")
    lines.append(f"mlinfra: stack {settings.stack_dir}")
    return lines


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    config = terminalreporter.config
    run = config.stash.get(RUN_KEY, None)
    messages = config.stash.get(MESSAGES_KEY, [])
    if run is None or (not run.timer.seconds and not messages):
        return
    terminalreporter.section("mlinfra")
    for line in stage_table(run, config.stash.get(LOOP_KEY, None)):
        terminalreporter.write_line(line)
    if run.findings is not None:
        from pytest_mlinfra.audit import render

        verdict = (
            f"{len(run.findings)} finding(s)" if run.findings else "every resource carries its cost tags"
        )
        terminalreporter.write_line(f"cost-tag audit ({', '.join(run.settings.required_tags)}): {verdict}")
        if run.findings:
            terminalreporter.write(render(run.findings, "text"))
    if run.latencies.samples:
        terminalreporter.write_line(f"predictor latency (client wall time): {format_summary(run.latencies)}")
    for message in messages:
        terminalreporter.write_line(message)
