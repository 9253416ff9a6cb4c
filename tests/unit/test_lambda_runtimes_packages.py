"""Runtime notices (AWS's wording and dates), the Python mismatch line, and the EFS packages plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_mlinfra.errors import MlinfraError
from pytest_mlinfra.packages import PackageSync, packages_line, resolve
from pytest_mlinfra.runtimes import refusal, runtime_notice
from pytest_mlinfra.settings import Settings


def test_refused_runtime_names_aws_text() -> None:
    notice = runtime_notice("python3.8", today="2026-12-01")
    assert notice is not None and refusal("python3.8") in notice
    assert refusal("python3.8").startswith("The runtime parameter of python3.8 is no longer supported")


def test_deprecated_but_accepted_and_current_runtimes() -> None:
    assert "deprecated since 2025-12-15" in (runtime_notice("python3.9", today="2026-12-01") or "")
    assert runtime_notice("python3.12", today="2026-12-01") is None


def test_error_mode_refuses_before_anything_runs(tmp_path: Path) -> None:
    with pytest.raises(MlinfraError, match="no longer supported"):
        Settings(runtime="python3.8", runtime_check="error").validate()


def test_requirements_are_followed_and_the_runtime_is_never_shipped() -> None:
    names = {d.name.lower() for d in resolve(["boto3", "iniconfig"])}
    assert names == {"iniconfig"}  # boto3 and its requirements come with the managed runtime


def test_stand_in_covers_requirements_and_must_be_among_the_packages() -> None:
    sync = PackageSync(("iniconfig",), ("iniconfig",))
    assert sync.all_provided() and sync.report(stand_in=True).provided == ["iniconfig"]
    with pytest.raises(MlinfraError, match="not among the EFS packages"):
        PackageSync(("iniconfig",), ("pluggy",))


def test_header_line_names_the_stand_in_per_target() -> None:
    local = packages_line(Settings(efs_packages=("torch",), lambda_provided=("torch",)))
    assert "STAND-IN: torch linked from the host's site-packages, not uploaded" in local
    aws = packages_line(Settings(target="aws", efs_packages=("torch",), lambda_provided=("torch",)))
    assert "ignored: uploaded on aws" in aws


# -- the default runtime follows the provider init selected ----------------------------------------

TODAY = "2026-12-02"
LOCK = """# This file is maintained automatically by "terraform init".
# Manual edits may be lost in future updates.

provider "registry.terraform.io/hashicorp/aws" {
  version     = "{aws}"
  constraints = ">= 3.39.0"
  hashes = [
    "h1:goOMfGE4SjLps+hpxJFEM/pZFiNgvi6BMG8/w86+f6k=",
  ]
}

provider "registry.terraform.io/hashicorp/random" {
  version = "3.6.0"
}
"""


def test_lock_file_gives_the_selected_provider_versions() -> None:
    from pytest_mlinfra.terraform.stack import locked_versions

    assert locked_versions(LOCK.replace("{aws}", "3.39.0")) == {
        "registry.terraform.io/hashicorp/aws": "3.39.0",
        "registry.terraform.io/hashicorp/random": "3.6.0",
    }
    assert locked_versions("") == {}  # no init yet


@pytest.mark.parametrize(
    ("provider", "today", "chosen"),
    [
        ("3.39.0", TODAY, "python3.8"),  # the offline provider: python3.8 only, blocked since 2025-02-28
        ("2.70.0", TODAY, "python3.8"),
        ("3.55.0", TODAY, "python3.9"),  # the first release that accepts python3.9
        ("4.67.0", TODAY, "python3.10"),  # AWS blocks python3.10 (and 3.9) from 2027-02-01
        ("4.67.0", "2027-02-01", "python3.10"),  # none allowed any more: the provider's newest
        ("5.27.0", TODAY, "python3.12"),  # the first release that accepts python3.12
        ("5.26.0", TODAY, "python3.11"),
        ("5.11.0", TODAY, "python3.11"),
        ("5.75.1", TODAY, "python3.12"),  # python3.13 came with 5.76.0
        ("5.100.0", TODAY, "python3.13"),
        ("6.20.0", TODAY, "python3.14"),
        ("6.20.0", "2029-08-01", "python3.14"),  # none allowed any more: the provider's newest
        (None, TODAY, "python3.8"),
    ],
)
def test_default_runtime_is_the_newest_accepted_and_allowed(
    provider: str | None, today: str, chosen: str
) -> None:
    from pytest_mlinfra.runtimes import default_runtime

    assert default_runtime(provider, today=today) == chosen


def test_provider_version_order_is_numeric() -> None:
    from pytest_mlinfra.runtimes import provider_accepts

    assert provider_accepts("3.9.0") == ["python3.7", "python3.8"]  # 3.9 < 3.55, not "3.9" > "3.55"
    assert "python3.9" in provider_accepts("3.55.0") and "python3.10" not in provider_accepts("4.63.9")
    assert provider_accepts("5.0.0-beta1")[-1] == "python3.10"


def test_aws_target_refuses_a_blocked_runtime_whatever_runtime_check_says() -> None:
    from pytest_mlinfra.runtimes import check_runtime

    for check in ("warn", "error"):
        with pytest.raises(MlinfraError) as caught:
            check_runtime("python3.8", "aws", check, "3.39.0", explicit=False, today=TODAY)
        line = str(caught.value)
        assert "\n" not in line and "since 2025-02-28" in line and refusal("python3.8") in line
        assert "require hashicorp/aws >= 3.55.0 (python3.9; >= 6.20.0 for python3.14)" in line
        assert line.endswith("nothing was deployed")
    with pytest.raises(MlinfraError, match="set --mlinfra-runtime"):
        check_runtime("python3.7", "aws", "warn", "3.39.0", explicit=True, today=TODAY)
    assert check_runtime("python3.9", "aws", "warn", "3.55.0", today=TODAY) is not None  # deprecated only
    assert check_runtime("python3.12", "aws", "warn", "5.40.0", today=TODAY) is None


def test_emulated_targets_warn_or_refuse_as_runtime_check_says() -> None:
    from pytest_mlinfra.runtimes import check_runtime

    for target in ("local", "localstack"):
        notice = check_runtime("python3.8", target, "warn", "3.39.0", explicit=False, today=TODAY)
        assert notice is not None and "refuses it for new functions since 2025-02-28" in notice
        with pytest.raises(MlinfraError, match="mlinfra_runtime_check = warn allows it"):
            check_runtime("python3.8", target, "error", "3.39.0", today=TODAY)


def test_a_runtime_the_selected_provider_rejects_is_one_line_before_apply() -> None:
    from pytest_mlinfra.runtimes import check_runtime

    with pytest.raises(MlinfraError) as caught:
        check_runtime("python3.12", "local", "warn", "3.39.0", today=TODAY)
    assert str(caught.value) == (
        "Lambda runtime python3.12 is not accepted by hashicorp/aws 3.39.0, which init selected (the "
        "provider validates runtime itself; python3.12 needs >= 5.27.0). require hashicorp/aws >= 5.27.0 "
        "in required_providers, or set --mlinfra-runtime (ini mlinfra_runtime) to a runtime that provider "
        "accepts; nothing was deployed"
    )
    assert check_runtime("nodejs20.x", "local", "warn", "3.39.0", today=TODAY) is None  # not ours to judge


def test_explicit_blocked_runtime_on_aws_is_refused_at_start_up() -> None:
    with pytest.raises(MlinfraError, match=r"refuses it for new functions .* \(target aws\)"):
        Settings(runtime="python3.8", target="aws").validate()  # before the opt-in is even asked


def test_runtime_choice_says_why() -> None:
    from pytest_mlinfra.runtimes import RuntimeChoice

    assert RuntimeChoice("python3.8", "3.39.0", explicit=False).describe(TODAY) == (
        "Lambda runtime python3.8 (the newest hashicorp/aws 3.39.0 accepts; AWS allows none of those for "
        "new functions)"
    )
    assert RuntimeChoice("python3.13", "5.80.0", explicit=False).describe(TODAY) == (
        "Lambda runtime python3.13 (the newest hashicorp/aws 5.80.0 accepts that AWS allows for new "
        "functions)"
    )
    assert "set by --mlinfra-runtime" in RuntimeChoice("python3.7", "3.39.0", explicit=True).describe(TODAY)


def test_wheel_tags_decide_what_a_runtime_loads() -> None:
    from pytest_mlinfra.packages import loads_on

    assert loads_on(["py3-none-any"], "python3.8")
    assert loads_on(["cp311-cp311-manylinux_2_28_x86_64"], "python3.11")
    assert not loads_on(["cp311-cp311-manylinux_2_28_x86_64"], "python3.12")
    assert loads_on(["cp38-abi3-manylinux_2_17_x86_64"], "python3.12")
    assert not loads_on(["cp313-abi3-manylinux_2_17_x86_64"], "python3.12")
    assert loads_on([], "python3.12")  # not from a wheel: not judged
