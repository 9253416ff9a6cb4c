"""The installation plan and the CLI config it writes: which provider goes where, decided offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.settings import declarations, resolve
from pytest_mlinfra.terraform.constraints import Version
from pytest_mlinfra.terraform.installation import (
    FilesystemMirror,
    InstallPlan,
    NetworkMirror,
    current_platform,
    parse_mirror,
)
from pytest_mlinfra.terraform.requirements import module_requirements, provider_address, stack_requirements

AWS = "registry.terraform.io/hashicorp/aws"
RANDOM = "registry.terraform.io/hashicorp/random"
PLATFORM = current_platform()


def _mirror(folder: Path, held: dict[str, list[str]], bundled: bool = False) -> FilesystemMirror:
    """A packed filesystem mirror as `terraform providers mirror` lays it out (empty zips: never run)."""
    for address, versions in held.items():
        kind = address.rsplit("/", 1)[-1]
        target = folder / address
        target.mkdir(parents=True, exist_ok=True)
        for version in versions:
            (target / f"terraform-provider-{kind}_{version}_{PLATFORM}.zip").write_bytes(b"")
        (target / "index.json").write_text(json.dumps({"versions": {v: {} for v in versions}}))
    return FilesystemMirror(folder, bundled=bundled)


def _block(lines: list[str], name: str) -> list[list[str]]:
    """The body lines of every ``name { ... }`` block in the provider_installation block."""
    bodies: list[list[str]] = []
    inside = False
    for line in lines:
        if line.strip() == f"{name} {{":
            inside = True
            bodies.append([])
        elif inside and line.strip() == "}":
            inside = False
        elif inside:
            bodies[-1].append(line.strip())
    return bodies


def test_provider_addresses_as_terraform_qualifies_them() -> None:
    assert provider_address("hashicorp/aws") == AWS
    assert provider_address("aws") == AWS
    assert provider_address("Example.com/Acme/Thing") == "example.com/acme/thing"


def test_requirements_object_string_legacy_and_json_forms(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        "terraform {\n  required_providers {\n"
        '    aws = {\n      source  = "hashicorp/aws"\n      version = ">= 3.39, < 4"\n    }\n'
        '    random = "~> 3.0"\n    mine = { source = "example.com/acme/thing" }\n  }\n}\n'
        'provider "aws" {\n  version = "!= 3.38.0"\n  region  = "us-east-1"\n}\n'
    )
    (tmp_path / "extra.tf.json").write_text(
        json.dumps(
            {"terraform": {"required_providers": {"null": {"source": "hashicorp/null", "version": "3.1.0"}}}}
        )
    )
    found = module_requirements(tmp_path)
    assert found[AWS] == [">= 3.39, < 4", "!= 3.38.0"]
    assert found[RANDOM] == ["~> 3.0"]
    assert found["example.com/acme/thing"] == []
    assert found["registry.terraform.io/hashicorp/null"] == ["3.1.0"]


def test_module_constraints_are_joined(tmp_path: Path) -> None:
    root, module = tmp_path / "root", tmp_path / "module"
    for folder, constraint in ((root, ">= 3.39"), (module, "~> 3.0")):
        folder.mkdir()
        (folder / "versions.tf").write_text(
            f'terraform {{\n  required_providers {{\n    aws = {{ version = "{constraint}" }}\n  }}\n}}\n'
        )
    (module / "broken.tf").write_text("resource {")  # init reports it; the plan just skips it
    assert stack_requirements([root, module]) == {AWS: [">= 3.39", "~> 3.0"]}


def test_mirror_holdings_packed_unpacked_and_other_platforms(tmp_path: Path) -> None:
    mirror = _mirror(tmp_path, {AWS: ["3.39.0", "2.70.0"]})
    (tmp_path / AWS / "terraform-provider-aws_5.0.0_plan9_mips.zip").write_bytes(b"")
    (tmp_path / RANDOM / "3.6.0" / PLATFORM).mkdir(parents=True)  # unpacked layout
    assert mirror.holdings() == {AWS: [Version(2, 70, 0), Version(3, 39, 0)], RANDOM: [Version(3, 6, 0)]}


def test_a_satisfiable_provider_never_reaches_the_registry(tmp_path: Path) -> None:
    bundled = _mirror(tmp_path / "bundled", {AWS: ["2.70.0", "3.39.0"]}, bundled=True)
    lines = InstallPlan([bundled], {AWS: [">= 3.39"]}).lines()
    assert _block(lines, "filesystem_mirror") == [[f'path = "{bundled.path}"', f'include = ["{AWS}"]']]
    assert _block(lines, "direct") == [[f'exclude = ["{AWS}"]']]


def test_an_unmet_constraint_goes_direct(tmp_path: Path) -> None:
    bundled = _mirror(tmp_path / "bundled", {AWS: ["2.70.0", "3.39.0"]}, bundled=True)
    plan = InstallPlan([bundled], {AWS: ["~> 5.0"]})
    assert plan.served == {}
    assert _block(plan.lines(), "direct") == [[]], "aws goes direct: no exclusion"
    error = plan.cannot_install(AWS, "~> 5.0", "registry.terraform.io is unreachable from this machine (x)")
    assert str(error) == (
        "provider hashicorp/aws ~> 5.0 cannot be installed here: registry.terraform.io is unreachable "
        "from this machine (x); versions installable here: 2.70.0, 3.39.0 (the bundled offline mirror "
        f'{bundled.path}). relax the constraint to admit one (e.g. version = ">= 3.39.0"), or add '
        "--mlinfra-provider-mirror=DIR (ini mlinfra_provider_mirror) made by "
        "`terraform providers mirror DIR` on a machine with registry access"
    )


def test_user_mirrors_come_first_and_serve_what_they_hold(tmp_path: Path) -> None:
    mine = _mirror(tmp_path / "mine", {RANDOM: ["3.6.0"], AWS: ["3.39.0"]})
    bundled = _mirror(tmp_path / "bundled", {AWS: ["2.70.0", "3.39.0"]}, bundled=True)
    plan = InstallPlan([mine, bundled], {AWS: ["~> 2.70"], RANDOM: [">= 3"]})
    assert [body[0] for body in _block(plan.lines(), "filesystem_mirror")] == [
        f'path = "{mine.path}"',
        f'path = "{bundled.path}"',
    ]
    assert plan.served == {AWS: (Version(2, 70, 0), bundled), RANDOM: (Version(3, 6, 0), mine)}
    assert _block(plan.lines(), "direct") == [[f'exclude = ["{AWS}", "{RANDOM}"]']]
    # The first mirror holding the chosen version is where Terraform takes it from.
    assert plan.source_of(AWS, "3.39.0", "") == f"your mirror {mine.path}"


def test_network_mirrors_stand_in_for_the_registry(tmp_path: Path) -> None:
    bundled = _mirror(tmp_path / "bundled", {AWS: ["3.39.0"]}, bundled=True)
    net = NetworkMirror("https://mirror.example.invalid/")
    plan = InstallPlan([net, bundled], {AWS: [">= 3.39"]})
    assert _block(plan.lines(), "network_mirror") == [
        ['url = "https://mirror.example.invalid/"', f'exclude = ["{AWS}"]']
    ]
    assert _block(plan.lines(), "direct") == [], "no direct: the network mirror answers for the rest"
    assert InstallPlan([net], {AWS: ["~> 5.0"]}).source_of(AWS, "5.1.0", "") == (
        "the network mirror https://mirror.example.invalid/"
    )


def test_no_mirrors_no_block_and_an_empty_mirror_is_left_out(tmp_path: Path) -> None:
    assert InstallPlan([], {AWS: [">= 3.39"]}).lines() == []
    empty = FilesystemMirror(tmp_path)
    lines = InstallPlan([empty], {}).lines()
    assert _block(lines, "filesystem_mirror") == [] and _block(lines, "direct") == [[]]
    assert f"your mirror {tmp_path}: nothing for {PLATFORM}" in InstallPlan([empty]).describe()


def test_source_of_says_when_the_plugin_cache_supplied_the_files(tmp_path: Path) -> None:
    bundled = _mirror(tmp_path / "bundled", {AWS: ["3.39.0"]}, bundled=True)
    plan = InstallPlan([bundled], {AWS: [">= 3.39"]})
    output = "- Using hashicorp/aws v3.39.0 from the shared cache directory\n"
    fallback = f"{bundled.label} (offline fallback: the registry could not be reached)"
    assert plan.source_of(AWS, "3.39.0", output) == f"the plugin cache, as offered by {fallback}"
    assert InstallPlan([], {}).source_of(AWS, "5.1.0", "") == "the registry registry.terraform.io"


def test_parse_mirror_refusals(tmp_path: Path) -> None:
    assert parse_mirror(str(tmp_path)) == FilesystemMirror(tmp_path)
    assert parse_mirror("https://127.0.0.1:8443/m") == NetworkMirror("https://127.0.0.1:8443/m/")
    with pytest.raises(
        MlinfraError, match=r"--mlinfra-provider-mirror \(ini mlinfra_provider_mirror\) .* is not"
    ):
        parse_mirror(str(tmp_path / "missing"))
    with pytest.raises(MlinfraError, match="a network mirror must be https://"):
        parse_mirror("http://127.0.0.1:8080/")


def test_mirror_locations_resolve_against_the_ini_folder_and_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    declaration = dict(declarations())["provider_mirrors"]
    monkeypatch.chdir(tmp_path)
    value = resolve(
        "provider_mirrors",
        declaration,
        option=["here", "https://m.example.invalid/"],
        ini=["mirrors/a", "/abs/b"],
        ini_dir=tmp_path / "repo",
    )
    assert value == (
        str(tmp_path / "repo" / "mirrors" / "a"),
        "/abs/b",
        str(tmp_path / "here"),
        "https://m.example.invalid/",
    )
    assert resolve("provider_mirrors", declaration, None, None) == ()


def test_online_every_source_is_offered_every_provider(tmp_path: Path) -> None:
    """The registry thought reachable: no exclusions, so init takes the newest admitted anywhere."""
    mine = _mirror(tmp_path / "mine", {AWS: ["3.39.0"]})
    plan = InstallPlan([mine], {AWS: [">= 3.39"]}, offline=False)
    assert _block(plan.lines(), "filesystem_mirror") == [[f'path = "{mine.path}"', f'include = ["{AWS}"]']]
    assert _block(plan.lines(), "direct") == [[]]
    assert plan.source_of(AWS, "3.39.0", "") == f"your mirror {mine.path}"
    assert plan.source_of(AWS, "5.100.0", "") == "the registry registry.terraform.io"


def test_the_user_cli_config_is_merged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_mlinfra.terraform.cliconfig import read_user_config
    from pytest_mlinfra.terraform.toolchain import TerraformBinary, Toolchain

    mine = _mirror(tmp_path / "teams", {AWS: ["5.100.0"]})
    rc = tmp_path / "team.rc"
    rc.write_text(
        f'plugin_cache_dir = "{tmp_path}/cache"\n'
        f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mine.path}"\n  }}\n'
        '  network_mirror {\n    url = "https://mirror.example.invalid/"\n  }\n  direct {}\n}\n'
    )
    # A TF_CLI_CONFIG_FILE naming a missing file is no config (Terraform only warns), nor is no HOME rc.
    assert (
        read_user_config({"TF_CLI_CONFIG_FILE": str(tmp_path / "absent"), "HOME": str(tmp_path)}).path is None
    )
    config = read_user_config({"TF_CLI_CONFIG_FILE": str(rc), "HOME": str(tmp_path)})
    assert config.plugin_cache_dir == tmp_path / "cache"
    assert config.mirrors == (str(mine.path.resolve()), "https://mirror.example.invalid/")
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(rc))
    monkeypatch.setenv("MLINFRA_MACHINE_MIRRORS", "")
    chain = Toolchain(TerraformBinary(Path("/bin/true"), "option"), root=tmp_path / "root", use_mirror=False)
    assert chain.plugin_cache == tmp_path / "cache"
    assert [m.label for m in chain.mirrors] == [
        f"the mirror {mine.path.resolve()} of your Terraform CLI config",
        "the network mirror https://mirror.example.invalid/",
    ]
    assert f'plugin_cache_dir = "{tmp_path}/cache"' in chain.write_cli_config().read_text()


def test_fallbacks_only_once_the_registry_is_known_unreachable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_mlinfra.terraform.toolchain import TerraformBinary, Toolchain

    machine = _mirror(tmp_path / "opt", {AWS: ["5.100.0"]})
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(tmp_path / "absent"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("MLINFRA_MACHINE_MIRRORS", str(machine.path))
    chain = Toolchain(TerraformBinary(Path("/bin/true"), "option"), root=tmp_path / "root")
    assert next(m.label for m in chain.fallbacks) == f"this machine's offline mirror {machine.path.resolve()}"
    online = chain.plan({AWS: [">= 3.39"]})
    assert not online.offline and online.mirrors == [] and online.lines() == []
    chain.remember_unreachable()
    offline = chain.plan({AWS: [">= 3.39"]})
    assert offline.offline and offline.served[AWS][0] == Version(5, 100, 0), "the newest held wins"
    assert offline.source_of(AWS, "5.100.0", "").startswith("this machine's offline mirror")
    monkeypatch.setenv("MLINFRA_REGISTRY_RECHECK_S", "0")
    assert not chain.plan({AWS: [">= 3.39"]}).offline, "an old answer is asked again"
