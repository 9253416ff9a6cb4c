"""One provider process per stack: every Terraform command but init attaches to it, none outlives
the run, and a provider that cannot run in debug mode falls back to the usual way in one line.

Real path: real Terraform, the real hashicorp/aws 5.100.0 (this machine's mirror) and 3.39.0 (the
bundled one), the real emulator. Process checks read /proc: a provider Terraform starts itself runs
in the stack's folder without ``-debug``; ours runs there with it. Signals go to a real process
group, as a shell's job control sends them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_mlinfra.children import pid_running
from pytest_mlinfra.run import Run
from pytest_mlinfra.settings import Settings
from pytest_mlinfra.terraform import reattach
from pytest_mlinfra.terraform.process import TerraformProcess
from pytest_mlinfra.terraform.reattach import (
    ProviderPool,
    SelectedProvider,
    StackProviders,
    provider_configurations,
    selected_providers,
    shareable,
)
from pytest_mlinfra.terraform.state import show_json

MIRROR_5 = Path("/opt/tf-plugins")
HAS_5 = (MIRROR_5 / "registry.terraform.io/hashicorp/aws/5.100.0").is_dir()
PROVIDERS = [
    pytest.param(
        "5.100.0",
        marks=pytest.mark.skipif(not HAS_5, reason="hashicorp/aws 5.100.0 is not in /opt/tf-plugins"),
    ),
    pytest.param("3.39.0"),
]


@pytest.fixture(autouse=True)
def _versions_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    """3.39.0 cases take the bundled mirror, 5.100.0 cases name /opt/tf-plugins themselves: this
    machine's mirror is no fallback here, so each case runs the version it names."""
    monkeypatch.setenv("MLINFRA_MACHINE_MIRRORS", "")


def _settings(version: str, stack: Path, runs: Path, **more: object) -> Settings:
    if version == "5.100.0":
        return Settings(
            stack_dir=stack,
            runs_dir=runs,
            provider_mirrors=(str(MIRROR_5),),
            bundled_providers=False,
            **more,  # type: ignore[arg-type]
        )
    return Settings(stack_dir=stack, runs_dir=runs, **more)  # type: ignore[arg-type]


def _providers_under(folder: Path) -> dict[int, bool]:
    """pid -> started with -debug, for every terraform-provider-* process whose cwd is in folder."""
    found: dict[int, bool] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:
            continue
        if b"terraform-provider-" in Path(argv[0].decode(errors="replace")).name.encode() and (
            cwd == folder or folder in cwd.parents
        ):
            found[int(entry.name)] = b"-debug" in argv
    return found


class _Watch:
    """Samples the provider processes under a folder while a block runs."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder.resolve()
        self.seen: dict[int, bool] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.seen.update(_providers_under(self.folder))
            time.sleep(0.05)

    def __enter__(self) -> _Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _view(doc: dict[str, Any] | None) -> tuple[list[tuple[str, str, str, str]], dict[str, Any]]:
    """What consumers read from a ``show -json`` document: resources (address, mode, type, values)
    through the module tree, and the output values."""
    assert doc is not None
    found: list[tuple[str, str, str, str]] = []
    todo = [doc["values"]["root_module"]]
    while todo:
        module = todo.pop()
        for r in module.get("resources", []):
            found.append((r["address"], r["mode"], r["type"], json.dumps(r["values"], sort_keys=True)))
        todo += module.get("child_modules", [])
    outputs = {k: v["value"] for k, v in doc["values"].get("outputs", {}).items()}
    return sorted(found), outputs


@pytest.fixture
def commands(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str]]]:
    """(command, TF_REATTACH_PROVIDERS it ran with) for every Terraform command."""
    seen: list[tuple[str, str]] = []
    real = TerraformProcess._execute

    def spy(self: TerraformProcess, cmd: str, args: tuple[str, ...], env: dict[str, str]) -> object:
        seen.append((cmd, env.get(reattach.REATTACH_ENV, "")))
        return real(self, cmd, args, env)

    monkeypatch.setattr(TerraformProcess, "_execute", spy)
    yield seen


# -- real path ----------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("version", PROVIDERS)
def test_every_command_attaches_to_one_provider(
    version: str, small_stack: Path, tmp_path: Path, commands: list[tuple[str, str]]
) -> None:
    messages: list[str] = []
    run = Run(_settings(version, small_stack, tmp_path), log=messages.append)
    try:
        with _Watch(tmp_path) as watch:
            stack = run.deploy()
            assert stack.installed[reattach.AWS_ADDRESS] == version
            assert stack.pending_changes() == []
            shown = json.loads(stack._tf().execute_command("show", "-json").out)
            assert _view(show_json(stack.state_file)) == _view(shown), "the state file says what show says"
            tfdir = stack.tfdir.resolve()
            running = stack.providers.pool.pids(tfdir) if stack.providers else []
            run.destroy_stack()
            run.teardown()
        assert len(running) == 1, messages
        pid = running[0]
        # Only ever one provider process in the stack's folder: ours, in debug mode.
        assert watch.seen == {pid: True}, f"Terraform started providers of its own: {watch.seen}"
        attached = [(cmd, value) for cmd, value in commands if value]
        assert {cmd for cmd, _ in attached} >= {"apply", "plan", "show", "destroy"}
        assert all(f'"Pid": {pid}' in value for _, value in attached)
        assert [cmd for cmd, value in commands if not value] == ["init"], "only init runs unattached"
        assert not pid_running(pid), "the provider stops with the run"
        assert _providers_under(tmp_path.resolve()) == {}
    finally:
        run.teardown()


@pytest.mark.slow
def test_turned_off_each_command_starts_its_own(
    small_stack: Path, tmp_path: Path, commands: list[tuple[str, str]]
) -> None:
    run = Run(_settings("3.39.0", small_stack, tmp_path, reattach_providers=False))
    try:
        with _Watch(tmp_path) as watch:
            run.deploy()
            run.destroy_stack()
        assert all(not value for _, value in commands)
        assert watch.seen and not any(watch.seen.values()), "providers Terraform started, none in debug mode"
    finally:
        run.teardown()


SESSION = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from pytest_mlinfra import interrupts
    from pytest_mlinfra.run import Run
    from pytest_mlinfra.settings import Settings

    interrupts.install()
    settings = Settings(
        stack_dir=Path(sys.argv[1]), runs_dir=Path(sys.argv[2]),
        provider_mirrors=tuple(sys.argv[3:]), bundled_providers=not sys.argv[3:],
    )
    with Run(settings, log=lambda line: print(line, flush=True)) as run:
        run.deploy()
        print("deployed", flush=True)
        time.sleep(600)
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_no_provider_survives_a_signal_to_the_session_group(
    signum: signal.Signals, small_stack: Path, tmp_path: Path
) -> None:
    """The session runs as a shell job (``set -m``: a process group of its own); the signal goes to
    that group, as a CI cancel or ``kill -TERM -PGID`` sends it."""
    script = tmp_path / "session.py"
    script.write_text(SESSION)
    runs = tmp_path / "runs"
    mirror = [str(MIRROR_5)] if HAS_5 else []
    job = f"set -m; {sys.executable} {script} {small_stack} {runs} {' '.join(mirror)} & echo $!; wait"
    shell = subprocess.Popen(["bash", "-c", job], stdout=subprocess.PIPE, text=True)
    assert shell.stdout is not None
    pgid = int(shell.stdout.readline())
    try:
        deadline = time.monotonic() + 300
        debug: list[int] = []
        while not debug and time.monotonic() < deadline:
            debug = [pid for pid, is_debug in _providers_under(runs.resolve()).items() if is_debug]
            time.sleep(0.1)
        assert debug, "the session never started its provider"
        time.sleep(1.0)  # inside a Terraform command, attached
        os.killpg(pgid, signum)
        shell.wait(timeout=300)
        gone = time.monotonic() + 15
        while any(pid_running(pid) for pid in debug) and time.monotonic() < gone:
            time.sleep(0.1)
        assert not any(pid_running(pid) for pid in debug), f"provider outlived the session ({signum.name})"
        assert _providers_under(runs.resolve()) == {}
    finally:
        if shell.poll() is None:
            os.killpg(pgid, signal.SIGKILL)
            shell.wait()


# -- the decisions, on fakes at the boundary -----------------------------------------------------------


def _fake_provider(tmp_path: Path, body: str) -> SelectedProvider:
    path = tmp_path / "terraform-provider-aws_v9.9.9_x5"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return SelectedProvider(reattach.AWS_ADDRESS, "9.9.9", path)


def test_a_provider_without_debug_mode_falls_back_in_one_line(tmp_path: Path) -> None:
    provider = _fake_provider(tmp_path, "echo 'This binary is a plugin.' >&2; exit 1\n")
    lines: list[str] = []
    pool = ProviderPool(log=lines.append)
    stack = StackProviders(tmp_path, [provider], pool)
    for _ in range(2):
        with stack.env_for("apply", {}) as extra:
            assert extra == {}
    assert len(lines) == 1, "said once"
    assert "could not start in debug mode" in lines[0] and "This binary is a plugin." in lines[0]
    assert "\n" not in lines[0]


FAKE_DEBUG = (
    'echo "TF_REATTACH_PROVIDERS=\'{\\"registry.terraform.io/hashicorp/aws\\":'
    '{\\"Protocol\\":\\"grpc\\",\\"Pid\\":$$,\\"Addr\\":{\\"Network\\":\\"unix\\",'
    '\\"String\\":\\"/nonexistent\\"}}}\'"\nexec sleep 600\n'
)


def test_a_busy_provider_is_not_shared_and_all_stop(tmp_path: Path) -> None:
    provider = _fake_provider(tmp_path, FAKE_DEBUG)
    pool = ProviderPool()
    stack = StackProviders(tmp_path, [provider], pool)
    with stack.env_for("plan", {}) as first, stack.env_for("plan", {}) as second:
        assert first[reattach.REATTACH_ENV] != second[reattach.REATTACH_ENV], "concurrent: one each"
    with stack.env_for("apply", {}) as again:
        assert again[reattach.REATTACH_ENV] in (first[reattach.REATTACH_ENV], second[reattach.REATTACH_ENV])
    with stack.env_for("plan", {"PYTEST_CURRENT_TEST": "t.py::a (setup)"}) as one:
        pass
    with stack.env_for("destroy", {"PYTEST_CURRENT_TEST": "t.py::z (teardown)"}) as other:
        assert other == one, "pytest's per-test variables do not make a provider differ"
    with stack.env_for("init", {}) as init:
        assert init == {}, "init installs providers: never attached"
    pids = pool.pids()
    assert len(pids) == 2
    stack.stop()
    assert not any(pid_running(pid) for pid in pids)


def test_several_configurations_of_a_provider_are_not_attached(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('provider "aws" {}\nprovider "aws" {\n  alias = "east"\n}\n')
    (tmp_path / "zz_override.tf").write_text('provider "aws" {}\n')
    aws = SelectedProvider(reattach.AWS_ADDRESS, "5.100.0", Path("/x"))
    random = SelectedProvider("registry.terraform.io/hashicorp/random", "3.6.0", Path("/y"))
    counts = provider_configurations(tmp_path, [])
    assert counts == {"aws": 2}
    assert shareable([aws, random], counts) == [random]
    module = tmp_path / "mod"
    module.mkdir()
    (module / "main.tf").write_text('provider "random" {}\n')
    assert shareable([aws, random], provider_configurations(tmp_path, [module])) == []


def test_selected_is_what_init_installed(tmp_path: Path) -> None:
    (tmp_path / ".terraform.lock.hcl").write_text(
        'provider "registry.terraform.io/hashicorp/aws" {\n  version     = "5.100.0"\n}\n'
    )
    folder = tmp_path / ".terraform/providers/registry.terraform.io/hashicorp/aws/5.100.0/linux_amd64"
    folder.mkdir(parents=True)
    binary = folder / "terraform-provider-aws_v5.100.0_x5"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    assert selected_providers(tmp_path, "linux_amd64") == [
        SelectedProvider(reattach.AWS_ADDRESS, "5.100.0", binary.resolve())
    ]
    assert selected_providers(tmp_path, "darwin_arm64") == []


def test_ca_bundle_is_left_out_only_against_plain_http(tmp_path: Path) -> None:
    provider = _fake_provider(tmp_path, "exit 1\n")
    lines: list[str] = []
    elsewhere = StackProviders(tmp_path, [provider], ProviderPool(), plain_http=False, log=lines.append)
    with elsewhere.env_for("apply", {"AWS_CA_BUNDLE": "/ca.pem"}) as extra:
        assert extra == {}
    assert len(lines) == 1 and "AWS_CA_BUNDLE is set" in lines[0]
    assert reattach.provider_env(
        {"AWS_CA_BUNDLE": "/ca.pem", "TF_CLI_CONFIG_FILE": "x", "A": "1"}, ["AWS_CA_BUNDLE"]
    ) == {"A": "1"}


def test_a_kept_stacks_provider_lives_with_the_service(tmp_path: Path) -> None:
    """Under `mlinfra up` a kept stack's provider is held by a host process watching the service:
    the next session attaches to the same one; it stops when the service does, or the folder goes."""
    from pytest_mlinfra.terraform.provider_host import ServiceHost

    provider = _fake_provider(tmp_path, FAKE_DEBUG)
    cwd = tmp_path / "stack"
    cwd.mkdir()
    service = subprocess.Popen(["sleep", "600"])
    try:
        first = StackProviders(cwd, [provider], ProviderPool(), host=ServiceHost(service.pid, tmp_path / "p"))
        with first.env_for("apply", {}) as one:
            assert one
        first.stop()  # the session ends: the provider stays with the service
        again = StackProviders(cwd, [provider], ProviderPool(), host=ServiceHost(service.pid, tmp_path / "p"))
        with again.env_for("apply", {}) as two:
            assert two == one, "the next session attaches to the same process"
        (pid,) = ServiceHost(service.pid, tmp_path / "p").pids()
        assert pid_running(pid)
    finally:
        service.kill()
        service.wait()
    deadline = time.monotonic() + 10
    while pid_running(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pid_running(pid), "the provider stops with the service"


@pytest.mark.slow
def test_reuse_attaches_to_the_provider_the_first_run_started(
    small_stack: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, commands: list[tuple[str, str]]
) -> None:
    """Two --mlinfra-reuse runs on the `mlinfra up` service: every attached command of both talks to
    one provider process, which stops with the service."""
    from pytest_mlinfra.service import start_service, stop_service
    from pytest_mlinfra.terraform.toolchain import cache_root

    cache = tmp_path / "cache"
    cache.mkdir()
    theirs = cache_root() / "plugin-cache"
    if theirs.is_dir():  # hard links: no 700 MB provider copied into the private cache
        subprocess.run(["cp", "-al", str(theirs), str(cache / "plugin-cache")], check=False)
    monkeypatch.setenv("MLINFRA_CACHE_DIR", str(cache))
    version = "5.100.0" if HAS_5 else "3.39.0"
    start_service()
    try:
        for _ in range(2):
            run = Run(_settings(version, small_stack, tmp_path / "runs", reuse=True))
            try:
                run.deploy()
            finally:
                run.teardown()
        pids = {value.split('"Pid": ')[1].split(",")[0] for _, value in commands if value}
        assert len(pids) == 1, f"one provider process for both runs: {pids}"
        assert sum(cmd == "apply" for cmd, value in commands if value) == 2
        (pid,) = (int(p) for p in pids)
        assert pid_running(pid), "kept with the service after the sessions"
    finally:
        stop_service()
    deadline = time.monotonic() + 30
    while pid_running(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pid_running(pid), "stops with the service"
