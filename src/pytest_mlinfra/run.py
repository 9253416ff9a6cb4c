"""One test run against one target: the plain object the pytest fixtures wrap.

``Run`` owns the run id, the run work dir, the started target and the applied stack, and guarantees
the order of teardown (destroy, then stop the target). It works without pytest::

    with Run(Settings(handler_dir=Path("examples/ner"))) as run:
        stack = run.deploy()
        print(stack.outputs["function_name"])
"""

from __future__ import annotations

import os
import shutil
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from pytest_mlinfra import interrupts
from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.function import FunctionClient
from pytest_mlinfra.http_client import HttpClient
from pytest_mlinfra.latency import LatencyLog, Sample
from pytest_mlinfra.ledger import Ledger
from pytest_mlinfra.packages import PACKAGES_DIR, PackageReport, PackageSync, stand_in_honoured
from pytest_mlinfra.packaging import build_zip
from pytest_mlinfra.runtimes import RuntimeChoice, check_runtime, default_runtime
from pytest_mlinfra.settings import RUN_ID_TAG, Settings
from pytest_mlinfra.sharing import SessionShare
from pytest_mlinfra.sync import ModelSync, SyncedModel
from pytest_mlinfra.targets import target_class
from pytest_mlinfra.targets.base import Target
from pytest_mlinfra.terraform.progress import ResourceSpan
from pytest_mlinfra.terraform.provider_host import ServiceHost
from pytest_mlinfra.terraform.source import check_stack_dir
from pytest_mlinfra.terraform.stack import Stack, StageSpan, StageTimer
from pytest_mlinfra.terraform.toolchain import AWS_PROVIDER, Toolchain, cache_root, find_terraform

if TYPE_CHECKING:
    from pytest_mlinfra.audit import Finding
    from pytest_mlinfra.kept import KeptStack
    from pytest_mlinfra.service import EmulatorProcess


def _writable(folder: Path) -> Path:
    """Create ``folder``; an unwritable cache dir is one line saying which variable to change."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MlinfraError(
            f"cannot create the run folder {folder} ({exc.strerror})",
            "point MLINFRA_CACHE_DIR at a writable folder",
        ) from None
    return folder


@contextmanager
def _state_set_aside(tfdir: Path) -> Iterator[None]:
    """Keep a kept stack's state (and its installed providers) while its files are copied afresh."""
    keep = ("terraform.tfstate", "terraform.tfstate.backup", ".terraform", ".terraform.lock.hcl")
    aside = tfdir.parent / ".kept-state"
    shutil.rmtree(aside, ignore_errors=True)
    aside.mkdir(parents=True)
    for name in keep:
        if (tfdir / name).exists():
            os.replace(tfdir / name, aside / name)
    try:
        yield
    finally:
        tfdir.mkdir(parents=True, exist_ok=True)
        for name in keep:
            if (aside / name).exists():
                if (tfdir / name).is_dir():
                    shutil.rmtree(tfdir / name)
                os.replace(aside / name, tfdir / name)
        shutil.rmtree(aside, ignore_errors=True)


def runs_root(settings: Settings) -> Path:
    """Where run work dirs live (one per run id)."""
    return settings.runs_dir or cache_root() / "runs"


class RuntimeNotice(UserWarning):
    """The declared Lambda runtime is deprecated, or AWS no longer accepts it for new functions."""


class Run:
    """``share``: this run is one process of a pytest-xdist session. Workers (``coordinator=False``)
    start the emulator, apply the stack and sync the model once between them and never destroy;
    the controller (``coordinator=True``) destroys and stops once, after the last worker.

    ``log`` gets messages for the end of the run; ``progress`` gets live one-line updates during
    long stages (apply/destroy per resource, upload and DataSync bytes); quiet by default."""

    def __init__(
        self,
        settings: Settings,
        log: Callable[[str], None] = print,
        share: SessionShare | None = None,
        coordinator: bool = False,
        session_pid: int | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.log = log
        self.share = share
        self.coordinator = coordinator
        self.session_pid = session_pid or os.getpid()
        self.progress: Callable[[str], None] = progress or (lambda _line: None)
        self.timer = StageTimer()
        self.resource_spans: list[ResourceSpan] = []
        self.model: SyncedModel | None = None
        self.sync_execution: dict[str, Any] | None = None
        self.failure: tuple[str, str] | None = None  # (stage, one-line reason) of a failed deploy stage
        self.runs_dir = runs_root(settings)
        self.workdir = self.runs_dir / settings.run_id
        self.stack: Stack | None = None
        self.provider_installed: str | None = None  # what init installed, kept past destroy (report)
        self._destroying: Stack | None = None  # the stack while destroy_stack runs (leftover_hint)
        self.kept: KeptStack | None = None  # --mlinfra-reuse: the kept stack this run applies to
        self.ledger: Ledger | None = None
        self.latencies = LatencyLog()
        self.findings: list[Finding] | None = None
        self.audited_state: dict[str, Any] | None = None
        self.audit_reused = False  # the findings are a kept stack's last audit of this very state
        self.reapplied: list[tuple[str, str]] | None = None  # a reused stack's diff (None: no reuse)
        self.packages: PackageReport | None = None  # the function's EFS packages, once synced
        self.runtime: RuntimeChoice | None = None  # decided after init (the default follows the provider)
        # Fixtures the session's tests request (the plugin fills it at collection): pre-flight
        # checks the outputs they read. Plain-object users may set it; empty checks no outputs.
        self.fixtures: set[str] = set()
        self._target_started = False
        self._model_checked = False

    @property
    def run_id(self) -> str:
        return self.settings.run_id

    @cached_property
    def target(self) -> Target:
        target = target_class(self.settings.target).from_settings(
            self.settings, state_dir=self.workdir / "aws"
        )
        if target.deployed_in_emulator and not self.settings.port:
            from pytest_mlinfra.targets.local import LocalTarget

            attach = self._emulator_to_attach()
            if attach is not None and isinstance(target, LocalTarget):
                target.attach(attach[0], outlives_session=attach[1])
        return target

    def _emulator_to_attach(self) -> tuple[EmulatorProcess, bool] | None:
        """A separate emulator process the local target talks to, and whether it outlives the
        session: ``mlinfra up``'s service when it runs; under xdist, that or one started by the
        first worker for the session. None: run one in this process."""
        from pytest_mlinfra.service import EmulatorProcess, running_service

        if self.share is None or self.coordinator:
            service = running_service()
            return (service, True) if service is not None else None
        data, _ = self.share.once("emulator", self._session_emulator)
        return EmulatorProcess.from_dict(data), not data["owned"]

    def _session_emulator(self) -> dict[str, Any]:
        from pytest_mlinfra.service import running_service, spawn_emulator

        assert self.share is not None
        service = running_service()
        if service is not None:
            return {**asdict(service), "owned": False}
        from pytest_mlinfra.emulator.config import EmulatorConfig

        started = spawn_emulator(
            self.share.root / "aws",
            watch_pid=self.session_pid,
            config=EmulatorConfig.from_settings(self.settings),
        )
        return {**asdict(started), "owned": True}

    @cached_property
    def toolchain(self) -> Toolchain:
        return Toolchain(
            find_terraform(self.settings.terraform),
            use_mirror=self.settings.bundled_providers,
            provider_mirrors=self.settings.provider_mirrors,
        )

    def start_target(self) -> Target:
        if not self._target_started:
            _writable(self.workdir)
            started = time.perf_counter()
            self.target.start()
            self._target_started = True
            self.timer.record("target start", started)
            # What the started target offers (LocalStack's edition, where the model is served from):
            # the header only previews the target, so this is said once it is known.
            self.log(f"mlinfra: target {self.target.describe()}")
        return self.target

    def stack_variables(self) -> dict[str, Any]:
        """The contract's inputs (docs/contract.md); ``lambda_zip_path`` only with a handler dir."""
        variables = self.plain_variables()
        if self.settings.handler_dir is not None:
            zip_path = self.workdir / "lambda.zip"
            build_zip(self.settings.handler_dir, zip_path, include=self.settings.package_include)
            variables["lambda_zip_path"] = str(zip_path)
        return variables

    def plain_variables(self) -> dict[str, Any]:
        """The inputs that need no work to compute (all but the package's path)."""
        s = self.settings
        variables: dict[str, Any] = {
            "run_id": s.run_id,
            "name_prefix": s.name_prefix,
            "tags": s.cost_tags(),
            "region": s.region,
            "lambda_handler": s.handler,
            "lambda_runtime": self.runtime.runtime if self.runtime is not None else s.runtime,
            "lambda_memory_mb": s.memory_mb,
            "lambda_timeout_s": s.timeout_s,
            "enable_efs": self.model_on_efs(),
            "enable_http_api": s.http_api,
        }
        if s.model_path is not None:  # the model keeps its name; a stack that declares model_file learns it
            variables["model_file"] = s.model_path.name
        return variables

    def preflight(self, source: Path) -> None:
        """What would fail the deploy and can be found from the stack's files, before anything runs."""
        from pytest_mlinfra import preflight

        started = time.perf_counter()
        try:
            given = set(self.plain_variables())
            if self.settings.handler_dir is not None:
                given.add("lambda_zip_path")
            preflight.check_variables(source, dict.fromkeys(given))
            efs_packages = bool(self.settings.efs_packages)
            preflight.check_outputs(source, self.fixtures, self.model_on_efs(), efs_packages=efs_packages)
        finally:
            self.timer.record("preflight", started)
        self.check_model()

    def check_model(self) -> None:
        """The user's model check (``mlinfra_model_check``), once, when the session syncs the model.

        The fixtures call it before the target starts; :meth:`preflight` again (a no-op by then)."""
        from pytest_mlinfra import preflight

        s = self.settings
        if self._model_checked or not s.model_check or s.model_path is None:
            return
        if self.fixtures and not preflight.MODEL_FIXTURES & self.fixtures:
            return
        started = time.perf_counter()
        try:
            search = [s.handler_dir] if s.handler_dir is not None else []
            seconds = preflight.check_model(s.model_check, s.model_path, [*search, Path.cwd()])
        finally:
            self.timer.record("preflight", started)
        self._model_checked = True
        self.log(f"mlinfra: model check {s.model_check} passed ({seconds:.1f} s)")

    def preflight_validate(self, stack: Stack) -> None:
        started = time.perf_counter()
        try:
            stack.preflight_validate()
        finally:
            self.timer.record("preflight", started)

    def model_on_efs(self) -> bool:
        """Whether the function reads the model from EFS (synced by DataSync) or from S3."""
        capable = self.target.capabilities.model_on_efs
        if self.settings.model_source == "s3":
            return False
        if self.settings.model_source == "efs" and not capable:
            raise MlinfraError(
                f"the {self.target.name} target has no EFS/DataSync, so the model cannot be served from EFS",
                "use --mlinfra-model-source=auto or s3, or a target with EFS and DataSync",
            )
        return capable

    def deploy(self, stack_dir: Path | None = None) -> Stack:
        """Start the target, then init and apply the stack; destroys what it made if apply fails.

        Under xdist the first worker applies and publishes; the others get the applied stack."""
        source = Path(stack_dir or self.settings.stack_dir)
        check_stack_dir(source)
        if self.share is None:
            return self._deploy(source)
        share = self.share

        def apply_once() -> dict[str, Any]:
            publish = lambda s: share.publish("stack-record", self._record(s))  # noqa: E731
            stack = self._deploy(source, before_apply=publish)
            return {**self._record(stack), "outputs": stack.outputs}

        published, produced = share.once("stack", apply_once)
        if not produced:
            from pytest_mlinfra import kept

            self.settings.run_id = str(published["run_id"])
            self.workdir = Path(published["workdir"])
            self.stack = self._stack_from(published, outputs=published["outputs"])
            self.kept = kept.load(self.workdir) if published.get("kept") else None
        return self.deployed_stack()

    def _deploy(self, source: Path, before_apply: Callable[[Stack], None] | None = None) -> Stack:
        self.preflight(source)
        target = self.start_target()
        toolchain = self.toolchain
        self.log(f"mlinfra: terraform {toolchain.describe()}")
        reused = self._find_kept(source, target) if self.settings.reuse else None
        self.ledger = self.open_ledger(source)
        if self.kept is not None:
            self.ledger.extra["kept"] = True
            self.ledger.write()
        stack = self._new_stack(source, variables=self.stack_variables(), env=target.credentials_env())
        self.stack = stack
        if reused is not None:
            with _state_set_aside(stack.tfdir):
                stack.prepare()
        else:
            stack.prepare()
        stack.init()
        self.log(f"mlinfra: provider {stack.provider_line()}")
        self.decide_runtime(stack)
        self.build_requirements()
        self.check_handler_imports(stack)
        self.preflight_validate(stack)
        if before_apply is not None:
            before_apply(stack)
        if reused is None:
            stack.apply()
            if self.kept is not None:
                self.log(
                    f"mlinfra: reuse: no kept stack of {source} on {target.name}: deployed {self.run_id} "
                    "and kept it (mlinfra down destroys it)"
                )
            return stack
        from pytest_mlinfra.terraform.stack import describe_changes

        changes = self.reapplied = stack.update()
        reused.reused += 1
        reused.save()
        self.log(f"mlinfra: reused {self.run_id}: {describe_changes(changes)}")
        return stack

    def build_requirements(self) -> None:
        """The handler's requirements file, built for the declared runtime into the zip (before
        apply: the zip's hash is part of the plan)."""
        from pytest_mlinfra import requirements

        source = requirements.requirements_file(self.settings.handler_dir, self.settings.requirements)
        if source is None or self.settings.handler_dir is None:
            return
        runtime = self.runtime.runtime if self.runtime is not None else self.settings.runtime
        if runtime is None:
            raise MlinfraError(
                f"{source.name} must be built for the function's runtime, which this stack does not take",
                "declare variable lambda_runtime in the stack, or set mlinfra_runtime",
            )
        started = time.perf_counter()
        built = requirements.build(source, runtime, "x86_64", cache_root() / "requirements")
        build_zip(
            self.settings.handler_dir,
            self.workdir / "lambda.zip",
            include=self.settings.package_include,
            packages=built.directory,
        )
        self.timer.record("requirements", started)
        self.log(f"mlinfra: requirements {built.describe()}")

    def check_handler_imports(self, stack: Stack) -> None:
        """Import pre-flight (:mod:`.handler_imports`): a module the handler imports that the zip, the
        EFS packages and the runtime do not provide is one line before apply, not an
        ``ImportModuleError`` after it."""
        import re

        from pytest_mlinfra import handler_imports
        from pytest_mlinfra.emulator.lambda_pythons import find_python
        from pytest_mlinfra.packages import resolve

        zip_path = self.workdir / "lambda.zip"
        s = self.settings
        if s.handler_dir is None or not zip_path.is_file():
            return
        if "lambda_zip_path" not in stack.declared_variables():
            return  # the function's code is not the zip built here
        started = time.perf_counter()
        try:
            runtime = self.runtime.runtime if self.runtime is not None else s.runtime
            found = find_python(runtime) if runtime is not None and not s.lambda_host_python else None
            efs = [name for dist in resolve(s.efs_packages, skip_files=None) for name in dist.top_level]
            texts = (path.read_text(errors="replace") for path in stack.tfdir.rglob("*.tf"))
            layers = any(re.search(r"\blayers\s*=|aws_lambda_layer_version", text) for text in texts)
            handler_imports.check(
                s.handler_dir,
                s.handler,
                zip_path,
                runtime,
                found[0] if found is not None else None,
                efs_names=handler_imports.package_top_level(efs),
                has_layers=layers,
            )
        finally:
            self.timer.record("preflight", started)

    def decide_runtime(self, stack: Stack) -> RuntimeChoice | None:
        """The stack's ``lambda_runtime``, once init selected the provider: the user's, or the newest
        the selected hashicorp/aws accepts and AWS still allows for new functions. Refuses (one line,
        before apply) what the provider or, on ``aws``, AWS would refuse; warns of the rest.
        None: the stack declares no ``lambda_runtime`` (its runtime is its own business)."""
        if "lambda_runtime" not in stack.declared_variables():
            return None
        version = stack.installed.get(AWS_PROVIDER)  # read from the lock file init wrote
        explicit = self.settings.runtime is not None
        runtime = self.settings.runtime or default_runtime(version)
        choice = RuntimeChoice(runtime, version, explicit)
        self.runtime = choice
        self.log(f"mlinfra: {choice.describe()}")
        notice = check_runtime(runtime, self.settings.target, self.settings.runtime_check, version, explicit)
        if notice is not None:
            warnings.warn(f"mlinfra: {notice}", RuntimeNotice, stacklevel=3)
        self._check_package_abi(runtime)
        how = self.target.lambda_python(runtime)
        if how is not None:
            self.log(f"mlinfra: {how}")
        stack.set_variable("lambda_runtime", runtime)
        return choice

    def _find_kept(self, source: Path, target: Target) -> KeptStack | None:
        """--mlinfra-reuse: take the kept stack of this source on this target (its run id, run dir
        and state), or register this run as the one to keep. Returns the stack found (None: new)."""
        from pytest_mlinfra import kept
        from pytest_mlinfra.settings import owner

        where, instance = self._kept_where(target)
        me = owner()
        source_key = str(source.resolve())
        found: KeptStack | None = None
        for candidate in kept.matching(target.name, where, source_key, self.runs_dir):
            if candidate.owner != me:
                self.log(
                    f"mlinfra: reuse: {candidate.run_id} of this stack is kept by {candidate.owner}: "
                    "not reused (its owner's to destroy)"
                )
            elif instance is not None and candidate.instance != instance:
                kept.forget(candidate)
                self.log(
                    f"mlinfra: reuse: kept stack {candidate.run_id} is gone (the embedded AWS was restarted "
                    "since); deploying anew"
                )
            elif found is None:
                found = candidate
        if found is not None:
            found.acquire(self.session_pid)
            with suppress(OSError):
                self.workdir.rmdir()  # the fresh run's folder, still empty: the kept one is used instead
            self.settings.run_id = found.run_id
            self.workdir = found.workdir
            self.kept = found
            return found
        self.kept = kept.KeptStack(
            run_id=self.run_id,
            workdir=self.workdir,
            target=target.name,
            where=where,
            source=source_key,
            owner=me,
            env=target.credentials_env(),
            instance=instance,
        )
        self.kept.save()  # before anything is created: mlinfra down can always find it
        self.kept.acquire(self.session_pid)
        return None

    def _kept_where(self, target: Target) -> tuple[str, str | None]:
        """Which deployment of the target a kept stack lives in, and (local) which emulator start."""
        from pytest_mlinfra.targets.local import LocalTarget

        if isinstance(target, LocalTarget):
            if target.attached is None or not target.outlives_session:
                raise MlinfraError(
                    "--mlinfra-reuse on the local target needs the embedded AWS running as a service "
                    "(an in-process one stops with the session, and the kept stack with it)",
                    "start it with: mlinfra up",
                )
            return "mlinfra up service", target.attached.instance
        return target.endpoint_url or f"AWS {target.region}", None

    def _new_stack(self, source: Path, variables: dict[str, Any], env: dict[str, str]) -> Stack:
        target = None if self.coordinator else self.start_target()
        return Stack(
            source=source,
            workdir=self.workdir,
            toolchain=self.toolchain,
            variables=variables,
            endpoint=target.emulator_endpoint() if target is not None else None,
            env=env,
            log=self.log,
            timer=self.timer,
            run_id=self.run_id,
            on_status=self.record_status,
            progress=lambda line: self.progress(line),
            resource_spans=self.resource_spans,
            reattach=self.settings.reattach_providers,
            provider_host=self._provider_host(target),
            outlives_process=lambda: self.target.outlives_session,
        )

    def _provider_host(self, target: Target | None) -> ServiceHost | None:
        """A kept stack on the `mlinfra up` service: its providers live as long as the service
        (the next --mlinfra-reuse run attaches to them); every other stack's stop with the run."""
        from pytest_mlinfra.targets.local import LocalTarget

        if self.kept is None or not isinstance(target, LocalTarget) or target.attached is None:
            return None
        if not target.outlives_session:
            return None
        from pytest_mlinfra.service import service_dir

        return ServiceHost(target.attached.pid, service_dir() / "providers")

    def _record(self, stack: Stack) -> dict[str, Any]:
        """What another process needs to use (or destroy) this applied stack."""
        return {
            "run_id": self.run_id,
            "source": str(stack.source),
            "workdir": str(stack.workdir),
            "env": dict(stack.env),
            "kept": self.kept is not None,
        }

    def _stack_from(self, record: dict[str, Any], outputs: dict[str, Any] | None = None) -> Stack:
        """Another process's applied stack, to read (xdist workers) or destroy (the controller)."""
        stack = self._new_stack(Path(record["source"]), variables={}, env=dict(record["env"]))
        stack.workdir = Path(record["workdir"])
        stack.outputs = dict(outputs or {})
        stack.applied = True
        return stack

    def open_ledger(self, source: Path) -> Ledger:
        """The run's ledger, written before anything can be created (``mlinfra runs`` reads it)."""
        ledger = Ledger(
            run_id=self.run_id,
            run_dir=self.workdir,
            target=self.settings.target,
            region=self.settings.region,
            endpoint=self.target.endpoint_url,
            stack_source=str(source.resolve()),
            state_path=str(self.workdir / "stack" / "terraform.tfstate"),
            terraform=str(self.toolchain.binary.path),
        )
        ledger.write()
        return ledger

    def record_status(self, status: str, detail: str = "") -> None:
        if self.ledger is not None:
            self.ledger.set_status(status, detail)

    def leftover_hint(self) -> str:
        """What remains and how to finish (printed when the user gives up with a second signal)."""
        stack = self.stack or self._destroying
        if stack is None or not (stack.applied or stack.apply_started):
            return "Nothing was deployed by this run."
        if not self.target.outlives_session:
            return "The embedded AWS stops with this process, so nothing stays deployed."
        return f"Resources may remain; state: {stack.state_file}; finish with: {stack.reap_command()}"

    def deployed_stack(self) -> Stack:
        if self.stack is None or not self.stack.applied:
            raise MlinfraError("no stack is deployed in this run", "call deploy() first")
        return self.stack

    def sync_model(self) -> SyncedModel:
        """Upload the model artifact and get it to where the function reads it (verified); under
        xdist once, by the first worker that needs it."""
        if self.share is None:
            return self._sync_model()

        def sync_once() -> dict[str, Any]:
            synced = asdict(self._sync_model())
            synced.pop("packages", None)  # what the workers need is the model; packages report here
            return synced

        published, _ = self.share.once("model", sync_once)
        return SyncedModel(**published)

    def _sync_model(self) -> SyncedModel:
        stack = self.deployed_stack()
        if self.settings.model_path is None:
            raise MlinfraError("no model artifact configured", "set --mlinfra-model or the mlinfra_model ini")
        self.check_outputs(stack, "mlinfra_model")
        started = time.perf_counter()
        try:
            syncer = ModelSync(
                client=self.target.client,
                outputs=stack.outputs,
                efs_storage=self.target.efs_storage,
                timeout_s=self.settings.sync_timeout_s,
                packages=self.package_sync(stack.outputs),
                stand_in=stand_in_honoured(self.settings),
                progress=lambda line: self.progress(line),
                model_file=self.settings.model_path.name,
            )
            kept = self.kept
            recorded = kept.model if kept is not None else None
            previous = SyncedModel(**recorded) if recorded else None
            if previous is not None:
                again = syncer.already_synced(self.settings.model_path, previous)
                if again is not None:
                    self.log(
                        f"mlinfra: reused {self.run_id}: model sha256 {again.sha256[:12]} already there and "
                        f"verified ({again.verified_by}); upload and DataSync skipped"
                    )
                    self.packages = again.packages
                    self.model = again
                    return again
            synced = syncer.sync(self.settings.model_path)
            self.packages = synced.packages
            self.model = synced
            if kept is not None:
                kept.model = {k: v for k, v in asdict(synced).items() if k != "packages"}
                kept.save()
            return synced
        finally:
            self.sync_execution = syncer.execution
            self.timer.record("sync", started)

    def check_outputs(self, stack: Stack, fixture: str, needed: tuple[str, ...] | None = None) -> None:
        """The contract outputs ``fixture`` reads, present in the applied stack (the pre-flight's line:
        plain ``Run`` users get it here, the plugin's sessions already before the deploy)."""
        from pytest_mlinfra import preflight

        preflight.check_outputs(
            stack.source,
            {fixture},
            self.model_on_efs(),
            have=stack.outputs.keys(),
            needed=needed,
            efs_packages=bool(self.settings.efs_packages),
        )

    def package_sync(self, outputs: Any) -> PackageSync | None:
        """The function's EFS packages (``mlinfra_efs_packages``), None when it has none."""
        if not self.settings.efs_packages:
            return None
        mount = str(outputs.get("efs_mount_path") or "/mnt/shared-storage")
        return PackageSync(
            self.settings.efs_packages,
            self.settings.lambda_provided,
            mount_dir=f"{mount}/{PACKAGES_DIR}",
            hash_cache=cache_root() / "package-hashes.json",
            stand_in_how="linked from the host's site-packages"
            if self.settings.target == "local"
            else "provided by LocalStack's mlinfra executor (MLINFRA_LAMBDA_PROVIDED)",
        )

    def _check_package_abi(self, runtime: str) -> None:
        """EFS packages come from this machine's environment: refuse what the declared runtime could
        not import on AWS (a cp311 torch on a python3.12 function), before anything is deployed."""
        from pytest_mlinfra.packages import built_for_another_python

        if not self.settings.efs_packages or self.settings.lambda_host_python:
            return
        bad = built_for_another_python(self.settings.efs_packages, runtime)
        if bad:
            raise MlinfraError(
                f"mlinfra_efs_packages are installed here for Python {sys.version_info[0]}."
                f"{sys.version_info[1]}, which Lambda runtime {runtime} cannot import: {', '.join(bad[:3])}"
                + (f" and {len(bad) - 3} more" if len(bad) > 3 else ""),
                f"declare the runtime they are built for (mlinfra_runtime = python{sys.version_info[0]}."
                f"{sys.version_info[1]}), or run pytest from a Python {runtime.removeprefix('python')} "
                "environment that has them",
            )

    def function(self) -> FunctionClient:
        """A client for the deployed function; its latencies accumulate in ``self.latencies``."""
        from botocore.config import Config

        stack = self.deployed_stack()
        self.check_outputs(stack, "mlinfra_function", needed=("function_name",))
        timeout = Config(read_timeout=self.settings.timeout_s + 30, retries={"max_attempts": 1})
        client = self.target.client("lambda", config=timeout)
        return FunctionClient(client, str(stack.outputs["function_name"]), latencies=self.latencies)

    def http_endpoint(self) -> str | None:
        """The deployed HTTP endpoint (the ``http_output`` output), None when the stack has none."""
        value = self.deployed_stack().outputs.get(self.settings.http_output)
        return str(value) if value else None

    def http(self) -> HttpClient:
        """A client for the deployed HTTP endpoint; its latencies go with the Invoke client's."""
        url = self.http_endpoint()
        if url is None:
            name = self.settings.http_output
            raise MlinfraError(
                f"the stack has no output {name!r} holding an HTTP endpoint",
                f"add output {name!r} (e.g. aws_lambda_function_url.X.function_url) or name yours "
                "with --mlinfra-http-output",
            )
        from botocore.credentials import Credentials

        from pytest_mlinfra.targets.base import FAKE_KEY

        credentials = Credentials(FAKE_KEY, FAKE_KEY) if self.target.endpoint_url else None
        if credentials is None:
            import boto3

            credentials = boto3.session.Session().get_credentials()
        return HttpClient(
            url,
            endpoint_url=self.target.endpoint_url,
            latencies=self.latencies,
            credentials=credentials,
            region=self.target.region,
            timeout_s=self.settings.timeout_s + 30,
        )

    def audit(self) -> list[Finding]:
        """Cost-tag findings on the deployed stack: its state (tags_all) and the live resources."""
        from pytest_mlinfra.audit import Policy, audit_live, audit_plan, cache

        stack = self.deployed_stack()
        policy = Policy(require=self.settings.required_tags)
        # A kept stack's audit is remembered against its resources and tags: a reuse apply that
        # changed nothing (it refreshed every resource first) gives the same result, without
        # show or live calls. Only kept stacks read or write the cache.
        key = None
        if self.kept is not None:
            key = cache.audit_key(stack.state_file, self.settings.required_tags, [self.settings.region])
        remembered = cache.load(stack.workdir, key) if key and self.reapplied == [] else None
        if remembered is not None:
            self.audit_reused = True
            self.audited_state, self.findings = remembered.state, remembered.findings
            return remembered.findings
        started = time.perf_counter()
        try:
            self.audited_state = stack.state_json()
            findings = audit_plan(self.audited_state, policy)
            findings += audit_live(
                lambda service, region: self.target.client(service, region_name=region),
                [self.settings.region],
                policy,
                tag_filters={RUN_ID_TAG: [self.run_id]},
            )
        finally:
            self.timer.record("audit", started)
        if key:
            cache.save(stack.workdir, key, findings, self.audited_state)
        self.findings = findings
        return findings

    def leftovers(self) -> list[str]:
        """ARNs still carrying this run's tag (the leak sweep; empty after a clean destroy)."""
        client = self.target.client("resourcegroupstaggingapi")
        arns: list[str] = []
        for page in client.get_paginator("get_resources").paginate(
            TagFilters=[{"Key": RUN_ID_TAG, "Values": [self.run_id]}]
        ):
            arns.extend(item["ResourceARN"] for item in page["ResourceTagMappingList"])
        return sorted(arns)

    def destroy_stack(self) -> None:
        """Destroy the applied stack unless kept; raises (loudly) when destroy fails. Its provider
        processes stop either way (the next run of a kept stack starts its own)."""
        stack, self.stack = self.stack, None
        if stack is None:
            return
        if stack.installed:
            self.provider_installed = stack.provider_line()
        self._destroying = stack
        try:
            self._destroy_stack(stack)
        finally:
            self._destroying = None
            stack.stop_providers()

    def _destroy_stack(self, stack: Stack) -> None:
        if self.share is not None:
            return  # an xdist worker: the controller destroys once, after the last worker
        if self.kept is not None and stack.applied:
            self.kept.release(self.session_pid)
            self.log(self.reuse_message())
            return
        if stack.applied and self.settings.keep:
            self.log(self.keep_message(stack))
            return
        if not stack.apply_started:
            self.record_status("destroyed", "nothing was applied")
            if interrupts.interrupted():
                interrupts.report("destroy: nothing to destroy (interrupted before apply)")
        stack.destroy()
        if stack.failed:
            self.log(f"run dir kept (a Terraform stage failed; printed commands run there): {stack.workdir}")
        else:
            self.remove_run_dir(stack)

    def remove_run_dir(self, stack: Stack) -> None:
        """After a clean destroy: the run dir goes, its final ledger stays in the runs journal."""
        if self.ledger is not None and self.ledger.run_dir.exists():
            self.ledger.archive()
        stack.cleanup()

    def finish_session(self) -> None:
        """The xdist controller, after the last worker: destroy the session's stack (whatever state
        the workers left, crashed ones included), then stop the emulator the first worker started."""
        share = self.share
        if share is None or not self.coordinator:
            return
        record = share.read("stack-record")
        try:
            if record is not None:
                self.settings.run_id = str(record["run_id"])
                self.ledger = self._read_ledger(Path(record["workdir"]))
                stack = self._stack_from(record)
                kept = self._kept_of(record)
                if kept is not None and stack.state_file.exists():
                    kept.release(self.session_pid)
                    self.log(self.reuse_message())
                elif stack.state_file.exists():
                    if self.settings.keep:
                        self.log(self.keep_message(stack))
                    else:
                        try:
                            stack.destroy()
                        finally:
                            stack.stop_providers()
                        stack.cleanup()
        finally:
            from pytest_mlinfra.service import terminate

            emulator = share.read("emulator")
            if emulator is not None and emulator.get("owned"):
                terminate(int(emulator["pid"]))
            shutil.rmtree(share.root, ignore_errors=True)

    def _kept_of(self, record: dict[str, Any]) -> KeptStack | None:
        from pytest_mlinfra import kept

        self.kept = kept.load(Path(record["workdir"])) if record.get("kept") else None
        return self.kept

    def reuse_message(self) -> str:
        return (
            f"mlinfra: kept {self.run_id} for the next --mlinfra-reuse run; "
            "destroy it with: mlinfra down"
            + ("" if self.settings.target == "local" else f" --target {self.settings.target}")
        )

    @staticmethod
    def _read_ledger(workdir: Path) -> Ledger | None:
        try:
            return Ledger.read(workdir)
        except (OSError, ValueError):
            return None

    def export_figures(self) -> dict[str, Any]:
        """What an xdist worker measured, as JSON-able data for the controller's summary and JUnit."""
        return {
            "stages": dict(self.timer.seconds),
            "stage_spans": [asdict(span) for span in self.timer.spans],
            "latencies": [asdict(sample) for sample in self.latencies.samples],
            "findings": None if self.findings is None else [asdict(f) for f in self.findings],
        }

    def merge_figures(self, figures: dict[str, Any]) -> None:
        """Fold an xdist worker's figures into the controller's."""
        for stage, seconds in figures.get("stages", {}).items():
            self.timer.seconds[stage] = self.timer.seconds.get(stage, 0.0) + float(seconds)
        # When: the worker's apply runs inside the controller's test loop, which is not test time.
        self.timer.spans.extend(StageSpan(**span) for span in figures.get("stage_spans", []))
        for sample in figures.get("latencies", []):
            self.latencies.add(Sample(**sample))
        if figures.get("findings") is not None:
            from pytest_mlinfra.audit import Finding

            found = [Finding(**{**f, "keys": tuple(f["keys"])}) for f in figures["findings"]]
            self.findings = (self.findings or []) + found

    def stop_target(self) -> None:
        if self._target_started:
            self._target_started = False
            self.target.stop()
            if interrupts.interrupted():
                interrupts.report(f"target {self.target.name}: stopped")

    def teardown(self) -> None:
        """Destroy (unless kept), then stop the target, even when destroy fails."""
        try:
            self.destroy_stack()
        finally:
            self.stop_target()

    def keep_message(self, stack: Stack) -> str:
        if not self.target.outlives_session:
            return (
                f"--mlinfra-keep: stack kept in {stack.tfdir}; the embedded AWS stops with this session, "
                "so nothing stays deployed"
            )
        return f"--mlinfra-keep: stack left deployed; destroy it later with: {stack.destroy_command()}"

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.teardown()
