"""One provider process per stack for the whole session, through Terraform's reattach protocol.

Every Terraform command normally starts each provider afresh; hashicorp/aws 5.x spends ~3 s and
~550 MB loading its schema at each start. A provider started with ``-debug`` serves gRPC on a unix
socket and prints a ``TF_REATTACH_PROVIDERS`` value; Terraform commands run with that variable talk
to the running process instead of starting their own. Here:

- the binary is the one ``init`` selected (the lock file's version, found under
  ``.terraform/providers``), so it works for whatever provider selection chose;
- ``init`` itself never attaches (it installs the provider and writes the lock file as always);
- a provider process is shared only where sharing changes nothing Terraform would see: the same
  binary, the same working directory (the provider resolves relative paths such as a Lambda
  ``filename`` against its own cwd) and the same environment (it reads credentials, region and
  proxies from its own environment, not Terraform's). In practice: one process per stack run dir;
- one command at a time per process (each command configures the provider anew; a concurrent
  command would reconfigure it under the other): a second concurrent user gets a process of its own;
- a provider type with more than one configuration (aliases, a module's own provider block) is
  never attached: one process holds one configuration at a time, Terraform would share it;
- the process is a child of this one (own process group, PR_SET_PDEATHSIG via
  :func:`pytest_mlinfra.children.spawn`) and is stopped when the run ends, at exit, or with the
  process that started it (SIGKILL included);
- a provider that does not start in debug mode costs one line; its commands start it as usual;
- a kept stack under ``mlinfra up`` keeps its providers for the service's life instead (see
  :mod:`.provider_host`): the next ``--mlinfra-reuse`` session attaches to them.

hashicorp/aws 5.x cannot be configured twice in one process while ``AWS_CA_BUNDLE`` is set (the
second configure fails: "unable to add custom RootCAs HTTPClient, has no WithTransportOptions"),
and one apply configures it twice (plan walk, apply walk). Against a plain ``http://`` endpoint (the
embedded AWS, LocalStack) no certificate is ever checked, so the bundle is left out of the provider's
environment; elsewhere hashicorp/aws is not attached while the variable is set (one line says so).
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_mlinfra.children import KILL_AFTER_S, kill_group, spawn
from pytest_mlinfra.terraform.provider_host import ServiceHost

REATTACH_ENV = "TF_REATTACH_PROVIDERS"
CA_BUNDLE_ENV = "AWS_CA_BUNDLE"
AWS_ADDRESS = "registry.terraform.io/hashicorp/aws"
#  Commands that load no provider (init installs them; attaching would skip that): never attached.
NO_PROVIDER_COMMANDS = frozenset({"init", "get", "version", "fmt", "output", "workspace", "login"})
#  How long a provider may take to print its reattach line (5.100.0: ~3 s on an idle machine).
START_TIMEOUT_S = 60.0
#  Variables that change nothing the provider sees (Terraform's own, or set per command).
_NOT_FOR_PROVIDER = frozenset(
    {REATTACH_ENV, "TF_CLI_CONFIG_FILE", "TF_IN_AUTOMATION", "TF_INPUT", "CHECKPOINT_DISABLE"}
)
#  Set per test phase (PYTEST_CURRENT_TEST) or per worker: not part of what makes a provider differ.
_VOLATILE_PREFIXES = ("PYTEST_",)
_REATTACH_LINE = re.compile(r"TF_REATTACH_PROVIDERS='(?P<json>\{.*\})'")
_PROVIDER_BLOCK = re.compile(r'^\s*provider\s+"(?P<name>[^"]+)"\s*\{', re.M)
_LOCKED = re.compile(r'^provider "(?P<address>[^"]+)" \{\s*\n\s*version\s*=\s*"(?P<version>[^"]+)"', re.M)


class ReattachUnavailable(Exception):
    """The provider did not start in debug mode (the reason is one short clause)."""


@dataclass(frozen=True)
class SelectedProvider:
    """A provider init selected for a stack: its address, version and the executable it installed."""

    address: str
    version: str
    binary: Path

    @property
    def label(self) -> str:
        return f"{'/'.join(self.address.split('/')[-2:])} {self.version}"


def selected_providers(tfdir: Path, platform: str) -> list[SelectedProvider]:
    """What init selected (the lock file) and installed (``.terraform/providers``), by address."""
    lock = tfdir / ".terraform.lock.hcl"
    try:
        text = lock.read_text()
    except OSError:
        return []
    found = []
    for locked in _LOCKED.finditer(text):
        address, version = locked["address"], locked["version"]
        folder = tfdir / ".terraform" / "providers" / address / version / platform
        kind = address.rsplit("/", 1)[-1]
        candidates = sorted(folder.glob(f"terraform-provider-{kind}*")) if folder.is_dir() else []
        executable = [c for c in candidates if c.is_file() and os.access(c, os.X_OK)]
        if executable:
            found.append(SelectedProvider(address, version, executable[0].resolve()))
    return found


def provider_configurations(root: Path, modules: Iterable[Path]) -> dict[str, int]:
    """Provider local name -> explicit ``provider`` blocks in the configuration (override files,
    which merge into a block, are not counted). A block in a module counts twice: the root's
    default configuration and the module's own are two."""
    counts: dict[str, int] = {}
    for weight, folder in ((1, root), *((2, m) for m in modules)):
        for tf_file in sorted(folder.glob("*.tf")):
            if tf_file.name == "override.tf" or tf_file.name.endswith("_override.tf"):
                continue
            try:
                text = tf_file.read_text("utf-8", errors="replace")
            except OSError:
                continue
            for block in _PROVIDER_BLOCK.finditer(text):
                counts[block["name"]] = counts.get(block["name"], 0) + weight
            if "configuration_aliases" in text:
                counts["*"] = 2
    return counts


def shareable(providers: list[SelectedProvider], configurations: Mapping[str, int]) -> list[SelectedProvider]:
    """The providers with one configuration (any other would have several share one process)."""
    if configurations.get("*", 0) > 1:
        return []
    return [p for p in providers if configurations.get(p.address.rsplit("/", 1)[-1], 0) <= 1]


def provider_env(env: Mapping[str, str], unset: Iterable[str] = ()) -> dict[str, str]:
    """The environment a provider gets from Terraform: Terraform's own (tftest drops TF_LOG),
    less ``unset`` (variables that cannot matter to it, see the module docstring)."""
    left_out = _NOT_FOR_PROVIDER | set(unset)
    return {k: v for k, v in env.items() if k not in left_out}


def _key(provider: SelectedProvider, cwd: Path, env: Mapping[str, str]) -> str:
    """Which running provider may serve a command: same binary, folder and environment (less what
    changes per test and means nothing to a provider: pytest's own variables)."""
    digest = hashlib.sha256()
    for part in (provider.address, str(provider.binary), str(cwd)):
        digest.update(part.encode() + b"\0")
    for name, value in sorted(env.items()):
        if not name.startswith(_VOLATILE_PREFIXES):
            digest.update(f"{name}={value}".encode() + b"\0")
    return digest.hexdigest()


@dataclass
class DebugProvider:
    """One provider running with ``-debug``; ``config`` is its entry of TF_REATTACH_PROVIDERS."""

    provider: SelectedProvider
    proc: subprocess.Popen[bytes]
    config: dict[str, Any]
    folder: Path  # its stdout/stderr logs
    cwd: Path
    busy: bool = False
    served: int = 0  # Terraform commands attached so far

    @classmethod
    def start(
        cls, provider: SelectedProvider, cwd: Path, env: Mapping[str, str], timeout_s: float = START_TIMEOUT_S
    ) -> DebugProvider:
        folder = Path(tempfile.mkdtemp(prefix="mlinfra-provider-"))
        out_path, err_path = folder / "stdout.log", folder / "stderr.log"
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = spawn(
                [str(provider.binary), "-debug"],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=str(cwd),
                env=dict(env),
            )
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                entry = read_reattach_line(out_path.read_text(errors="replace"), provider.address)
                if entry is not None:
                    return cls(provider, proc, entry, folder, cwd.resolve())
                if proc.poll() is not None:
                    raise ReattachUnavailable(f"it exited ({proc.returncode}): {_last_line(folder)}")
                if time.monotonic() > deadline:
                    raise ReattachUnavailable(f"no reattach line within {timeout_s:.0f} s")
                time.sleep(0.05)
        except BaseException:  # an interrupt while it starts, too: nothing is left running
            kill_group(proc)
            _remove(folder, None)
            raise

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        """An interrupt (the provider's own way to stop in debug mode), then SIGKILL of its group."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=min(KILL_AFTER_S, 5.0))
        kill_group(self.proc)
        _remove(self.folder, self.config)


def read_reattach_line(text: str, address: str) -> dict[str, Any] | None:
    """The provider's entry of the ``TF_REATTACH_PROVIDERS='{...}'`` line it prints (None: not yet)."""
    found = _REATTACH_LINE.search(text)
    if found is None:
        return None
    config = json.loads(found["json"])
    entry = config.get(address) or next(iter(config.values()), None)
    if not isinstance(entry, dict) or not entry.get("Addr"):
        raise ReattachUnavailable(f"unexpected reattach line {found['json'][:80]}")
    return entry


def _last_line(folder: Path) -> str:
    for name in ("stderr.log", "stdout.log"):
        with contextlib.suppress(OSError):
            lines = [x for x in (folder / name).read_text(errors="replace").splitlines() if x.strip()]
            if lines:
                return " ".join(lines[-1].split())[:160]
    return "no output"


def _remove(folder: Path, config: Mapping[str, Any] | None) -> None:
    """The logs folder, and the unix socket the provider leaves behind when it is killed."""
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
    addr = (config or {}).get("Addr") or {}
    if addr.get("Network") == "unix" and addr.get("String"):
        with contextlib.suppress(OSError):
            os.unlink(addr["String"])


@dataclass
class ProviderPool:
    """The debug providers of this process, by (binary, cwd, environment); thread-safe."""

    log: Callable[[str], None] = lambda _line: None
    running: dict[str, list[DebugProvider]] = field(default_factory=dict)
    failed: dict[Path, str] = field(default_factory=dict)  # binary -> why it cannot run in debug mode
    started: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @contextlib.contextmanager
    def attached(
        self, providers: list[SelectedProvider], cwd: Path, env: Mapping[str, str], unset: Iterable[str] = ()
    ) -> Iterator[str]:
        """A TF_REATTACH_PROVIDERS value for one command (empty: none could be attached); each
        provider is held by this command until it ends."""
        penv = provider_env(env, unset)
        leased: list[DebugProvider] = []
        try:
            for provider in providers:
                debug = self._lease(provider, cwd, penv)
                if debug is not None:
                    leased.append(debug)
            value = json.dumps({d.provider.address: d.config for d in leased}) if leased else ""
            yield value
        finally:
            with self._lock:
                for debug in leased:
                    debug.busy = False

    def _lease(self, provider: SelectedProvider, cwd: Path, env: Mapping[str, str]) -> DebugProvider | None:
        key = _key(provider, cwd, env)
        with self._lock:
            if provider.binary in self.failed:
                return None
            pool = self.running.setdefault(key, [])
            for debug in list(pool):
                if not debug.alive():
                    pool.remove(debug)
                    _remove(debug.folder, debug.config)
                elif not debug.busy:
                    debug.busy = True
                    debug.served += 1
                    return debug
        try:
            debug = DebugProvider.start(provider, cwd, env)
        except ReattachUnavailable as exc:
            with self._lock:
                self.failed[provider.binary] = str(exc)
            self.log(
                f"mlinfra: provider {provider.label} could not start in debug mode ({exc}): "
                "each Terraform command starts it, as without reattach"
            )
            return None
        debug.busy = True
        debug.served = 1
        with self._lock:
            self.running.setdefault(key, []).append(debug)
            self.started += 1
        return debug

    def pids(self, cwd: Path | None = None) -> list[int]:
        with self._lock:
            return [d.pid for pool in self.running.values() for d in pool if cwd is None or d.cwd == cwd]

    def stop(self, cwd: Path | None = None) -> list[DebugProvider]:
        """Stop the providers started for ``cwd`` (None: all of them); returns those stopped."""
        with self._lock:
            stopping = []
            for key, pool in list(self.running.items()):
                keep = [d for d in pool if cwd is not None and d.cwd != cwd]
                stopping += [d for d in pool if d not in keep]
                if keep:
                    self.running[key] = keep
                else:
                    del self.running[key]
        for debug in stopping:
            debug.stop()
        return stopping


_pool = ProviderPool()
atexit.register(_pool.stop)


def pool() -> ProviderPool:
    """This process's providers (stopped at exit; PR_SET_PDEATHSIG covers a killed process)."""
    return _pool


@dataclass
class StackProviders:
    """The reattach of one stack's Terraform commands: what init selected, in its folder."""

    tfdir: Path
    providers: list[SelectedProvider] = field(default_factory=list)
    pool: ProviderPool = field(default_factory=pool)
    plain_http: bool = False  # every AWS endpoint is http:// (an emulator): no certificate checked
    log: Callable[[str], None] = lambda _line: None
    host: ServiceHost | None = None  # a kept stack under `mlinfra up`: providers live with the service
    _said: set[str] = field(default_factory=set)

    @classmethod
    def after_init(
        cls,
        tfdir: Path,
        modules: Iterable[Path],
        platform: str,
        log: Callable[[str], None],
        plain_http: bool = False,
        host: ServiceHost | None = None,
    ) -> StackProviders:
        selected = selected_providers(tfdir, platform)
        listed = tfdir / ".terraform" / "modules" / "modules.json"
        folders = list(modules)
        with contextlib.suppress(OSError, ValueError):
            for module in json.loads(listed.read_text()).get("Modules", []):
                if module.get("Dir") not in (None, "", "."):
                    folders.append(tfdir / module["Dir"])
        usable = shareable(selected, provider_configurations(tfdir, folders))
        for left in (p for p in selected if p not in usable):
            log(
                f"mlinfra: provider {left.label} has several configurations in this stack: "
                "not reattached (each Terraform command starts its own)"
            )
        return cls(tfdir, usable, plain_http=plain_http, log=log, host=host)

    @contextlib.contextmanager
    def env_for(self, command: str, env: Mapping[str, str]) -> Iterator[dict[str, str]]:
        """Extra environment for one Terraform command: TF_REATTACH_PROVIDERS, or nothing."""
        if command in NO_PROVIDER_COMMANDS or not self.providers or env.get(REATTACH_ENV):
            yield {}
            return
        providers, unset = self.providers, []
        if env.get(CA_BUNDLE_ENV):
            if self.plain_http:
                unset.append(CA_BUNDLE_ENV)
            else:
                providers = [p for p in providers if p.address != AWS_ADDRESS]
                if "ca-bundle" not in self._said:
                    self._said.add("ca-bundle")
                    self.log(
                        f"mlinfra: hashicorp/aws not reattached: {CA_BUNDLE_ENV} is set, and the provider "
                        "cannot be configured twice in one process with it (each command starts its own)"
                    )
        if not providers:
            yield {}
            return
        holder = self.host or self.pool
        with holder.attached(providers, self.tfdir.resolve(), env, unset) as value:
            yield {REATTACH_ENV: value} if value else {}

    def stop(self) -> None:
        for debug in self.pool.stop(self.tfdir.resolve()):
            self.log(
                f"mlinfra: provider {debug.provider.label}: one process (pid {debug.pid}) served "
                f"{debug.served} Terraform command{'' if debug.served == 1 else 's'}, stopped"
            )
