"""The lifecycle of one applied stack: copy, override, init, apply, outputs, destroy.

Terraform is driven through tftest. Every run works on its own copy of the stack in a run work dir
(so concurrent runs and xdist workers never share state; see :mod:`.layout` for how local modules
outside the stack folder come along). The work dir is removed only after a run that succeeded and
was destroyed: after any failure it stays, so the command printed in the error works as printed.

Destroy tells the truth: it reads the state, so "nothing was created" is said as such and
"DESTROY FAILED" only appears when the state still holds resources, with their count.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tftest

from pytest_mlinfra import interrupts
from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.terraform.diagnostics import first_error, from_validate_json
from pytest_mlinfra.terraform.hcl import block_names
from pytest_mlinfra.terraform.installation import InstallPlan, current_platform
from pytest_mlinfra.terraform.layout import StackLayout, is_local_source, module_sources
from pytest_mlinfra.terraform.override import (
    OVERRIDE_FILE,
    PROVIDER_FILE,
    EmulatorEndpoint,
    ProviderSchema,
    write_override,
)
from pytest_mlinfra.terraform.process import INTERRUPT_GRACE_S, TerraformInterrupted, TerraformProcess
from pytest_mlinfra.terraform.progress import ResourceSpan, TerraformProgress
from pytest_mlinfra.terraform.provider_host import ServiceHost
from pytest_mlinfra.terraform.reattach import StackProviders
from pytest_mlinfra.terraform.requirements import provider_address, short_name, stack_requirements
from pytest_mlinfra.terraform.source import check_stack_dir
from pytest_mlinfra.terraform.toolchain import AWS_PROVIDER, Toolchain

VARS_FILE = "zz_mlinfra.auto.tfvars.json"
LOCK_FILE = ".terraform.lock.hcl"
_LOCKED = re.compile(r'^provider "(?P<address>[^"]+)" \{\s*\n\s*version\s*=\s*"(?P<version>[^"]+)"', re.M)
_FINDING = re.compile(r'- Finding (?P<provider>\S+) versions matching "(?P<constraint>[^"]*)"')
_UNMET = re.compile(
    r"for provider (?P<provider>\S+): no available releases match the given constraints "
    r"(?P<c>[^:]+?)(?: \(and|$|:)"
)
_UNREACHABLE = (
    "could not connect",
    "discovery document",
    "dial tcp",
    "no such host",
    "timeout",
    "proxyconnect",
)


def _registry_unreachable(exc: MlinfraError) -> bool:
    """Whether init failed because a provider registry (or network mirror) could not be reached."""
    for text in (getattr(exc, "reason", ""), exc.what):
        listed = _UNLISTED.search(str(text or ""))
        if listed is not None and any(sign in listed["reason"] for sign in _UNREACHABLE):
            return True
    return False


_UNLISTED = re.compile(
    r"Could not retrieve the list of available versions for provider (?P<provider>\S+?): (?P<reason>.+)$"
)


def _json_in_error(exc: tftest.TerraformTestError) -> str:
    """The JSON document inside the error tftest raises for a failing ``<command> -json``."""
    text = str(exc.args[0]) if exc.args else ""
    start = text.find("{")
    if start < 0:
        return ""
    try:
        _, end = json.JSONDecoder().raw_decode(text[start:])
    except ValueError:
        return ""
    return text[start : start + end]


def locked_versions(text: str) -> dict[str, str]:
    """Provider address -> the version init selected, from the text of ``.terraform.lock.hcl``."""
    return {m["address"]: m["version"] for m in _LOCKED.finditer(text)}


def state_resource_count(state: Mapping[str, Any]) -> int:
    """Managed resource instances in a state document (data sources cost nothing and are not counted)."""
    return sum(
        len(resource.get("instances", []))
        for resource in state.get("resources", [])
        if resource.get("mode", "managed") == "managed"
    )


class StageError(MlinfraError):
    """A Terraform stage failed: ``stage`` names it (init, apply, ...) and ``reason`` is Terraform's
    error in one line, for the report and the JUnit message."""

    def __init__(self, stage: str, reason: str, what: str, todo: str | None = None, output: str = "") -> None:
        super().__init__(what, todo)
        self.stage = stage
        self.reason = reason
        self.output = output  # Terraform's whole stdout and stderr (what the one line was taken from)


@dataclass(frozen=True)
class StageSpan:
    """When a stage ran, in epoch seconds (the report's timeline)."""

    stage: str
    start: float
    end: float


def describe_changes(changes: list[tuple[str, str]], shown: int = 4) -> str:
    """Terraform's diff in a few words: '1 changed (aws_lambda_function.predictor)'."""
    if not changes:
        return "no changes"
    words = {"create": "added", "update": "changed", "replace": "replaced", "delete": "destroyed"}
    counts: dict[str, int] = {}
    for _address, action in changes:
        counts[words.get(action, action)] = counts.get(words.get(action, action), 0) + 1
    addresses = [address for address, _action in changes]
    more = f", +{len(addresses) - shown} more" if len(addresses) > shown else ""
    summary = ", ".join(f"{count} {word}" for word, count in counts.items())
    return f"{summary} ({', '.join(addresses[:shown])}{more})"


@dataclass
class StageTimer:
    """Wall time of each lifecycle stage, for the terminal summary, the report and the benches."""

    seconds: dict[str, float] = field(default_factory=dict)
    spans: list[StageSpan] = field(default_factory=list)

    def record(self, stage: str, started: float) -> None:
        """``started`` is a ``time.perf_counter()`` reading taken when the stage began."""
        elapsed = time.perf_counter() - started
        self.seconds[stage] = self.seconds.get(stage, 0.0) + elapsed
        end = time.time()
        self.spans.append(StageSpan(stage, end - elapsed, end))


@dataclass
class Stack:
    """One run of a Terraform root module against a target.

    ``variables`` are only passed when the stack declares them (read from its ``variable`` blocks),
    so a user's stack that ignores some of the plugin's inputs still works.
    """

    source: Path
    workdir: Path
    toolchain: Toolchain
    variables: Mapping[str, Any]
    endpoint: EmulatorEndpoint | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    log: Callable[[str], None] = lambda _msg: None
    timer: StageTimer = field(default_factory=StageTimer)
    run_id: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)
    applied: bool = False
    apply_started: bool = False
    #  Each stdout line of apply/destroy as Terraform writes it (live progress).
    on_line: Callable[[str], None] | None = None
    #  Lifecycle status for the run ledger: (status, detail), e.g. ("applied", "").
    on_status: Callable[[str, str], None] = lambda _status, _detail: None
    #  One human line per resource that apply/destroy completes (from Terraform's -json events).
    progress: Callable[[str], None] = lambda _line: None
    resource_spans: list[ResourceSpan] = field(default_factory=list)
    failed: bool = False  # some stage failed: the run dir is kept for the printed command
    stack_in_copy: Path = Path(".")  # where the root module sits in the copied tree (see layout)
    module_dirs: list[Path] = field(default_factory=list)  # the local modules' folders in the copy
    install_plan: InstallPlan | None = None  # where init takes each provider from (see installation)
    cli_config: Path | None = None  # the CLI config made for this stack's plan (None: the toolchain's)
    installed: dict[str, str] = field(default_factory=dict)  # provider address -> version, after init
    init_output: str = ""
    reattach: bool = False  # attach commands to one provider process per stack (see reattach)
    providers: StackProviders | None = None  # what they attach to, known once init has run
    provider_host: ServiceHost | None = None  # a kept stack: its providers live with the service
    interrupt_grace_s: float = INTERRUPT_GRACE_S  # how long an interrupted command may finish (reap: short)
    #  Whether what is deployed outlives this process (False: the embedded AWS stops with it, so a
    #  destroy cut short by a second signal leaves nothing behind and says nothing more).
    outlives_process: Callable[[], bool] = lambda: True

    @property
    def copy_root(self) -> Path:
        return self.workdir / "stack"

    @property
    def tfdir(self) -> Path:
        return self.copy_root / self.stack_in_copy

    @property
    def state_file(self) -> Path:
        return self.tfdir / "terraform.tfstate"

    def terraform_env(self) -> dict[str, str]:
        env = {**self.toolchain.env(), **self.env}
        if self.cli_config is not None:
            env["TF_CLI_CONFIG_FILE"] = str(self.cli_config)
        return env

    def _tf(self, events: TerraformProgress | None = None) -> tftest.TerraformTest:
        env = self.terraform_env()
        on_line = self.on_line
        if events is not None:
            also = self.on_line

            def on_line(line: str) -> None:
                events.feed(line)
                if also is not None:
                    also(line)

        providers = self.attached_providers()
        return TerraformProcess(
            str(self.tfdir),
            binary=str(self.toolchain.binary.path),
            env=env,
            on_line=on_line,
            attach=providers.env_for if providers is not None else None,
            interrupt_grace_s=self.interrupt_grace_s,
        )

    def attached_providers(self) -> StackProviders | None:
        """The providers this stack's commands attach to (None: reattach off, or init has not run)."""
        if self.reattach and self.providers is None and (self.tfdir / LOCK_FILE).exists():
            plain_http = self.endpoint is not None and self.endpoint.url.startswith("http://")
            self.providers = StackProviders.after_init(
                self.tfdir,
                self.module_dirs,
                current_platform(),
                self.log,
                plain_http=plain_http,
                host=self.provider_host,
            )
        return self.providers

    def stop_providers(self) -> None:
        """Stop the provider processes this stack's commands attached to (the next command starts them)."""
        if self.providers is not None:
            self.providers.stop()
            self.providers = None

    def _run(
        self,
        stage: str,
        action: Callable[[tftest.TerraformTest], Any],
        events: TerraformProgress | None = None,
    ) -> Any:
        """Run one Terraform command; ``events`` reads its ``-json`` output line by line, live."""
        started = time.perf_counter()
        try:
            return action(self._tf(events))
        except tftest.TerraformTestError as exc:
            self.failed = True
            detail = exc.args[1] if len(exc.args) > 1 and exc.args[1] else str(exc)
            reason = (events.first_error() if events is not None else None) or first_error(str(detail))
            raise StageError(
                stage,
                reason,
                f"terraform {stage} failed in {self.tfdir}: {reason}",
                f"see the full log with: cd {shlex.quote(str(self.tfdir))} && {self.command(stage)}",
                output=str(exc.args[0]) if exc.args else "",
            ) from None
        finally:
            self.timer.record(stage, started)
            if events is not None:
                self.resource_spans.extend(events.spans)

    def _run_json(self, stage: str, command: Callable[[tftest.TerraformTest], Any]) -> None:
        """apply/destroy with ``-json``: progress lines from Terraform's own per-resource events."""
        self._run(stage, command, TerraformProgress(stage, emit=self.progress))

    def command(self, verb: str) -> str:
        """The exact shell command that repeats ``verb`` by hand (used in error messages)."""
        env = self.terraform_env()
        assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(env.items()))
        extra = " -auto-approve" if verb in {"apply", "destroy"} else ""
        return f"{assignments} {shlex.quote(str(self.toolchain.binary.path))} {verb}{extra}"

    def destroy_command(self) -> str:
        return f"cd {shlex.quote(str(self.tfdir))} && {self.command('destroy')}"

    def reap_command(self) -> str:
        """``mlinfra reap`` for this run (it finds the run dir under the runs dir given)."""
        return f"mlinfra reap --runs-dir {shlex.quote(str(self.workdir.parent))} {self.run_id}"

    def finish_hint(self) -> str:
        if self.run_id and self.workdir.name == self.run_id:
            return f"finish with: {self.reap_command()}"
        return f"finish by hand: {self.destroy_command()}"

    # -- lifecycle ----------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Copy the stack and the local modules it reaches into the run work dir; write the variables.

        Nothing is ever written into the user's folders: the override, variables, lock and state
        files all land in the copy.
        """
        check_stack_dir(self.source)
        layout = StackLayout.discover(self.source)
        if self.copy_root.exists():
            shutil.rmtree(self.copy_root)
        for skipped in layout.copy_to(self.copy_root):
            self.log(f"stack copy: skipped {skipped} (over the size limit for stack files)")
        self.stack_in_copy = layout.stack_in_root
        self.module_dirs = [self.copy_root / module.relative_to(layout.root) for module in layout.modules]
        self.write_variables()

    def __repr__(self) -> str:
        """Short: the run and the outputs' names (a counterexample or a diff shows it whole)."""
        return f"Stack({self.source.name!r}, run_id={self.run_id!r}, outputs={sorted(self.outputs)})"

    def write_variables(self) -> None:
        """The variables file apply and destroy both read: the declared inputs with a value (None: not
        decided yet, e.g. the runtime before init, so the stack's default would stand)."""
        declared = self.declared_variables()
        values = {k: v for k, v in self.variables.items() if k in declared and v is not None}
        (self.tfdir / VARS_FILE).write_text(json.dumps(values, indent=2, sort_keys=True) + "\n")

    def set_variable(self, name: str, value: Any) -> None:
        """Decide one input after prepare (before apply); destroy reads the same file."""
        self.variables = {**self.variables, name: value}
        self.write_variables()

    def declared_variables(self) -> set[str]:
        return block_names(self.tfdir, "variable")

    def declared_outputs(self) -> set[str]:
        return block_names(self.tfdir, "output")

    def init(self) -> None:
        """``terraform init`` with a CLI config made for this stack's provider constraints."""
        requirements = self.provider_requirements()
        plan = self.toolchain.plan(requirements)
        try:
            self._init_with(plan)
        except MlinfraError as exc:
            if plan.offline or not _registry_unreachable(exc):
                raise self._provider_error(exc, plan) or exc from None
            # The registry cannot answer: remember it for a while, and install from the mirrors
            # (the user's and the offline fallbacks) what they can serve, without asking it.
            self.toolchain.remember_unreachable()
            offline = self.toolchain.plan(requirements, offline=True)
            if not offline.served:
                raise self._provider_error(exc, offline) or exc from None  # says what the fallbacks hold
            self.failed = False  # that init's failure is answered by this one
            plan = offline
            try:
                self._init_with(plan)
            except MlinfraError as again:
                raise self._provider_error(again, plan) or again from None
        lock = self.tfdir / LOCK_FILE
        text = lock.read_text() if lock.exists() else ""
        self.installed = locked_versions(text)
        self.providers = None  # what init selected now: found at the next command
        if self.endpoint is not None:
            write_override(self.tfdir, self.provider_schema(), self.endpoint)

    def _init_with(self, plan: InstallPlan) -> None:
        self.install_plan = plan
        self.cli_config = self.toolchain.write_cli_config(plan)
        with self.toolchain.plugin_cache_lock():
            self.init_output = str(
                self._run("init", lambda tf: tf.setup(cleanup_on_exit=False, upgrade=False)) or ""
            )

    def provider_requirements(self) -> dict[str, list[str]]:
        """Every module's provider constraints; registry/git modules are fetched first (``terraform get``)
        so theirs count too, as they will for init."""
        folders = [self.tfdir, *self.module_dirs]
        remote = any(not is_local_source(source) for folder in folders for source in module_sources(folder))
        if remote:
            self._run("init", lambda tf: tf.execute_command("get", "-no-color"))
            manifest = self.tfdir / ".terraform" / "modules" / "modules.json"
            try:
                listed = json.loads(manifest.read_text()).get("Modules", [])
            except (OSError, ValueError):
                listed = []
            folders += [self.tfdir / m["Dir"] for m in listed if m.get("Dir") not in (None, "", ".")]
        return stack_requirements(folders)

    def provider_line(self, address: str = AWS_PROVIDER) -> str:
        """'hashicorp/aws 3.39.0 from the bundled offline mirror /x': what init installed, and where from."""
        version = self.installed.get(address)
        if version is None or self.install_plan is None:
            return f"{short_name(address)} not installed (init has not run)"
        origin = self.install_plan.source_of(address, version, self.init_output)
        return f"{short_name(address)} {version} from {origin}"

    def _provider_error(self, exc: MlinfraError, plan: InstallPlan) -> MlinfraError | None:
        """A provider init could not install, said in one line: the provider, its constraint, why,
        the versions installable here and what to do."""
        text = getattr(exc, "reason", "") or exc.what
        unmet = _UNMET.search(text)
        unlisted = _UNLISTED.search(text)
        if unmet is not None:
            provider, constraint = unmet["provider"], unmet["c"].strip()
            place = plan.elsewhere(provider_address(provider))
            reason = (
                "no release in the mirrors here matches it"
                if provider_address(provider) in plan.served
                else f"no release matches it in the mirrors here or at {place}"
            )
        elif unlisted is not None:
            provider = unlisted["provider"]
            constraint = self._asked_constraint(provider, getattr(exc, "output", ""))
            detail = unlisted["reason"].strip().rstrip(".")
            place = plan.elsewhere(provider_address(provider))
            if "was not found in any of the search locations" in detail:
                reason = f"{place} does not have it"
            elif any(sign in detail for sign in _UNREACHABLE):
                reason = f"{place} is unreachable from this machine ({_cause(detail)})"
            else:
                reason = f"{place} failed to answer ({_cause(detail)})"
        else:
            return None
        return plan.cannot_install(provider_address(provider), constraint, reason)

    def _asked_constraint(self, provider: str, output: str) -> str:
        """The constraint init looked for (its "Finding ... versions matching" line), else our reading."""
        for found in _FINDING.finditer(output):
            if found["provider"] == provider:
                return found["constraint"] or "(any version)"
        requirements = self.install_plan.requirements if self.install_plan else {}
        return ", ".join(requirements.get(provider_address(provider), [])) or "(any version)"

    def provider_schema(self) -> ProviderSchema:
        """The selected AWS provider's config schema, cached per provider version.

        The version is the lock file's (what ``terraform version -json`` would read), so no command
        runs when the schema of that version is cached."""
        version = self.installed.get(AWS_PROVIDER)
        if not version:
            raise MlinfraError(
                f"the stack {self.source} does not use the hashicorp/aws provider",
                "declare it in required_providers",
            )
        cached = self.toolchain.root / f"provider-config-aws-{version}.json"
        if cached.exists():
            return ProviderSchema.from_json(cached.read_text())
        raw = self._run("init", lambda tf: tf.execute_command("providers", "schema", "-json").out)
        schema = ProviderSchema.from_schema_json(version, json.loads(raw))
        cached.write_text(schema.to_json())
        return schema

    def apply(self) -> dict[str, Any]:
        """Apply; when apply fails half way, destroy what it created, then raise one clear error.

        An interrupted apply has already stopped (its state is written) when this runs the destroy;
        after a second signal nothing more is attempted: the ledger says what to reap."""
        self.on_status("applying", "")
        self.apply_started = True
        try:
            self._run_json("apply", lambda tf: tf.apply(json_format=True))
        except BaseException as exc:
            interrupted = isinstance(exc, KeyboardInterrupt)
            self.failed = not interrupted  # an interrupt is no Terraform failure to debug in the run dir
            self.applied = True  # whatever got created is in the state file
            if interrupted:
                self.on_status("interrupted", f"during apply ({exc})")
            if interrupts.abandoned():
                raise
            created = self.resource_count()
            verb = "interrupted" if interrupted else "failed"
            if created == 0:
                self.applied = False
                self.on_status("destroyed", "nothing was created")
                self.log(f"apply {verb} before creating anything: nothing to destroy")
                if interrupted:
                    interrupts.report("destroy: nothing to destroy (apply stopped before creating anything)")
                raise
            what = "state unreadable" if created is None else _resources(created)
            self.log(f"apply {verb}: destroying what it created ({what})")
            try:
                self.destroy()
            except MlinfraError as destroy_error:
                self.log(str(destroy_error))
            raise
        self.applied = True
        self.on_status("applied", "")
        self.outputs = self.read_outputs()
        return self.outputs

    def update(self) -> list[tuple[str, str]]:
        """Re-apply on the existing state in one ``terraform apply -json`` (refresh, plan, apply).

        Returns Terraform's own diff, read from its ``planned_change`` events, as (address, action)
        pairs, action one of create, update, delete, replace (empty: nothing changed, nothing
        applied). One process instead of plan + show + apply-the-plan saves a provider start and a
        state read (~1 s on the bundled stack). A failing apply destroys what the state holds, as
        :meth:`apply` does, so a broken kept stack never lingers half-updated.
        """
        self.on_status("applying", "re-apply on the kept state")
        events = TerraformProgress("apply", emit=self.progress)
        self.applied = True
        try:
            self._run("apply", lambda tf: tf.apply(json_format=True), events)
        except BaseException:
            if interrupts.abandoned():
                raise
            self.log("re-apply failed: destroying the kept stack")
            try:
                self.destroy()
            except MlinfraError as destroy_error:
                self.log(str(destroy_error))
            raise
        self.on_status("applied", "")
        self.outputs = self.read_outputs()
        return [(address, "delete" if action == "remove" else action) for address, action in events.planned]

    def read_outputs(self) -> dict[str, Any]:
        """Output values; outputs that are null (which ``terraform output`` omits) map to None.

        Read from the local state file when there is one: ``terraform output -json`` prints exactly
        its ``outputs`` values (sensitive ones included), without a process. Otherwise (a backend
        elsewhere) ``terraform output``."""
        values: dict[str, Any] = dict.fromkeys(self.declared_outputs())
        stored = _state_outputs(self.state_file)
        if stored is not None:
            values.update(stored)
            return values
        raw = self._run("output", lambda tf: tf.output())
        values.update({name: raw[name] for name in raw})
        return values

    def validate(self) -> list[str]:
        """``terraform validate``: the error summaries (empty when the configuration is valid)."""
        raw = self._run("validate", lambda tf: tf.execute_command("validate", "-json", "-no-color").out)
        report = json.loads(raw)
        return [d["summary"] for d in report.get("diagnostics", []) if d.get("severity") == "error"]

    def validation_errors(self) -> list[str]:
        """``terraform validate -json`` errors as ``file:line: summary: detail`` lines (empty: valid)."""
        try:
            raw = self._tf().execute_command("validate", "-json", "-no-color").out
        except tftest.TerraformTestError as exc:
            raw = _json_in_error(exc)
        return [d.one_line() for d in from_validate_json(raw)]

    def preflight_validate(self) -> bool:
        """``terraform validate`` before apply, skipped when this configuration already validated here.

        Returns whether validate ran; raises one line (file:line: summary: detail) on an error.
        """
        from pytest_mlinfra.preflight import ValidateCache, configuration_digest

        digest = configuration_digest(
            self.copy_root,
            skip=(VARS_FILE, OVERRIDE_FILE, PROVIDER_FILE),
            extra=(str(self.toolchain.binary.path), self.toolchain.binary.version, str(self.stack_in_copy)),
        )
        cache = ValidateCache(self.toolchain.root / "validated")
        if cache.seen(digest):
            return False
        errors = self.validation_errors()
        if errors:
            self.failed = True
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise MlinfraError(
                f"terraform validate: {errors[0]}{more}",
                f"fix the stack in {self.source}; nothing was deployed",
            )
        cache.remember(digest)
        return True

    def resource_count(self) -> int | None:
        """Managed resource instances in the state (None: the state cannot be read, assume some)."""
        if self.state_file.exists():
            try:
                return state_resource_count(json.loads(self.state_file.read_text()))
            except (OSError, ValueError):
                return None
        try:
            listed = self._tf().execute_command("state", "list").out
        except tftest.TerraformTestError as exc:
            return 0 if "No state file was found" in str(exc) else None
        return len([line for line in listed.splitlines() if line.strip() and not line.startswith("data.")])

    def state_json(self) -> dict[str, Any]:
        """``terraform show -json`` of the current state (what the cost-tag audit reads): built from
        the local state file (see :mod:`.state`), else Terraform's command."""
        from pytest_mlinfra.terraform.state import show_json

        built = show_json(self.state_file)
        if built is not None:
            return built
        raw = self._run("show", lambda tf: tf.execute_command("show", "-json").out)
        state: dict[str, Any] = json.loads(raw)
        return state

    def pending_changes(self) -> list[str]:
        """Addresses a fresh plan would change (empty right after apply when the stack is stable).

        Read from ``terraform plan -json``'s ``planned_change`` events: one command, where
        ``plan -out`` + ``show -json`` start the provider twice (~2-3 s each on hashicorp/aws 5.x)."""
        events = TerraformProgress("plan")
        self._run("plan", lambda tf: tf.plan(json_format=True), events)
        return sorted({address for address, _action in events.planned})

    def destroy(self) -> None:
        """Destroy; a failure names the state file and the command that finishes the job.

        A first signal during destroy lets it finish (see :func:`interrupts.shielded`)."""
        if not self.applied:
            return
        if self.resource_count() == 0:
            self.log("the state holds no resources: nothing to destroy")
            self.applied = False
            self.on_status("destroyed", "nothing to destroy")
            return
        if interrupts.abandoned():
            self.on_status("interrupted", "destroy skipped after a second signal")
            if not self.outlives_process():
                return  # the second signal's line said it: nothing stays deployed
            raise MlinfraError(
                f"NOT DESTROYED (second signal), resources may still be deployed; state: {self.state_file}",
                self.finish_hint(),
            )
        self.on_status("destroying", "")
        started = time.perf_counter()
        try:
            with interrupts.shielded():
                self._run_json("destroy", lambda tf: tf.destroy(json_format=True))
        except (MlinfraError, TerraformInterrupted) as exc:
            stopped = isinstance(exc, KeyboardInterrupt) or interrupts.abandoned()
            what = "stopped by a second signal" if stopped else getattr(exc, "what", str(exc))
            left = self.resource_count()
            if left == 0:
                self.applied = False
                self.on_status("destroyed", "")
                self.log(f"terraform destroy reported an error, yet the state holds no resources: {what}")
                return
            self.on_status("interrupted" if stopped else "destroy-failed", what)
            if stopped and not self.outlives_process():
                return  # the second signal's line said it: nothing stays deployed
            count = f"{_resources(left)} still deployed" if left else "resources may still be deployed"
            error = MlinfraError(
                f"DESTROY FAILED, {count} ({what}); state: {self.state_file}", self.finish_hint()
            )
            if interrupts.interrupted():
                interrupts.report(f"destroy: {error}")
            raise error from None
        self.applied = False
        self.on_status("destroyed", "")
        if interrupts.interrupted():
            seconds = time.perf_counter() - started
            interrupts.report(f"destroy: done in {seconds:.1f} s, nothing of run {self.run_id} remains")

    def cleanup(self) -> None:
        """Remove the run work dir: only after a successful run's destroy (failed runs keep theirs)."""
        shutil.rmtree(self.workdir, ignore_errors=True)


def _state_outputs(state_file: Path) -> dict[str, Any] | None:
    """Root module outputs from a state file (None: no readable local state of a known format)."""
    try:
        state = json.loads(state_file.read_text())
    except (OSError, ValueError):
        return None
    outputs = state.get("outputs") if isinstance(state, dict) and state.get("version") == 4 else None
    if not isinstance(outputs, dict):
        return None
    return {name: output.get("value") for name, output in outputs.items() if isinstance(output, dict)}


def _cause(detail: str) -> str:
    """The innermost error of a Go error chain: 'lookup registry.terraform.io ...: no such host'."""
    cause = detail.rsplit('": ', 1)[-1] if '": ' in detail else detail.rsplit(": ", 1)[-1]
    return " ".join(cause.split())


def _resources(count: int) -> str:
    return f"{count} resource{'' if count == 1 else 's'}"
