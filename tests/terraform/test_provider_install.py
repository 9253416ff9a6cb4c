"""Provider installation that fits the machine, through real Terraform and the real provider zips.

"The internet" is :class:`InternetProxy` (``HTTPS_PROXY``): it records every host Terraform tries and
refuses them all, so "offline, zero network attempts" is asserted, not assumed. "The registry" and
"a network mirror" are :class:`ProviderHost`, HTTPS on 127.0.0.1 with a throw-away CA.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.terraform.installation import current_platform
from pytest_mlinfra.terraform.requirements import stack_requirements
from pytest_mlinfra.terraform.stack import Stack
from pytest_mlinfra.terraform.toolchain import Toolchain, find_terraform
from tests.terraform.provider_hosts import (
    REGISTRY,
    GpgSigner,
    InternetProxy,
    LocalCA,
    ProviderHost,
    offline_env,
    provider_zips,
)

SMALL = Path(__file__).resolve().parents[1] / "stacks" / "small"
AWS = "registry.terraform.io/hashicorp/aws"
TODO = (
    'relax the constraint to admit one (e.g. version = ">= 3.39.0"), or add --mlinfra-provider-mirror='
    "DIR (ini mlinfra_provider_mirror) made by `terraform providers mirror DIR` on a machine with "
    "registry access"
)
BUCKET_TEST = "def test_bucket(mlinfra_stack):\n    assert mlinfra_stack.outputs['bucket_name']\n"


def _with_constraint(folder: Path, constraint: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = (SMALL / "main.tf").read_text()
    assert 'version = ">= 3.39"' in text
    (folder / "main.tf").write_text(text.replace('version = ">= 3.39"', f'version = "{constraint}"'))
    return folder


@pytest.fixture
def ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCA:
    return LocalCA(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def offline(ca: LocalCA, monkeypatch: pytest.MonkeyPatch) -> Iterator[InternetProxy]:
    """This machine with no internet at all: every host Terraform tries is recorded and refused."""
    proxy = InternetProxy()
    for name, value in offline_env(ca, proxy).items():
        monkeypatch.setenv(name, value)
    yield proxy
    proxy.close()


@pytest.fixture
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty plugin cache: init must fetch the provider package from its source."""
    cache = tmp_path / "mlinfra-cache"
    monkeypatch.setenv("MLINFRA_CACHE_DIR", str(cache))
    return cache


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GpgSigner]:
    if shutil.which("gpg") is None:
        pytest.skip("gpg is needed to sign the test registry's SHA256SUMS")
    made = GpgSigner(tmp_path_factory.mktemp("gnupg"))
    yield made
    made.close()


@pytest.fixture(scope="module")
def user_mirror(tmp_path_factory: pytest.TempPathFactory, signer: GpgSigner) -> Path:
    """A filesystem mirror made the way users make one: `terraform providers mirror DIR`, run against
    "the registry" (here: the test registry, reached through the proxy as registry.terraform.io)."""
    root = tmp_path_factory.mktemp("providers-mirror")
    ca = LocalCA(root / "ca")
    registry = ProviderHost(provider_zips(), ca, signer)
    proxy = InternetProxy(registry)
    try:
        env = {
            **os.environ,
            **offline_env(ca, proxy),
            "TF_CLI_CONFIG_FILE": os.devnull,
            "CHECKPOINT_DISABLE": "1",
        }
        config = _with_constraint(root / "config", "= 3.39.0")
        mirror = root / "mirror"
        made = subprocess.run(
            [
                str(find_terraform().path),
                "providers",
                "mirror",
                f"-platform={current_platform()}",
                str(mirror),
            ],
            cwd=config,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert made.returncode == 0, made.stdout + made.stderr
        assert f"/dl/3.39.0/terraform-provider-aws_3.39.0_{current_platform()}.zip" in registry.requests
    finally:
        proxy.close()
        registry.close()
    assert (mirror / REGISTRY / "hashicorp" / "aws" / "index.json").is_file()
    return mirror


def test_a_missing_mirror_folder_is_one_usage_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest("--mlinfra-provider-mirror=no-such-mirror")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if "mlinfra:" in line]
    missing = pytester.path / "no-such-mirror"
    assert errors == [
        f"ERROR: mlinfra: --mlinfra-provider-mirror (ini mlinfra_provider_mirror) {missing} is not a folder. "
        "give a folder made by `terraform providers mirror DIR`, or an https:// network mirror URL"
    ]


@pytest.mark.slow
def test_offline_the_registry_is_tried_once_then_the_fallback_serves(
    offline: InternetProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLINFRA_MACHINE_MIRRORS", "")  # the bundled 3.39 only (the floor)
    toolchain = Toolchain(find_terraform(), root=tmp_path / "cache")
    stack = Stack(SMALL, tmp_path / "run", toolchain, variables={})
    stack.prepare()
    stack.init()
    assert set(offline.hosts) == {REGISTRY}, "the registry is asked first: it may have a newer release"
    bundled = tmp_path / "cache" / "provider-mirror"
    assert stack.provider_line() == (
        f"hashicorp/aws 3.39.0 from the bundled offline mirror {bundled} "
        "(offline fallback: the registry could not be reached)"
    )
    assert not stack.failed, "the answered first init is no failure to keep the run dir for"
    assert stack.cli_config is not None
    assert 'exclude = ["registry.terraform.io/hashicorp/aws"]' in stack.cli_config.read_text()
    # The answer is remembered: the next init within the hour reaches for no host at all.
    asked = len(offline.connects)
    chain = Toolchain(find_terraform(), root=tmp_path / "cache")
    again = Stack(SMALL, tmp_path / "run2", chain, variables={})
    again.prepare()
    again.init()
    assert len(offline.connects) == asked and again.installed[AWS] == "3.39.0"


@pytest.mark.slow
def test_unmet_constraint_goes_direct_and_is_one_line(
    pytester: pytest.Pytester, offline: InternetProxy, private_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLINFRA_MACHINE_MIRRORS", "")  # no 5.x anywhere here: only the bundled 3.39
    stack = _with_constraint(pytester.path / "stack", "~> 5.0")
    pytester.makepyfile(BUCKET_TEST + "\n\ndef test_again(mlinfra_stack):\n    pass\n")
    result = pytester.runpytest(f"--mlinfra-stack={stack}", "--mlinfra-runs-dir=runs")
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR, output
    lines = [line for line in output.splitlines() if "cannot be installed here" in line]
    assert len(lines) == 1, output
    bundled = Toolchain(find_terraform()).mirror
    assert (
        "mlinfra: provider hashicorp/aws ~> 5.0 cannot be installed here: registry.terraform.io is "
        "unreachable from this machine (" in lines[0]
    )
    assert f"versions installable here: 2.70.0, 3.39.0 (the bundled offline mirror {bundled}). " in lines[0]
    assert lines[0].endswith(TODO)
    assert "DESTROY FAILED" not in output and "Traceback" not in output
    assert not list((pytester.path / "runs").rglob("*.tfstate")), "nothing was deployed"
    # It went direct: Terraform asked for the registry (and only that), the internet refused.
    assert offline.hosts and set(offline.hosts) == {REGISTRY}
    toolchain = Toolchain(find_terraform())
    config = toolchain.write_cli_config(toolchain.plan(stack_requirements([stack]))).read_text()
    assert "  direct {\n  }\n" in config and "exclude" not in config


@pytest.mark.slow
def test_network_mirror_over_https_installs_the_provider(
    pytester: pytest.Pytester, offline: InternetProxy, ca: LocalCA, private_cache: Path
) -> None:
    host = ProviderHost(provider_zips(), ca)
    try:
        pytester.makepyfile(BUCKET_TEST)
        result = pytester.runpytest(
            f"--mlinfra-stack={SMALL}",
            f"--mlinfra-provider-mirror={host.mirror_url}",
            "--mlinfra-no-bundled-providers",
            "--mlinfra-no-audit",
        )
    finally:
        host.close()
    result.assert_outcomes(passed=1)
    base = f"/mirror/{REGISTRY}/hashicorp/aws/"
    assert host.requests[:2] == [base + "index.json", base + "3.39.0.json"]
    assert base + f"terraform-provider-aws_3.39.0_{current_platform()}.zip" in host.requests
    assert offline.connects == []
    result.stdout.fnmatch_lines(
        [f"mlinfra: provider hashicorp/aws 3.39.0 from the network mirror {host.mirror_url}"]
    )
    assert not (private_cache / "provider-mirror").exists(), "the bundled mirror was left out"


@pytest.mark.slow
def test_user_filesystem_mirror_from_the_ini(
    pytester: pytest.Pytester, offline: InternetProxy, private_cache: Path, user_mirror: Path
) -> None:
    shutil.copytree(user_mirror, pytester.path / "mirrors" / "aws")
    pytester.makeini("[pytest]\nmlinfra_provider_mirror = mirrors/aws\nmlinfra_no_bundled_providers = true\n")
    pytester.makepyfile(BUCKET_TEST)
    result = pytester.runpytest(f"--mlinfra-stack={SMALL}", "--mlinfra-no-audit", "-v")
    result.assert_outcomes(passed=1)
    mine = pytester.path / "mirrors" / "aws"
    result.stdout.fnmatch_lines(
        [
            f"mlinfra: providers: hashicorp/aws 3.39.0 in your mirror {mine}; anything else from {REGISTRY}",
            f"mlinfra: provider hashicorp/aws 3.39.0 from your mirror {mine}",
        ]
    )
    # The registry is offered it too (it may hold a newer release); unreachable, the mirror serves.
    assert set(offline.hosts) <= {REGISTRY}
    assert (private_cache / "plugin-cache" / REGISTRY / "hashicorp" / "aws" / "3.39.0").is_dir()


@pytest.mark.slow
def test_what_the_mirrors_cannot_serve_comes_from_the_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ca: LocalCA, signer: GpgSigner, user_mirror: Path
) -> None:
    registry = ProviderHost(provider_zips(), ca, signer)
    proxy = InternetProxy(registry)
    for name, value in offline_env(ca, proxy).items():
        monkeypatch.setenv(name, value)
    try:
        # The user's mirror holds 3.39.0 only: "~> 2.70" must go direct, to "registry.terraform.io".
        toolchain = Toolchain(
            find_terraform(), root=tmp_path / "cache", use_mirror=False, provider_mirrors=(str(user_mirror),)
        )
        stack = Stack(
            _with_constraint(tmp_path / "stack", "~> 2.70"), tmp_path / "run", toolchain, variables={}
        )
        stack.prepare()
        stack.init()
    finally:
        proxy.close()
        registry.close()
    assert stack.provider_line() == f"hashicorp/aws 2.70.0 from the registry {REGISTRY}"
    assert set(proxy.hosts) == {REGISTRY}
    assert "/v1/providers/hashicorp/aws/versions" in registry.requests
    assert f"/dl/2.70.0/terraform-provider-aws_2.70.0_{current_platform()}.zip" in registry.requests
    assert stack.cli_config is not None
    config = stack.cli_config.read_text()
    assert f'path = "{user_mirror}"' in config and "  direct {\n  }\n" in config


@pytest.mark.slow
def test_a_registry_or_git_module_constraint_counts_too(
    offline: InternetProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is needed for a git module source")
    monkeypatch.setenv("MLINFRA_MACHINE_MIRRORS", "")  # no 5.x anywhere here: only the bundled 3.39
    module = tmp_path / "module-repo"
    module.mkdir()
    (module / "main.tf").write_text(
        'terraform {\n  required_providers {\n    aws = {\n      source  = "hashicorp/aws"\n'
        '      version = "~> 5.0"\n    }\n  }\n}\n'
    )
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-C", str(module)]
    for args in (["init", "-q"], ["add", "main.tf"], ["commit", "-q", "-m", "module"]):
        subprocess.run([*git, *args], check=True, capture_output=True, timeout=60)
    stack = tmp_path / "stack"
    stack.mkdir()
    (stack / "main.tf").write_text(
        (SMALL / "main.tf").read_text() + f'\nmodule "remote" {{\n  source = "git::file://{module}"\n}}\n'
    )
    toolchain = Toolchain(find_terraform(), root=tmp_path / "cache")
    run = Stack(stack, tmp_path / "run", toolchain, variables={})
    run.prepare()
    with pytest.raises(MlinfraError) as failure:
        run.init()
    # The git module's "~> 5.0" was read (fetched with `terraform get` first): no mirror serves aws now,
    # so init went direct instead of failing on a mirror-only lookup.
    assert run.install_plan is not None
    assert run.install_plan.requirements["registry.terraform.io/hashicorp/aws"] == [">= 3.39", "~> 5.0"]
    assert set(offline.hosts) == {REGISTRY}
    assert "registry.terraform.io is unreachable from this machine" in str(failure.value)
