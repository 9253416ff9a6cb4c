"""pytest glue only: options and ini settings, the session state, the report header and summary.

Costs nothing until used: options and ini settings come from the declarations in
:mod:`pytest_mlinfra.settings` (light, checked once at configure time); the :class:`Run`, the
target, Terraform and every heavy import (boto3, tftest, hcl2, moto, Hypothesis) arrive only when
a test asks for an mlinfra fixture. ``-p no:mlinfra`` disables it all.

The plugin owns the session's state (:class:`SessionState`, in the config stash); the fixtures in
:mod:`pytest_mlinfra.fixtures` take it as arguments, starting from ``mlinfra_run`` defined here.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_mlinfra import interrupts
from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.fixtures import *  # noqa: F403 - registers the public fixtures
from pytest_mlinfra.ner.fixtures import *  # noqa: F403 - the NER pack's (ner_predictor)
from pytest_mlinfra.settings import Declaration, Settings, declarations, resolve
from pytest_mlinfra.targets import target_class

if TYPE_CHECKING:
    from pytest_mlinfra.report.results import SessionResults
    from pytest_mlinfra.report.terminal import TerminalProgress
    from pytest_mlinfra.run import Run

# The fixture whose use asks for the latency-budget item: every function client depends on it.
FUNCTION_FIXTURE = "mlinfra_function"
STACK_FIXTURE = "mlinfra_stack"


@dataclass
class SessionState:
    """What the plugin keeps for one session: the settings, and the run once a fixture needs it."""

    settings: Settings
    messages: list[str] = field(default_factory=list)
    loop_seconds: float | None = None
    # xdist workers get their signals from the controller; an inner pytester run keeps the outer's.
    may_install_signals: bool = True
    signals_installed: bool = False
    # pytest-xdist: "controller" or "worker" share one stack through this folder (see _xdist_role).
    xdist_role: str = "single"
    share_dir: Path | None = None
    session_pid: int | None = None
    function_used: bool = False
    #  Prints a line at once, past output capture (what an interrupted run is doing).
    say: Callable[[str], None] | None = None
    progress: TerminalProgress | None = None  # live lines on the terminal (None: -q, no terminal)
    results: SessionResults | None = None  # test outcomes and example counts for the reports
    loop_window: tuple[float, float] | None = None  # epoch seconds of the test loop (the timeline)
    fixtures_used: set[str] = field(default_factory=set)  # pre-flight checks the outputs they read
    property_lines: list[str] = field(default_factory=list)  # not a TTY: shown in the summary instead
    _run: Run | None = None

    @property
    def started(self) -> Run | None:
        """The run, if any fixture has asked for it (``None``: this session never used mlinfra)."""
        return self._run

    def run(self) -> Run:
        if self._run is None:
            from pytest_mlinfra.run import Run
            from pytest_mlinfra.sharing import SessionShare

            share = SessionShare(self.share_dir) if self.share_dir is not None else None
            self._run = Run(
                self.settings,
                log=self.messages.append,
                share=share,
                coordinator=self.xdist_role == "controller",
                session_pid=self.session_pid,
                progress=self.progress,
            )
            self._run.fixtures = self.fixtures_used
            # SIGTERM/SIGHUP take pytest's teardown path from here on (see interrupts).
            if self.may_install_signals and interrupts.install():
                self.signals_installed = True
                interrupts.set_leftover_hint(self._run.leftover_hint)
                if self.say is not None:
                    interrupts.set_reporter(self.say)
        return self._run


STATE = pytest.StashKey[SessionState]()


def _help(name: str, d: Declaration) -> str:
    default = f"; default {d.shown.replace('`', '')}" if d.shown else ""
    env = f"; env {d.env}" if d.env else ""
    return f"{d.help} (ini: {d.ini}{default}{env})"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mlinfra", "infrastructure-and-model acceptance tests (pytest-mlinfra)")
    for name, d in declarations():
        option: dict[str, Any] = {"default": None, "help": _help(name, d)}
        if d.kind == "flag":
            option["action"] = "store_true"
        elif d.kind in ("list", "locations"):
            option["action"] = "append"
        if d.choices:
            option["choices"] = d.choices
        if d.metavar:
            option["metavar"] = d.metavar
        group.addoption(d.option, **option)
        parser.addini(d.ini, d.help, type=d.ini_type, default=None)
        for alias in d.ini_aliases:
            parser.addini(alias, f"older name of {d.ini}", type=d.ini_type, default=None)


def _ini(config: pytest.Config, d: Declaration) -> Any:
    for name in (d.ini, *d.ini_aliases):
        value = config.getini(name)
        if value not in (None, "", []):
            return value
    return None


def settings_from_config(config: pytest.Config) -> Settings:
    """Options win over ini settings, ini settings over the environment, that over the defaults."""
    ini_dir = config.inipath.parent if config.inipath is not None else config.invocation_params.dir
    values = {
        name: resolve(name, d, config.getoption(d.option), _ini(config, d), ini_dir)
        for name, d in declarations()
    }
    return Settings(**values)


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "mlinfra: test uses the deployed stack (pytest-mlinfra)")
    try:
        _check_ini(config)
        settings = settings_from_config(config)
        settings.validate()
    except MlinfraError as exc:
        raise pytest.UsageError(f"mlinfra: {exc}") from None
    state = SessionState(
        settings,
        may_install_signals=not hasattr(config, "workerinput"),
        say=lambda line: _say_now(config, line),
    )
    _join_xdist_session(config, state)
    config.stash[STATE] = state
    from pytest_mlinfra.report.results import SessionResults
    from pytest_mlinfra.report.terminal import TerminalProgress

    state.progress = TerminalProgress.for_config(config)
    state.results = SessionResults(on_examples=_live_examples(state))
    config.pluginmanager.register(ReportHooks(state), "mlinfra-report")


def _check_ini(config: pytest.Config) -> None:
    """The user's ini skipped because an option value was taken for a path: one line (inifile.py)."""
    from pytest_mlinfra.inifile import ini_trap

    if hasattr(config, "workerinput") or getattr(config.option, "inifilename", None):
        return  # xdist workers follow the controller; -c chose the ini on purpose
    flags = {d.option for _name, d in declarations() if d.kind == "flag"}
    params = config.invocation_params
    line = ini_trap(config.inipath, Path(params.dir), list(params.args), flags)
    if line is not None:
        raise MlinfraError(line)


def _live_examples(state: SessionState) -> Any:
    """On a TTY, the example count of the running property, rewritten in place as it grows."""

    def show(result: Any) -> None:
        if state.progress is not None and state.progress.tty:
            state.progress(f"property {result.nodeid.split('::')[-1]}: {result.examples} examples")

    return show


def _say_now(config: pytest.Config, line: str) -> None:
    """A line on the terminal at once, past output capture (what an interrupted run is doing)."""
    capman = config.pluginmanager.getplugin("capturemanager")
    writer = config.get_terminal_writer()
    if capman is None:
        writer.line(f"mlinfra: {line}")
        return
    with capman.global_and_fixture_disabled():
        writer.line()
        writer.line(f"mlinfra: {line}", yellow=True)
        writer.flush()


def _xdist_role(config: pytest.Config) -> str:
    """'worker' or 'controller' of a pytest-xdist session, else 'single' (``-n 0`` included)."""
    if hasattr(config, "workerinput"):
        return "worker"
    if getattr(config.option, "numprocesses", None) and getattr(config.option, "dist", "no") != "no":
        return "controller"
    return "single"


def _join_xdist_session(config: pytest.Config, state: SessionState) -> None:
    """Under xdist one stack serves the whole session: the controller picks the run id and a shared
    folder and hands both to the workers (``pytest_configure_node``); it destroys once, at the end."""
    role = _xdist_role(config)
    if role == "worker":
        shared = config.workerinput.get("mlinfra")  # type: ignore[attr-defined]
        if not shared:
            return
        state.settings.run_id = str(shared["run_id"])
        state.share_dir = Path(shared["share"])
        state.session_pid = int(shared["session_pid"])
    elif role == "controller":
        from pytest_mlinfra.terraform.toolchain import cache_root

        runs = state.settings.runs_dir or cache_root() / "runs"
        state.share_dir = runs / f"{state.settings.run_id}.xdist"
        state.session_pid = os.getpid()
    state.xdist_role = role


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: tell each worker the run id and the session's shared folder."""
    state = node.config.stash.get(STATE, None)
    if state is not None and state.share_dir is not None:
        node.workerinput["mlinfra"] = {
            "run_id": state.settings.run_id,
            "share": str(state.share_dir),
            "session_pid": state.session_pid,
        }


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """xdist controller: fold a worker's stage times, latencies, findings and messages into ours
    (a worker that crashed sends nothing: what it measured is lost, what it deployed is not)."""
    state = node.config.stash.get(STATE, None)
    figures = getattr(node, "workeroutput", {}).get("mlinfra")
    if state is None or not figures:
        return
    state.run().merge_figures(figures)
    state.messages.extend(m for m in figures.get("messages", []) if m not in state.messages)
    state.function_used = state.function_used or bool(figures.get("function_used"))


@pytest.fixture(scope="session")
def mlinfra_run(pytestconfig: pytest.Config) -> Run:
    """The run object: settings, run id, work dir, stage timings (created on first use)."""
    return pytestconfig.stash[STATE].run()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Collect the stock property suites switched on (before -k/-m deselect), and give every
    Hypothesis test that calls the deployed function the remote settings."""
    state = config.stash.get(STATE, None)
    if state is None:
        return
    if state.settings.properties:
        from pytest_mlinfra.suites import suite_path

        for name in state.settings.properties:
            module = pytest.Module.from_parent(session, path=suite_path(name), nodeid=f"mlinfra:{name}")
            items.extend(item for item in session.genitems(module) if isinstance(item, pytest.Item))
    remote = [
        item
        for item in items
        if FUNCTION_FIXTURE in getattr(item, "fixturenames", ())
        and getattr(getattr(item, "obj", None), "is_hypothesis_test", False)
    ]
    if remote:
        from pytest_mlinfra.hypothesis_profile import apply_remote_settings, register_profile

        register_profile(state.settings)
        for item in remote:
            apply_remote_settings(item.obj)  # type: ignore[attr-defined]


@pytest.hookimpl(trylast=True, specname="pytest_collection_modifyitems")
def pytest_mlinfra_session_checks(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Append the session-level checks: cost tags when a test deploys the stack, the latency budget
    when a test calls the function. They run last, while the stack is still deployed."""
    state = config.stash.get(STATE, None)
    if state is None:
        return
    used = {name for item in items for name in getattr(item, "fixturenames", ())}
    state.fixtures_used.update(used)
    if STACK_FIXTURE not in used and FUNCTION_FIXTURE not in used:
        return
    from pytest_mlinfra.checks import SessionCheckItem, check_cost_tags, check_latency_budget

    if STACK_FIXTURE in used and state.settings.audit:
        items.append(SessionCheckItem.for_session(session, "cost-tags", check_cost_tags, state))
    state.function_used = FUNCTION_FIXTURE in used
    if FUNCTION_FIXTURE in used and state.xdist_role != "worker":
        # Under xdist the controller checks the budget over every worker's latencies (see below).
        items.append(SessionCheckItem.for_session(session, "latency-budget", check_latency_budget, state))


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> object:
    started = time.perf_counter()
    started_at = time.time()
    try:
        result = yield
        state = session.config.stash.get(STATE, None)
        if state is not None and state.xdist_role == "controller" and state.function_used:
            from pytest_mlinfra.checks import check_latency_budget, report_session_check

            report_session_check(session, "latency-budget", check_latency_budget, state.run())
        return result
    finally:
        state = session.config.stash.get(STATE, None)
        if state is not None:
            state.loop_seconds = time.perf_counter() - started
            state.loop_window = (started_at, time.time())


# Tests that use one of these get their Hypothesis examples counted for the report.
_DEPLOYED_FIXTURES = frozenset({FUNCTION_FIXTURE, STACK_FIXTURE, "mlinfra_model", "ner_predictor"})


class ReportHooks:
    """The hooks that feed the reports and the live progress, registered with the session's state."""

    def __init__(self, state: SessionState) -> None:
        self.state = state

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> object:
        results = self.state.results
        if results is None or not _DEPLOYED_FIXTURES & set(getattr(item, "fixturenames", ())):
            return (yield)
        with results.observing(item.nodeid):
            outcome = yield
        result = results.results.get(item.nodeid)
        progress = self.state.progress
        if result is not None and result.examples and progress is not None:
            shrinks = f", {result.shrinks} shrink steps" if result.shrinks else ""
            line = f"property {item.name}: {result.examples} examples{shrinks}"
            if progress.tty:
                progress(line)
            else:  # a pipe: a line between results would make pytest print the file name again
                self.state.property_lines.append(line)
        return outcome

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """End a live progress line before pytest writes the result; note the outcome."""
        if self.state.progress is not None:
            self.state.progress.finish()
        if self.state.results is not None:
            text = report.longreprtext if report.failed or report.skipped else ""
            self.state.results.record(report.nodeid, report.when, report.outcome, report.duration, text)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Write --mlinfra-json and --mlinfra-report (the terminal summary then says where)."""
        settings = self.state.settings
        if settings.report is None and settings.json_report is None:
            return
        from pytest_mlinfra.report.writer import write_reports

        self.state.messages.extend(write_reports(self.state, int(exitstatus)))


@pytest.hookimpl(wrapper=True, specname="pytest_sessionfinish")
def pytest_mlinfra_exit_interrupted(session: pytest.Session) -> object:
    """A signal pytest did not see as KeyboardInterrupt (one noted during destroy) still exits 2.

    (pytest registers only functions named ``pytest_*``, hence the name with ``specname``.)"""
    try:
        return (yield)
    finally:
        state = session.config.stash.get(STATE, None)
        if state is not None and state.signals_installed and interrupts.interrupted():
            session.exitstatus = pytest.ExitCode.INTERRUPTED


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Put the stage times and latency percentiles into the JUnit XML, when one is written."""
    from _pytest.junitxml import xml_key

    state = session.config.stash.get(STATE, None)
    if state is None:
        return
    if state.xdist_role == "worker" and state.started is not None:
        figures = state.started.export_figures()
        figures["messages"] = state.messages
        figures["function_used"] = state.function_used
        session.config.workeroutput["mlinfra"] = figures  # type: ignore[attr-defined]
    if state.xdist_role == "controller" and state.share_dir is not None and state.share_dir.exists():
        try:
            state.run().finish_session()
        except MlinfraError as exc:
            state.messages.append(f"mlinfra: {exc}")
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
    xml = session.config.stash.get(xml_key, None)
    if state.started is None or xml is None:
        return
    from pytest_mlinfra.reporting import report_figures

    for name, value in report_figures(state.started, state.loop_seconds, state.loop_window).items():
        xml.add_global_property(name, f"{value:.3f}")


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state is None:
        return
    if state.started is not None:
        state.started.stop_target()  # safety net: nothing left running, whatever happened
    if state.signals_installed:
        if interrupts.interrupted():
            # Stopping is what the signal asked: the stack is destroyed and the target stopped, so
            # the interpreter's final sweep of every object (seconds with torch loaded) is skipped.
            gc.freeze()
        interrupts.restore()


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Cheap lines only; Terraform's version and the provider (a subprocess, the mirror) with -v,
    or in the summary once a stack is deployed."""
    state = config.stash.get(STATE, None)
    if state is None:
        return []
    settings = state.settings
    lines = [f"mlinfra: target {target_class(settings.target).preview(settings)}; run id {settings.run_id}"]
    if config.get_verbosity() > 0:
        lines += _toolchain_lines(settings)
    lines.append(f"mlinfra: stack {settings.stack_dir}")
    if settings.lambda_host_python and target_class(settings.target).deployed_in_emulator:
        here = f"{sys.version_info[0]}.{sys.version_info[1]}"
        lines.append(
            f"mlinfra: STAND-IN Lambda handlers run on this Python {here}, not the runtime's own "
            "(mlinfra_lambda_host_python)"
        )
    if settings.efs_packages:
        from pytest_mlinfra.packages import packages_line

        lines.append(f"mlinfra: {packages_line(settings)}")
    leftovers = unfinished_runs_line(settings.runs_dir, exclude=settings.run_id)
    if leftovers:
        lines.append(f"mlinfra: {leftovers}")
    return lines


def unfinished_runs_line(runs_dir: Path | None, exclude: str = "") -> str:
    """'2 unfinished runs (1 on aws): mlinfra runs', or '' when every earlier run finished."""
    from pytest_mlinfra.ledger import unfinished
    from pytest_mlinfra.terraform.toolchain import cache_root

    runs = unfinished(runs_dir or cache_root() / "runs", exclude=exclude)
    if not runs:
        return ""
    by_target: dict[str, int] = {}
    for ledger in runs:
        by_target[ledger.target] = by_target.get(ledger.target, 0) + 1
    remote = ", ".join(
        f"{count} on {name}"
        for name, count in sorted(by_target.items())
        if not target_class(name).deployed_in_emulator
    )
    noun = "run" if len(runs) == 1 else "runs"
    return f"{len(runs)} unfinished {noun}{f' ({remote})' if remote else ''}: mlinfra runs"


def _toolchain_lines(settings: Settings) -> list[str]:
    from pytest_mlinfra.terraform.toolchain import Toolchain, find_terraform

    try:
        toolchain = Toolchain(
            find_terraform(settings.terraform),
            use_mirror=settings.bundled_providers,
            provider_mirrors=settings.provider_mirrors,
        )
        return [
            f"mlinfra: terraform {toolchain.describe()}",
            f"mlinfra: providers: {toolchain.provider_source}",
        ]
    except MlinfraError as exc:
        return [f"mlinfra: terraform not usable: {exc}"]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    config = terminalreporter.config
    state = config.stash.get(STATE, None)
    if state is not None and state.progress is not None:
        state.progress.finish()
    if state is None or state.started is None:
        return
    run = state.started
    if not run.timer.seconds and not state.messages:
        return
    from pytest_mlinfra.latency import format_summary
    from pytest_mlinfra.reporting import stage_table

    terminalreporter.section("mlinfra")
    for line in stage_table(run, state.loop_seconds, state.loop_window):
        terminalreporter.write_line(line)
    if run.findings is not None:
        from pytest_mlinfra.audit import render

        verdict = (
            f"{len(run.findings)} finding(s)" if run.findings else "every resource carries its cost tags"
        )
        again = " (nothing changed since its last audit: that result)" if run.audit_reused else ""
        tags = ", ".join(run.settings.required_tags)
        terminalreporter.write_line(f"cost-tag audit ({tags}): {verdict}{again}")
        if run.findings:
            terminalreporter.write(render(run.findings, "text"))
    for line in state.property_lines:
        terminalreporter.write_line(line)
    if run.latencies.samples:
        terminalreporter.write_line(f"predictor latency (client wall time): {format_summary(run.latencies)}")
    if run.packages is not None:
        terminalreporter.write_line(run.packages.describe())
    for message in state.messages:
        terminalreporter.write_line(message)
